"""Asks a batch of trials from a sampler whose state is a pure function of its inputs.

OPTIMIZER §3: the driver owns sampling. For batch ``b`` a fresh in-memory Optuna study
receives the told history (every finished trial numbered below the batch, in number
order, with the sampler's system attributes) and a fresh sampler seeded with
``sampler_seed(study.seed, b)``; then the batch's trials are asked one after another.
Nothing depends on timing or on how many workers evaluate the batch, and a resumed
sweep asks exactly the same trials as an uninterrupted one.

:func:`ask_batch` is that definition, written out. :class:`BatchAsker` is what the
driver uses: it gives the same trials without rebuilding the study every batch (which
copied the whole history each time, quadratic in the number of trials). It keeps one
in-memory study for the whole sweep, asks each batch in it with a fresh sampler seeded
as above, and turns the asked trials into told ones in place (state, value, and the
system attributes as their JSON round trip through the results tables gives them), so
the sampler sees what a study rebuilt from the results tables would hold. It rebuilds
from the results tables only when its study is not exactly "every trial below the
batch, told" (the first batch of a resumed sweep, a skipped finished batch), and for
samplers that keep state in the study itself (NSGA-II caches its parent populations in
the study's system attributes, so it gets a fresh study per batch, from an in-memory
history). A history-free sampler (random) needs no study at all: its trials are drawn
straight from the seeded sampler, the calls Optuna's ``ask`` makes for it, once
:func:`draws_match_ask` has confirmed that this gives what ``ask_batch`` asks.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState

from optimizer.samplers import make_sampler
from optimizer.search_space import ParamSpec
from optimizer.seeds import sampler_seed
from optimizer.study_file import SamplerSpec

__all__ = ["HISTORY_FREE_SAMPLERS", "AskedTrial", "BatchAsker", "ask_batch", "draws_match_ask"]


@dataclass(frozen=True)
class AskedTrial:
    """One asked trial: its number, parameters and the sampler's system attributes."""

    number: int
    params: dict[str, Any]
    sampler_attrs: dict[str, Any]


def ask_batch(
    *,
    sampler: SamplerSpec,
    space: Sequence[ParamSpec],
    direction: str,
    history: Sequence[FrozenTrial],
    study_seed: int | None,
    batch: int,
    size: int,
) -> list[AskedTrial]:
    """Returns the ``size`` trials of batch ``batch``, asked after ``history``.

    The sampler is seeded with ``sampler_seed(study_seed, batch)``, except the grid
    sampler: its seed only shuffles the grid, and grid point ``k`` must mean the same
    parameters in every batch, so it takes ``sampler_seed(study_seed, 0)`` throughout.
    Without a study seed (prod) the sampler is unseeded.
    """
    seed: int | None = None
    if study_seed is not None:
        seed = sampler_seed(study_seed, 0 if sampler.name == "grid" else batch)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "new study in memory" lines
    try:
        return _ask(sampler, space, direction, history, seed, size)
    finally:
        optuna.logging.set_verbosity(verbosity)


def _ask(
    sampler: SamplerSpec,
    space: Sequence[ParamSpec],
    direction: str,
    history: Sequence[FrozenTrial],
    seed: int | None,
    size: int,
) -> list[AskedTrial]:
    with warnings.catch_warnings():
        # Options are validated by the study file; Optuna's experimental flags on them
        # (e.g. TPE's constant_liar in some versions) are accepted on purpose.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = optuna.create_study(
            storage=optuna.storages.InMemoryStorage(),
            sampler=make_sampler(sampler, seed, space),
            direction="minimize" if direction == "minimize" else "maximize",
        )
        study.add_trials(history)
        distributions = {p.path: p.distribution() for p in space}
        for _ in range(size):
            study.ask(fixed_distributions=distributions)
    asked = study.get_trials(deepcopy=True, states=(TrialState.RUNNING,))
    return [
        AskedTrial(number=t.number, params=dict(t.params), sampler_attrs=dict(t.system_attrs))
        for t in sorted(asked, key=lambda t: t.number)
    ]


