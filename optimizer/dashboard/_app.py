"""The dashboard's answers, independent of HTTP: one method per page and JSON document."""

from __future__ import annotations

from typing import Any

from optimizer.dashboard._data import DashboardData, StudyStatus
from optimizer.dashboard._importance import ImportanceCache
from optimizer.dashboard._pages import Pages
from optimizer.dashboard._replay import ReplayCache
from optimizer.dashboard._views import (
    failed_view,
    leaderboard_view,
    points_view,
    studies_view,
    summary_view,
    trial_view,
)
from optimizer.storage._readonly import make_readonly_engine, readonly_url, shown_url

__all__ = ["Conflict", "DashboardApp", "NotFound"]


class NotFound(LookupError):
    """A study, trial or page that does not exist (answered with 404)."""


class Conflict(Exception):
    """A request that the resource's state does not allow, e.g. replaying a failed trial
    (answered with 409)."""


class DashboardApp:
    """Reads one storage read-only and answers the pages' requests.

    ``storage`` is the storage URL; ``storage_arg`` is what the user passed as
    ``--storage`` (None for the default), repeated in the replay commands shown.
    """

    def __init__(self, storage: str, storage_arg: str | None = None) -> None:
        self.storage = storage
        # Shown in the pages and the replay commands, so never with a password.
        self.storage_arg = None if storage_arg is None else shown_url(storage_arg)
        url = readonly_url(storage)
        self.data = DashboardData(make_readonly_engine(url))
        self.importances = ImportanceCache(url)
        self.replays = ReplayCache()
        self.pages = Pages(shown_url(storage))

    def close(self) -> None:
        """Closes every database connection."""
        self.data.close()
        self.importances.close()

    def _status(self, name: str) -> StudyStatus:
        status = self.data.status(name)
        if status is None:
            raise NotFound(f"no study named {name!r}")
        return status

    # --- pages ---------------------------------------------------------------------

    def study_page(self, name: str) -> bytes:
        """Returns the study page; raises :class:`NotFound` for an unknown study."""
        self._status(name)
        return self.pages.study(name)

    def trial_page(self, name: str, number: int) -> bytes:
        """Returns the trial page; raises :class:`NotFound` for an unknown study or trial."""
        status = self._status(name)
        if self.data.trial(status.study, number) is None:
            raise NotFound(f"no trial {number} in study {name!r}")
        return self.pages.trial(name, number)

    # --- JSON ----------------------------------------------------------------------

    def studies(self) -> dict[str, Any]:
        """Returns the studies list."""
        entries = [(s, self.data.leader(s)) for s in self.data.statuses()]
        return studies_view(entries)

    def summary(self, name: str) -> dict[str, Any]:
        """Returns a study's header (polled by the study page)."""
        status = self._status(name)
        return summary_view(status, self.data.snapshot(status))

    def leaderboard(
        self, name: str, *, sort: str, order: str, page: int, size: int
    ) -> dict[str, Any]:
        """Returns one leaderboard page."""
        status = self._status(name)
        return leaderboard_view(
            status, self.data.snapshot(status), sort=sort, order=order, page=page, size=size
        )

    def points(self, name: str) -> dict[str, Any]:
        """Returns the chart data of a study."""
        status = self._status(name)
        return points_view(status, self.data.snapshot(status))

    def failed(self, name: str) -> dict[str, Any]:
        """Returns a study's failed trials."""
        status = self._status(name)
        return failed_view(self.data.snapshot(status))

    def importance(self, name: str) -> dict[str, Any]:
        """Returns the parameter importances of a study."""
        return self.importances.get(self._status(name))

    def trial(self, name: str, number: int) -> dict[str, Any]:
        """Returns one trial's details."""
        status = self._status(name)
        trial = self.data.trial(status.study, number)
        if trial is None:
            raise NotFound(f"no trial {number} in study {name!r}")
        ranked = self.data.snapshot(status).rank_of(number)
        return trial_view(status, trial, ranked, self.storage_arg)

    def replay(self, name: str, number: int) -> dict[str, Any]:
        """Returns the equity, drawdown and trades of a completed trial (replayed once)."""
        status = self._status(name)
        trial = self.data.trial(status.study, number)
        if trial is None:
            raise NotFound(f"no trial {number} in study {name!r}")
        if trial.state != "COMPLETE":
            reason = (
                f": {trial.error_category}: {trial.error_message}" if trial.state == "FAIL" else ""
            )
            raise Conflict(f"trial {number} is {trial.state}{reason}; nothing to replay")
        return self.replays.get(name, trial)
