"""Search-space entries: validation, Optuna distributions, grids and config paths."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal, TypeGuard

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from optimizer.errors import StudyFileError

__all__ = [
    "MAX_GRID_POINTS",
    "ParamSpec",
    "apply_params",
    "get_path",
    "grid_size",
    "is_finite_number",
    "is_int",
    "set_path",
]

#: The most points a ``sampler: grid`` search space may have. Optuna's grid sampler lists
#: every point when it is made, once per batch: about 0.25 s and 70 MB at this size, ten
#: times that at ten times the size. A larger space is a job for random or TPE.
MAX_GRID_POINTS = 1_000_000

_SPEC_KEYS = {
    "int": ("type", "low", "high", "step", "log"),
    "float": ("type", "low", "high", "step", "log"),
    "categorical": ("type", "choices"),
}


def is_int(value: object) -> TypeGuard[int]:
    """Tells whether ``value`` is an int and not a bool (YAML's true is no count)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_finite_number(value: object) -> bool:
    """Tells whether ``value`` is an int (not a bool) or a float that float64 holds as a
    finite number (an int beyond float64's range is not: 10**400 has no float64)."""
    if isinstance(value, float):
        return math.isfinite(value)
    return is_int(value) and abs(value) <= sys.float_info.max


def _step_count(low: float, high: float, step: float) -> Fraction:
    """Returns ``(high - low) / step`` exactly, from the numbers as written: 1.5..3.5
    step 0.1 is 20 steps, and 0..1e300 step 1e-300 (past Decimal's 28 digits) is 1e600."""
    return (Fraction(str(high)) - Fraction(str(low))) / Fraction(str(step))


def _same_choice(a: object, b: object) -> bool:
    """Tells whether two categorical choices are the same value: numbers by value (20 and
    20.0), anything else by type and value (1 and true differ)."""
    if is_finite_number(a) and is_finite_number(b):
        return a == b
    return type(a) is type(b) and a == b


@dataclass(frozen=True)
class ParamSpec:
    """One search-space entry: a dotted config path and its range or choices."""

    path: str
    type: Literal["int", "float", "categorical"]
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[Any, ...] | None = None

    @classmethod
    def from_mapping(cls, fname: str, path: str, spec: object, current: object) -> ParamSpec:
        """Validates one ``search_space`` entry; ``current`` is the base config's value."""
        key = f"search_space.{path}"
        if not isinstance(spec, dict):
            raise StudyFileError(fname, key, "a mapping such as {type: int, low: 1, high: 9}", spec)
        kind = spec.get("type")
        if not isinstance(kind, str) or kind not in _SPEC_KEYS:
            raise StudyFileError(fname, f"{key}.type", "int, float or categorical", kind)
        for extra in spec:
            if extra not in _SPEC_KEYS[kind]:
                raise StudyFileError(
                    fname, f"{key}.{extra}", f"one of {', '.join(_SPEC_KEYS[kind])} (unknown key)"
                )
        if kind == "categorical":
            return cls._categorical(fname, key, path, spec.get("choices"))
        if current is not None and not is_finite_number(current):
            raise StudyFileError(
                fname, key, f"a numeric field in the base config for type {kind}", current
            )
        return cls._numeric(fname, key, path, kind, spec)

    @classmethod
    def _categorical(cls, fname: str, key: str, path: str, choices: object) -> ParamSpec:
        if not isinstance(choices, list) or not choices:
            raise StudyFileError(fname, f"{key}.choices", "a non-empty list", choices)
        seen: list[Any] = []
        for choice in choices:
            number = is_int(choice) or isinstance(choice, float)
            scalar = choice is None or isinstance(choice, bool | str) or number
            if not scalar or (number and not is_finite_number(choice)):
                raise StudyFileError(
                    fname,
                    f"{key}.choices",
                    "scalars (null, bool, a number float64 holds, string)",
                    choice,
                )
            if any(_same_choice(choice, s) for s in seen):
                raise StudyFileError(fname, f"{key}.choices", "distinct values", choice)
            seen.append(choice)
        return cls(path=path, type="categorical", choices=tuple(choices))

    @classmethod
    def _numeric(
        cls, fname: str, key: str, path: str, kind: str, spec: Mapping[str, Any]
    ) -> ParamSpec:
        check = is_int if kind == "int" else is_finite_number
        what = "an integer" if kind == "int" else "a number"
        for bound in ("low", "high"):
            if bound not in spec:
                raise StudyFileError(fname, f"{key}.{bound}", f"{what} (required)")
            if not check(spec[bound]):
                raise StudyFileError(fname, f"{key}.{bound}", what, spec[bound])
        low, high = spec["low"], spec["high"]
        if low >= high:
            raise StudyFileError(
                fname, key, f"low < high (an empty or inverted range: low {low}, high {high})"
            )
        log = False if spec.get("log") is None else spec["log"]  # null: the default
        if not isinstance(log, bool):
            raise StudyFileError(fname, f"{key}.log", "true or false", log)
        step = spec.get("step")
        if step is not None:
            if not check(step) or step <= 0:
                raise StudyFileError(fname, f"{key}.step", f"{what} > 0", step)
            if log and (kind == "float" or step != 1):
                raise StudyFileError(fname, f"{key}.step", "no step with log: true", step)
            if _step_count(low, high, step).denominator != 1:
                span = Decimal(str(high)) - Decimal(str(low))
                raise StudyFileError(
                    fname, f"{key}.step", f"a step that divides high - low = {span}", step
                )
        if log and low <= 0:
            raise StudyFileError(fname, f"{key}.low", "a number > 0 with log: true", low)
        if kind == "int":
            step = 1 if step is None else step
            return cls(path=path, type="int", low=low, high=high, step=step, log=log)
        return cls(
            path=path,
            type="float",
            low=float(low),
            high=float(high),
            step=None if step is None else float(step),
            log=log,
        )

    def distribution(self) -> BaseDistribution:
        """Returns the Optuna distribution of this entry."""
        if self.type == "categorical":
            return CategoricalDistribution(list(self.choices or ()))
        assert self.low is not None and self.high is not None
        if self.type == "int":
            return IntDistribution(
                int(self.low), int(self.high), log=self.log, step=int(self.step or 1)
            )
        return FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def probe_values(self) -> list[Any]:
        """Returns values that show what kinds of value a sampler may suggest: every
        choice; ``low`` and ``high`` of an int range; ``low``, the next value above it
        (a fraction even when ``low`` is whole) and ``high`` of a float range."""
        if self.type == "categorical":
            return list(self.choices or ())
        assert self.low is not None and self.high is not None
        if self.type == "int":
            return [int(self.low), int(self.high)]
        above = math.nextafter(self.low, self.high) if self.step is None else self.low + self.step
        return [float(self.low), float(above), float(self.high)]

    def value_count(self) -> int | None:
        """Returns how many values this entry has, without listing them, or None when it
        is a continuous range."""
        if self.type == "categorical":
            return len(self.choices or ())
        if self.step is None or (self.log and self.type == "float"):
            return None
        assert self.low is not None and self.high is not None
        return int(_step_count(self.low, self.high, self.step)) + 1

    def grid_values(self) -> list[Any] | None:
        """Returns every value of this entry (:meth:`value_count` of them), or None when
        it is a continuous range."""
        if self.type == "categorical":
            return list(self.choices or ())
        count = self.value_count()
        if count is None:
            return None
        if self.type == "int":
            return list(range(int(self.low), int(self.high) + 1, int(self.step)))  # type: ignore[arg-type]
        low, step = Decimal(str(self.low)), Decimal(str(self.step))
        return [float(low + i * step) for i in range(count)]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParamSpec:
        """Returns the entry that :meth:`to_dict` wrote."""
        if data["type"] == "categorical":
            return cls(path=data["path"], type="categorical", choices=tuple(data["choices"]))
        return cls(
            path=data["path"],
            type=data["type"],
            low=data["low"],
            high=data["high"],
            step=data["step"],
            log=data["log"],
        )

    def to_dict(self) -> dict[str, Any]:
        """Returns the entry as plain data (for fingerprints and the stored study)."""
        if self.type == "categorical":
            return {"path": self.path, "type": "categorical", "choices": list(self.choices or ())}
        return {
            "path": self.path,
            "type": self.type,
            "low": self.low,
            "high": self.high,
            "step": self.step,
            "log": self.log,
        }


def grid_size(fname: str, space: Iterable[ParamSpec]) -> int:
    """Returns the number of points of the full grid, counted without listing them.

    Raises :class:`StudyFileError` unless every entry is discrete and the grid has at
    most :data:`MAX_GRID_POINTS` points (naming the entry that alone has more, else
    ``sampler``).
    """
    size = 1
    for spec in space:
        key = f"search_space.{spec.path}"
        count = spec.value_count()
        if count is None:
            raise StudyFileError(fname, key, "a step (sampler grid needs discrete values)")
        if count > MAX_GRID_POINTS:
            raise StudyFileError(
                fname,
                key,
                f"at most {MAX_GRID_POINTS:,} values for sampler grid (this entry has "
                f"{_amount(count)}; a larger space needs sampler random or tpe)",
            )
        size *= count
    if size > MAX_GRID_POINTS:
        raise StudyFileError(
            fname,
            "sampler",
            f"a grid of at most {MAX_GRID_POINTS:,} points for sampler grid (the search "
            f"space has {_amount(size)}; a larger space needs sampler random or tpe)",
        )
    return size


def _amount(count: int) -> str:
    """Returns a count for a message: exact up to 15 digits, else its order of magnitude
    (a float range with a tiny step may have hundreds of digits)."""
    return f"{count:,}" if count < 10**15 else f"about 10^{len(str(count)) - 1}"


def get_path(config: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    """Returns ``(found, value)`` for a dotted path such as ``strategy.params.z_window``."""
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def set_path(config: dict[str, Any], dotted: str, value: Any) -> None:
    """Sets the value at a dotted path that exists in ``config``."""
    *head, leaf = dotted.split(".")
    node: Any = config
    for part in head:
        node = node[part]
    node[leaf] = value


def apply_params(base: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """Returns ``base`` with every ``path -> value`` of ``params`` set, leaving ``base``
    unchanged.

    Only the objects on the parameters' paths are new (the top level and each dict a
    path goes through, copied once); every other subtree is shared with ``base``. A
    sweep built each trial's config this way instead of deep-copying the whole base
    config, which was a tenth of the driver's time per trial. The result must therefore
    be treated as read-only below its top level, as everything that reads trial configs
    does (they are serialized, stored and sent to the workers).
    """
    config = dict(base)
    copied = {id(config)}
    for path, value in params.items():
        *head, leaf = path.split(".")
        node = config
        for part in head:
            child = node[part]
            if id(child) not in copied:
                child = node[part] = dict(child)
                copied.add(id(child))
            node = child
        node[leaf] = value
    return config