#: Samplers whose suggestions do not depend on the told history (only on their seed and
#: the order of the calls), so the driver may ask batch b+1 before batch b is told.
HISTORY_FREE_SAMPLERS = frozenset({"random"})


class RandomDraws:
    """Optuna's ``RandomSampler`` written out: the same numbers from the same seed.

    For each parameter in order, ``RandomSampler.sample_independent`` builds the
    one-parameter search-space transform (bounds widened by half a step for a stepped
    entry, in log space for a log entry, one [0, 1) column per choice), draws
    ``rng.uniform(low, high)`` over its columns (``low + (high - low) * u`` per column,
    with ``u = rng.random_sample()`` in column order) and maps the draw back (rounded to
    the step and clipped, exponentiated, the choice of the largest column). Building those
    transforms with NumPy was most of the cost of a random sweep's asking; here the bounds
    are computed once per search space and the arithmetic is float arithmetic, the same
    IEEE operations in the same order. :func:`draws_match_ask` checks against Optuna's
    own ``ask`` before this is used.
    """

    def __init__(self, distributions: Mapping[str, BaseDistribution]) -> None:
        # Per parameter: its bounds, and its one value when it has one (ask takes it and
        # draws nothing), worked out once rather than per trial.
        self._columns = [
            (path, _bounds(d), d, isinstance(d, CategoricalDistribution), _single_value(d))
            for path, d in distributions.items()
        ]

    def draw(self, rng: np.random.RandomState) -> dict[str, Any]:
        """Returns one trial's parameters, drawn from ``rng``."""
        params: dict[str, Any] = {}
        for path, bounds, distribution, categorical, single in self._columns:
            value: Any
            if single is not None:
                (value,) = single
            elif categorical:
                draws = [low + (high - low) * rng.random_sample() for low, high in bounds]
                value = distribution.choices[draws.index(max(draws))]  # type: ignore[attr-defined]
            else:
                ((low, high),) = bounds
                value = _untransform(low + (high - low) * rng.random_sample(), distribution)
            # As ask returns it: through the internal representation (a float for an int,
            # the first equal choice for a choice) and back.
            params[path] = distribution.to_external_repr(distribution.to_internal_repr(value))
        return params


def _single_value(distribution: BaseDistribution) -> tuple[Any] | None:
    """Returns the one value of a parameter that has only one (in a 1-tuple), else None."""
    if not distribution.single():
        return None
    if isinstance(distribution, CategoricalDistribution):
        return (distribution.choices[0],)
    return (distribution.low,)  # type: ignore[attr-defined]


def _bounds(distribution: BaseDistribution) -> list[tuple[float, float]]:
    """Returns the transformed bounds of one parameter's columns, as Optuna's
    ``_SearchSpaceTransform`` (log and step transforms on) computes them."""
    d = distribution
    if isinstance(d, CategoricalDistribution):
        return [(0.0, 1.0)] * len(d.choices)
    if isinstance(d, FloatDistribution):
        low, high = (math.log(d.low), math.log(d.high)) if d.log else (float(d.low), float(d.high))
        half = 0.5 * d.step if d.step is not None else 0.0
        return [(low - half, high + half)]
    if isinstance(d, IntDistribution):
        half = 0.5 * d.step
        if d.log:
            return [(math.log(d.low - half), math.log(d.high + half))]
        return [(float(d.low) - half, float(d.high) + half)]
    raise TypeError(f"no random draw for {type(d).__name__}")


