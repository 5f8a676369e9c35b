"""Parameter importance from the Optuna study stored in the same database.

Computed with :func:`optuna.importance.get_param_importances` (Optuna's default
evaluator) over the study's completed Optuna trials, through a read-only
:class:`~optuna.storages.RDBStorage`. Results are cached per study and recomputed at
most every :data:`MIN_INTERVAL_S` seconds while a sweep adds trials.
"""

from __future__ import annotations

import threading
import time
import warnings
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from optimizer.dashboard._data import StudyStatus
from optimizer.storage._readonly import readonly_engine_kwargs

__all__ = ["MIN_INTERVAL_S", "MIN_TRIALS", "ImportanceCache"]

#: Completed trials needed before importances mean anything.
MIN_TRIALS = 4

#: Shortest time between two computations for one study.
MIN_INTERVAL_S = 10.0


class ImportanceCache:
    """Computes and caches parameter importances per study."""

    def __init__(self, url: str) -> None:
        #: The read-only storage URL (see :func:`optimizer.storage._readonly.readonly_url`).
        self.url = url
        self._storage: Any = None
        self._lock = threading.Lock()
        # name -> (version, when, seconds it took, view)
        self._cache: dict[str, tuple[str, float, float, dict[str, Any]]] = {}
        # Loaded Optuna studies: Optuna caches their finished trials, so a later
        # computation reads only the trials added since (the first load of 10,000
        # trials takes seconds, a reload milliseconds).
        self._studies: dict[str, Any] = {}

    def _optuna_storage(self) -> Any:
        if self._storage is None:
            from optuna.storages import RDBStorage

            # No table creation, no schema check: both would write.
            self._storage = RDBStorage(
                self.url,
                engine_kwargs=readonly_engine_kwargs(self.url),
                skip_compatibility_check=True,
                skip_table_creation=True,
            )
        return self._storage

    def get(self, status: StudyStatus) -> dict[str, Any]:
        """Returns ``{"status": "ok", "importances": [...], "trials": n}``, or a status
        ``too_few`` / ``unavailable`` with a message for the page."""
        name = status.study.name
        with self._lock:
            cached = self._cache.get(name)
            now = time.monotonic()
            if cached is not None:
                version, when, took, view = cached
                # While a sweep runs, recompute at most every MIN_INTERVAL_S, and never
                # spend more than a fifth of the time on it; once it ended, at once. The
                # Optuna mirror may lag the results tables by a batch: until it caught up,
                # an unchanged study is looked at again (throttled too).
                throttled = now - when < max(MIN_INTERVAL_S, 5 * took)
                caught_up = view.get("trials", 0) >= status.counts.get("COMPLETE", 0)
                if version == status.version and (caught_up or throttled):
                    return view
                if status.running and throttled:
                    return view
            view = self._compute(name)
            self._cache[name] = (status.version, now, time.monotonic() - now, view)
            return view

    def _compute(self, name: str) -> dict[str, Any]:
        import optuna
        from optuna.trial import TrialState

        try:
            study = self._studies.get(name)
            if study is None:
                study = optuna.load_study(
                    study_name=name,
                    storage=self._optuna_storage(),
                    sampler=optuna.samplers.RandomSampler(seed=0),
                )
                self._studies[name] = study
            complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        except KeyError:
            return {"status": "unavailable", "message": "no Optuna study of this name yet"}
        except SQLAlchemyError as exc:  # e.g. a database without Optuna's tables
            return {"status": "unavailable", "message": f"cannot read the Optuna study ({exc})"}
        if len(complete) < MIN_TRIALS:
            return {
                "status": "too_few",
                "trials": len(complete),
                "message": f"needs at least {MIN_TRIALS} completed trials with an objective "
                f"value (the Optuna study has {len(complete)})",
            }
        try:
            with warnings.catch_warnings():
                # e.g. too few trials above PED-ANOVA's quantile: the numbers still stand.
                warnings.simplefilter("ignore")
                importances = optuna.importance.get_param_importances(study)
        except (ValueError, RuntimeError) as exc:
            return {"status": "unavailable", "trials": len(complete), "message": str(exc)}
        return {
            "status": "ok",
            "trials": len(complete),
            "evaluator": "optuna.importance.get_param_importances (default evaluator)",
            "importances": [
                {"path": path, "value": float(value)} for path, value in importances.items()
            ],
        }

    def close(self) -> None:
        """Closes the Optuna storage's connections."""
        if self._storage is not None:
            self._storage.engine.dispose()
