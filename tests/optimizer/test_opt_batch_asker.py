"""The driver's long-lived sampler study asks exactly what ``ask_batch`` asks.

``ask_batch`` is the definition (a fresh study per batch, rebuilt from the told history);
``BatchAsker`` keeps one in-memory study for the whole sweep and is told incrementally.
Whatever the path (one asker throughout, a new asker that loads the history, a history
with gaps as several drivers leave it), the asked trials must be identical.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState
from test_opt_sampling import SAMPLERS, _objective, _space

from optimizer.sampling import (
    HISTORY_FREE_SAMPLERS,
    AskedTrial,
    BatchAsker,
    HistoryLoader,
    RandomDraws,
    ask_batch,
    draws_match_ask,
)
from optimizer.study_file import SamplerSpec

SEED = 1000


def _told(asked: AskedTrial, distributions: dict[str, Any]) -> FrozenTrial:
    """Returns an asked trial as the results tables give it back (every 5th one failed)."""
    failed = asked.number % 5 == 4
    return optuna.trial.create_trial(
        state=TrialState.FAIL if failed else TrialState.COMPLETE,
        value=None if failed else _objective(asked.params),
        params=asked.params,
        distributions=distributions,
        system_attrs=json.loads(json.dumps(asked.sampler_attrs)),
    )


def _reference(
    name: str, options: dict[str, Any], plan: Sequence[tuple[list[int], list[int]]]
) -> list[AskedTrial]:
    """Asks every (numbers, history) batch of ``plan`` with ``ask_batch``."""
    space = _space(name)
    distributions = {p.path: p.distribution() for p in space}
    stored: dict[int, FrozenTrial] = {}
    out = []
    for batch, (numbers, history) in enumerate(plan):
        asked = ask_batch(
            sampler=SamplerSpec(name, options),
            space=space,
            direction="maximize",
            history=[stored[n] for n in history],
            study_seed=SEED,
            batch=batch,
            size=len(numbers),
        )
        for number, trial in zip(numbers, asked, strict=True):
            stored[number] = _told(trial, distributions)
        out.extend(asked)
    return out


def _incremental(
    name: str,
    options: dict[str, Any],
    plan: Sequence[tuple[list[int], list[int]]],
    restart_at: Sequence[int] = (),
) -> tuple[list[AskedTrial], list[int]]:
    """Asks ``plan`` with a BatchAsker (a new one at each batch of ``restart_at``);
    returns the asked trials and how many trials were loaded from "storage"."""
    space = _space(name)
    distributions = {p.path: p.distribution() for p in space}
    stored: dict[int, FrozenTrial] = {}
    loads: list[int] = []

    def load(numbers: Sequence[int]) -> Mapping[int, FrozenTrial]:
        loads.append(len(numbers))
        return {n: stored[n] for n in numbers if n in stored}

    def new() -> BatchAsker:
        return BatchAsker(
            sampler=SamplerSpec(name, options),
            space=space,
            direction="maximize",
            study_seed=SEED,
            load_history=load,
        )

    asker = new()
    out = []
    for batch, (numbers, history) in enumerate(plan):
        if batch in restart_at:
            asker = new()
        asked = asker.ask(batch, numbers, history)
        for number, trial in zip(numbers, asked, strict=True):
            told = _told(trial, distributions)
            stored[number] = told
            value = told.value if told.state == TrialState.COMPLETE else None
            asker.tell(number, told.state, value)
        out.extend(asked)
    return out, loads


def _sequential(batches: int, size: int) -> list[tuple[list[int], list[int]]]:
    return [(list(range(b * size, (b + 1) * size)), list(range(b * size))) for b in range(batches)]


def _same(one: Sequence[AskedTrial], other: Sequence[AskedTrial], name: str) -> bool:
    """Compares asked trials; CMA-ES's pickled optimizer in its system attributes holds
    bytes of uninitialized NumPy memory (``np.empty``), so only its params are compared."""
    if name == "cmaes":
        return [(a.number, a.params) for a in one] == [(a.number, a.params) for a in other]
    return list(one) == list(other)


@pytest.mark.parametrize(("name", "options"), SAMPLERS)
def test_incremental_asking_equals_a_fresh_study_per_batch(
    name: str, options: dict[str, Any]
) -> None:
    plan = _sequential(6, 3) if name != "grid" else _sequential(5, 2)
    reference = _reference(name, options, plan)
    asked, loads = _incremental(name, options, plan)
    assert _same(asked, reference, name)
    if name != "nsga2":
        assert loads == []  # never read back from storage
    resumed, loads = _incremental(name, options, plan, restart_at=(2, 4))
    assert _same(resumed, reference, name)
    if name in HISTORY_FREE_SAMPLERS:
        assert loads == []  # drawn straight from the sampler: the history is never read
    elif name != "nsga2":
        assert loads == [len(plan[2][1]), len(plan[4][1])]  # one rebuild per restart


@pytest.mark.parametrize("name", sorted(HISTORY_FREE_SAMPLERS))
def test_a_history_free_sampler_is_drawn_directly_as_optuna_asks(name: str) -> None:
    # The direct draw is checked against ask_batch for the installed Optuna; it must hold
    # here, or the driver would silently fall back to Optuna's slower ask.
    space = _space(name)
    assert draws_match_ask(SamplerSpec(name, {}), space)
    asker = BatchAsker(
        sampler=SamplerSpec(name, {}),
        space=space,
        direction="maximize",
        study_seed=SEED,
        load_history=lambda numbers: {},
    )
    asker.ask(0, [0, 1], [])
    assert asker._direct is True


@pytest.mark.parametrize("name", ["tpe", "random", "cmaes"])
def test_a_history_with_gaps_is_asked_as_given(name: str) -> None:
    # As several drivers leave it: batch 2 is asked while batch 1 is held elsewhere, then
    # batch 3 after all of 0..2; batch 1 is told by "another driver" in between.
    options = dict(SAMPLERS)[name]
    plan = [
        ([0, 1, 2], []),
        ([3, 4, 5], [0, 1, 2]),
        ([6, 7, 8], [0, 1, 2]),
        ([9, 10, 11], list(range(9))),
    ]
    reference = _reference(name, options, plan)
    asked, _ = _incremental(name, options, plan)
    assert [a.params for a in asked] == [a.params for a in reference]


def _tpe_asker(startup: int, load: HistoryLoader) -> BatchAsker:
    """Returns a seeded TPE asker over the test space that loads its history with ``load``."""
    return BatchAsker(
        sampler=SamplerSpec("tpe", {"n_startup_trials": startup}),
        space=_space("tpe"),
        direction="maximize",
        study_seed=SEED,
        load_history=load,
    )


def _tpe_batch(
    startup: int, history: Sequence[FrozenTrial], batch: int, size: int, seed: int = SEED
) -> list[AskedTrial]:
    """Returns what ``ask_batch`` asks of TPE over the test space after ``history``."""
    return ask_batch(
        sampler=SamplerSpec("tpe", {"n_startup_trials": startup}),
        space=_space("tpe"),
        direction="maximize",
        history=history,
        study_seed=seed,
        batch=batch,
        size=size,
    )


def test_a_batch_that_is_never_told_is_dropped() -> None:
    # A claim lost to another driver: the asked batch is neither run nor told here.
    distributions = {p.path: p.distribution() for p in _space("tpe")}
    stored: dict[int, FrozenTrial] = {}
    asker = _tpe_asker(2, lambda numbers: {n: stored[n] for n in numbers if n in stored})
    for batch in range(2):
        numbers = [batch * 2, batch * 2 + 1]
        for number, trial in zip(
            numbers, asker.ask(batch, numbers, list(range(batch * 2))), strict=True
        ):
            stored[number] = _told(trial, distributions)
            asker.tell(number, stored[number].state, stored[number].value)
    asker.ask(2, [4, 5], [0, 1, 2, 3])  # lost: never told
    again = asker.ask(2, [4, 5], [0, 1, 2, 3])
    assert again == _tpe_batch(2, [stored[n] for n in range(4)], batch=2, size=2)


def test_a_trial_that_ran_with_stored_parameters_is_told_with_them() -> None:
    # A prod trial started again after a kill runs its stored config, while the unseeded
    # sampler re-asked other parameters: the sampler study must learn what ran.
    distributions = {p.path: p.distribution() for p in _space("tpe")}
    asker = _tpe_asker(4, lambda numbers: {})
    other = _tpe_batch(4, [], batch=0, size=4, seed=SEED + 1)
    stored = {}
    for asked, ran in zip(asker.ask(0, [0, 1, 2, 3], []), other, strict=True):
        assert asked.params != ran.params
        stored[asked.number] = _told(ran, distributions)
        told = stored[asked.number]
        value = told.value if told.state == TrialState.COMPLETE else None
        asker.tell(asked.number, told.state, value, (ran.params, ran.sampler_attrs))
    reference = _tpe_batch(4, [stored[n] for n in range(4)], batch=1, size=4)
    assert asker.ask(1, [4, 5, 6, 7], [0, 1, 2, 3]) == reference


def test_a_history_free_sampler_asks_ahead_and_a_wrong_guess_is_discarded() -> None:
    # The driver asks batch b+1 of a random sweep before batch b is told; a guess that
    # the scan does not confirm is discarded and the batch asked again from storage.
    space = _space("random")
    distributions = {p.path: p.distribution() for p in space}
    stored: dict[int, FrozenTrial] = {}
    asker = BatchAsker(
        sampler=SamplerSpec("random", {}),
        space=space,
        direction="maximize",
        study_seed=SEED,
        load_history=lambda numbers: {n: stored[n] for n in numbers if n in stored},
    )
    assert asker.history_free
    first = asker.ask(0, [0, 1], [])
    ahead = asker.ask(1, [2, 3], [0, 1])  # batch 0 not told yet
    for number, trial in zip([0, 1], first, strict=True):
        stored[number] = _told(trial, distributions)
        asker.tell(number, stored[number].state, stored[number].value)
    reference = _reference("random", {}, [([0, 1], []), ([2, 3], [0, 1])])
    assert first + ahead == reference
    asker.discard()  # say the scan planned batch 1 differently
    assert asker.ask(1, [2, 3], [0, 1]) == reference[2:]


@st.composite
def _distributions(draw: st.DrawFn) -> dict[str, BaseDistribution]:
    """Random search spaces: floats (plain, stepped, log), ints (stepped, log), choices."""
    space: dict[str, BaseDistribution] = {}
    for index in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["float", "float_step", "float_log", "int", "int_log", "cat"]))
        low = draw(st.integers(-1000, 1000)) / draw(st.sampled_from([1, 7, 100]))
        if kind == "float":
            # Also past 2**53, where high - 1 == high decides Optuna's clip.
            start = low * draw(st.sampled_from([1.0, 1e16]))
            space[f"p{index}"] = FloatDistribution(start, start + draw(st.floats(1e-6, 1e6)))
        elif kind == "float_step":
            step = draw(st.sampled_from([0.1, 0.25, 0.5, 1.0, 0.01]))
            with warnings.catch_warnings():  # Optuna trims a range the step does not divide
                warnings.simplefilter("ignore", UserWarning)
                space[f"p{index}"] = FloatDistribution(
                    low, low + step * draw(st.integers(1, 50)), step=step
                )
        elif kind == "float_log":
            positive = abs(low) + 1e-3
            space[f"p{index}"] = FloatDistribution(
                positive, positive * draw(st.floats(1.001, 1e6)), log=True
            )
        elif kind == "int":
            # Up to int64 sizes, where the float round trip of ask rounds the value.
            step = draw(st.sampled_from([1, 2, 10, 3**30]))
            start = int(low) * draw(st.sampled_from([1, 10**12]))
            high = start + step * draw(st.integers(1, 40))
            space[f"p{index}"] = IntDistribution(start, high, step=step)
        elif kind == "int_log":
            start = draw(st.integers(1, 100))
            high = start + draw(st.integers(1, 10**6))
            space[f"p{index}"] = IntDistribution(start, high, log=True)
        else:
            choices = draw(
                st.sampled_from([["c0"], ["a", "b", "c"], [1, 2.5, "x", None], [True, 1, 0]])
            )
            space[f"p{index}"] = CategoricalDistribution(choices)
    return space


@settings(max_examples=150, deadline=None)
@given(space=_distributions(), seed=st.integers(0, 2**32 - 1))
def test_random_draws_equal_optunas_random_sampler(
    space: dict[str, BaseDistribution], seed: int
) -> None:
    # RandomDraws writes RandomSampler's arithmetic out; every value, and its type, must
    # be what Optuna's own ask stores (as ask_batch reads it back) for any search space
    # and seed.
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    for _ in range(4):
        study.ask(fixed_distributions=space)
    expected = [trial.params for trial in study.get_trials(deepcopy=False)]
    rng = np.random.RandomState(seed)
    drawn = [RandomDraws(space).draw(rng) for _ in range(4)]
    assert drawn == expected
    assert [[type(v) for v in p.values()] for p in drawn] == [
        [type(v) for v in p.values()] for p in expected
    ]