def _untransform(value: float, d: BaseDistribution) -> int | float:
    """Maps a drawn number back to a parameter value, as Optuna's
    ``_untransform_numerical_param`` does."""
    if isinstance(d, FloatDistribution):
        # Optuna's np.nextafter(high, high - 1): high itself where high - 1 == high.
        below_high = math.nextafter(d.high, d.high - 1)
        if d.log:
            param = math.exp(value)
            if not d.single():
                param = min(max(param, d.low), below_high)
        elif d.step is not None:
            stepped = round((value - d.low) / d.step, 0) * d.step + d.low
            param = min(max(stepped, d.low), d.high)
        else:
            param = value if d.single() else min(value, below_high)
        return float(param)
    assert isinstance(d, IntDistribution)
    if d.log:
        param = round(math.exp(value))
    else:
        param = math.floor((value - d.low) / d.step + 0.5) * d.step + d.low
    return int(min(max(param, d.low), d.high))


def _random_state(seed: int | None) -> np.random.RandomState:
    """Returns the NumPy state that ``RandomSampler(seed=seed)`` draws from."""
    return np.random.RandomState(seed)


def draws_match_ask(sampler: SamplerSpec, space: Sequence[ParamSpec]) -> bool:
    """Tells whether :class:`RandomDraws` gives exactly what :func:`ask_batch` asks, for
    this Optuna version and search space: three probe batches of 8 trials must agree in
    number, parameters and system attributes.

    The direct draw skips Optuna's per-trial bookkeeping (a trial in a study, a
    distribution check and a search-space transform per parameter), nearly all of the
    cost of an ask.
    """
    if sampler.name != "random":
        return False
    distributions = {p.path: p.distribution() for p in space}
    try:
        draws = RandomDraws(distributions)
    except TypeError:
        return False
    for batch in (0, 1, 2):
        asked = ask_batch(
            sampler=sampler,
            space=space,
            direction="maximize",
            history=[],
            study_seed=0,
            batch=batch,
            size=8,
        )
        rng = _random_state(sampler_seed(0, batch))
        drawn = [AskedTrial(number=i, params=draws.draw(rng), sampler_attrs={}) for i in range(8)]
        if asked != drawn or any(
            type(asked_value) is not type(drawn_value)
            for a, d in zip(asked, drawn, strict=True)
            for asked_value, drawn_value in zip(a.params.values(), d.params.values(), strict=True)
        ):
            return False
    return True


#: Samplers that keep state in the study's own system attributes: they get a fresh
#: study per batch, as :func:`ask_batch` does (NSGA-II caches parent populations there).
_FRESH_STUDY_SAMPLERS = frozenset({"nsga2"})

#: Returns the told trials among the given numbers, by number, as the results tables
#: hold them (``StudyStore.told_trials``).
HistoryLoader = Callable[[Sequence[int]], Mapping[int, FrozenTrial]]


def _json_round_trip(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Returns ``attrs`` as the results tables give them back (a JSON column)."""
    return {key: json.loads(json.dumps(value)) for key, value in attrs.items()}


class BatchAsker:
    """Asks the batches of one sweep from a long-lived in-memory Optuna study.

    ``ask(batch, numbers, history)`` returns exactly what :func:`ask_batch` returns when
    given the told trials numbered ``history`` (in number order) as its history, and
    ``tell`` records the outcome of an asked trial. ``load_history`` reads told trials
    from the results tables; it is called only when the study held here is not already
    that history (the first batch of a sweep that resumes or extends a study, a batch
    that another driver told) and, for samplers in ``_FRESH_STUDY_SAMPLERS``, when the
    in-memory history is not the one asked for.
    """

    def __init__(
        self,
        *,
        sampler: SamplerSpec,
        space: Sequence[ParamSpec],
        direction: str,
        study_seed: int | None,
        load_history: HistoryLoader,
    ) -> None:
        self._spec = sampler
        self._space = tuple(space)
        self._direction: Literal["minimize", "maximize"] = (
            "minimize" if direction == "minimize" else "maximize"
        )
        self._study_seed = study_seed
        self._load_history = load_history
        self._distributions = {p.path: p.distribution() for p in space}
        self._study: optuna.Study | None = None
        #: Our trial number of each trial in the study, in the study's order.
        self._numbers: list[int] = []
        #: Asked, not yet told: our trial number -> the in-memory trial id.
        self._open: dict[int, int] = {}
        #: The told trials of ``_numbers`` (fresh-study samplers only).
        self._history: list[FrozenTrial] = []
        #: Whether trials are drawn straight from the sampler; None until checked.
        self._direct: bool | None = None
        #: The direct draws, once checked.
        self._draws: RandomDraws | None = None
        #: The NumPy state of the direct draws, reseeded for each batch.
        self._rng: np.random.RandomState | None = None

    def _reseeded_state(self, seed: int | None) -> np.random.RandomState:
        """Returns the NumPy state that ``RandomSampler(seed=seed)`` draws from: this
        asker's one state, reseeded (the same numbers as a new ``RandomState(seed)``, at
        about 2% of the cost of making one)."""
        if self._rng is None:
            self._rng = _random_state(seed)
        else:
            self._rng.seed(seed)
        return self._rng

    @property
    def history_free(self) -> bool:
        """Tells whether a batch may be asked before the previous one is told."""
        return self._spec.name in HISTORY_FREE_SAMPLERS

    def ask(
        self,
        batch: int,
        numbers: Sequence[int],
        history: Sequence[int],
        on_asked: Callable[[int, AskedTrial], None] | None = None,
    ) -> list[AskedTrial]:
        """Returns the trials of batch ``batch`` (one per entry of ``numbers``, our trial
        numbers) asked after the told trials numbered ``history``; ``on_asked`` gets each
        one (its index in the batch, the trial) as soon as it is asked.

        ``AskedTrial.number`` is the number Optuna gave the trial, as in :func:`ask_batch`.
        """
        seed: int | None = None
        if self._study_seed is not None:
            seed = sampler_seed(self._study_seed, 0 if self._spec.name == "grid" else batch)
        asked: list[AskedTrial] = []

        def take(trial: AskedTrial) -> None:
            if on_asked is not None:
                on_asked(len(asked), trial)
            asked.append(trial)

        draws = self._direct_draws()
        if draws is not None:
            rng = self._reseeded_state(seed)
            for index in range(len(numbers)):
                take(AskedTrial(len(history) + index, draws.draw(rng), sampler_attrs={}))
            return asked
        verbosity = optuna.logging.get_verbosity()
        if verbosity < optuna.logging.WARNING:  # no "new study in memory" lines
            optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            with warnings.catch_warnings():
                # As in _ask: Optuna's experimental flags on validated options are fine.
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                study = self._study_for(sorted(history))
                study.sampler = make_sampler(self._spec, seed, self._space)
                for number in numbers:
                    trial_id = study.ask(fixed_distributions=self._distributions)._trial_id
                    trial = study._storage.get_trial(trial_id)
                    self._numbers.append(number)
                    self._open[number] = trial_id
                    take(
                        AskedTrial(
                            number=trial.number,
                            params=dict(trial.params),
                            sampler_attrs=dict(trial.system_attrs),
                        )
                    )
        finally:
            if verbosity < optuna.logging.WARNING:
                optuna.logging.set_verbosity(verbosity)
        return asked

    def tell(
        self,
        number: int,
        state: TrialState,
        value: float | None,
        ran: tuple[Mapping[str, Any], Mapping[str, Any]] | None = None,
    ) -> None:
        """Records the outcome of asked trial ``number``: COMPLETE with ``value``, or FAIL.

        The trial becomes what the results tables give back for it: the same state and
        value, and its system attributes after a JSON round trip. (Samplers read a told
        trial's number, state, values, params, distributions and system attributes;
        its user attributes and times, which differ, are not read.) ``ran`` is the
        stored (params, sampler attributes) of a trial that ran with what was stored
        before this ask: a prod trial started again after a kill, whose unseeded sampler
        re-asked other parameters. The trial then holds those instead.
        """
        if self._direct_draws() is not None:
            return  # the draws never depend on the history
        assert self._study is not None
        storage = self._study._storage
        trial_id = self._open.pop(number)
        if ran is not None and dict(ran[0]) != storage.get_trial(trial_id).params:
            params, sampler_attrs = ran
            for path, param in params.items():
                distribution = self._distributions[path]
                internal = distribution.to_internal_repr(param)
                storage.set_trial_param(trial_id, path, internal, distribution)
            for key, attr in sampler_attrs.items():
                storage.set_trial_system_attr(trial_id, key, attr)
        attrs = storage.get_trial(trial_id).system_attrs
        for key, stored in _json_round_trip(attrs).items():
            if type(stored) is not type(attrs[key]) or stored != attrs[key]:
                storage.set_trial_system_attr(trial_id, key, stored)
        values = [value] if state == TrialState.COMPLETE and value is not None else None
        storage.set_trial_state_values(trial_id, state, values)
        if self._spec.name in _FRESH_STUDY_SAMPLERS:
            trial = storage.get_trial(trial_id)
            self._history.append(
                optuna.trial.create_trial(
                    state=trial.state,
                    values=trial.values,
                    params=dict(trial.params),
                    distributions=dict(trial.distributions),
                    system_attrs=dict(trial.system_attrs),
                )
            )

    def _direct_draws(self) -> RandomDraws | None:
        """Returns the :class:`RandomDraws` that trials are drawn with, or None when they
        are asked from Optuna (see :func:`draws_match_ask`; checked once per asker)."""
        if self._direct is None:
            self._direct = self.history_free and draws_match_ask(self._spec, self._space)
            if self._direct:
                self._draws = RandomDraws(self._distributions)
        return self._draws

    def discard(self) -> None:
        """Forgets the study (asked trials that will never be told): the next ask
        rebuilds it from the results tables."""
        self._study = None
        self._numbers = []
        self._open = {}
        self._history = []

    def _study_for(self, history: list[int]) -> optuna.Study:
        """Returns a study that holds the told trials ``history`` in number order (and,
        for a history-free sampler, may hold asked trials not told yet after them)."""
        if self._spec.name in _FRESH_STUDY_SAMPLERS:
            if self._open or self._numbers != history:
                self._numbers, self._history = self._loaded(history)
            self._open = {}
            self._study = self._fresh(self._history)
            return self._study
        study = self._study
        if study is not None and self.history_free and len(self._numbers) == len(history):
            # Its suggestions ignore the trials; Optuna numbers the next one as ask_batch
            # would. (So the next batch may be asked before this one is told.)
            return study
        if study is not None:
            told = [n for n in self._numbers if n not in self._open]
            if not self._open and told == history:
                return study
            have = len(self._numbers)
            if not self._open and self._numbers == history[:have]:
                numbers, missing = self._loaded(history[have:])
                if len(missing) == len(history) - have:
                    study.add_trials(missing)
                    self._numbers.extend(numbers)
                    return study
        self._numbers, loaded = self._loaded(history)
        self._open = {}
        self._study = self._fresh(loaded)
        return self._study

    def _loaded(self, numbers: Sequence[int]) -> tuple[list[int], list[FrozenTrial]]:
        """Returns the told trials among ``numbers`` from the results tables, in order,
        and their numbers."""
        told = self._load_history(numbers) if numbers else {}
        found = [n for n in numbers if n in told]
        return found, [told[n] for n in found]

    def _fresh(self, history: Sequence[FrozenTrial]) -> optuna.Study:
        study = optuna.create_study(
            storage=optuna.storages.InMemoryStorage(),
            sampler=optuna.samplers.RandomSampler(seed=0),  # replaced before every ask
            direction=self._direction,
        )
        study.add_trials(history)
        return study
