"""Power models of one machine: watts as a function of its busy cores.

Three forms, each parsed from a short text (the CLI's ``--power``):

- ``linear:idle=0.5,peak_w=200,sleep=0``: idle draws ``idle`` x peak,
  full load ``peak_w`` watts, linear in between (the shape Barroso and
  Hoelzle describe); ``sleep`` is the fraction of peak a sleeping machine
  draws.  ``idle`` and ``sleep`` are fractions of peak, ``peak_w`` watts.
- ``table:0=58,0.5=160,1=222,sleep_w=2``: watts at utilisation points from
  0 to 1, as SPECpower publishes them (0%, 10%, ..., 100%), interpolated
  linearly; ``sleep_w`` watts while asleep.
- ``cores:performance=4,efficiency=8,idle_w=20,sleep_w=2``: the machine's
  cores by kind (they must add up to its core count) with runtime's power
  model for the watts of each busy core (runtime.energy:
  ``RUNTIME_POWER_MODEL`` changes them), plus ``idle_w`` watts awake and
  ``sleep_w`` asleep.  Tasks take performance cores first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, Sequence

from ...energy._model import power_model, watts_for


class PowerModel(Protocol):
    """What the simulator asks of a power model."""

    @property
    def sleep_w(self) -> float:
        """Watts of a sleeping machine."""
        ...

    def core_kinds(self, cores: int) -> list[tuple[str, int]]:
        """The machine's cores as (kind, count), in the order tasks take them."""
        ...

    def watts(self, busy: Sequence[int], cores: int) -> float:
        """Watts of an awake machine with busy[i] cores of kind i busy."""
        ...


@dataclass(frozen=True)
class LinearPower:
    """idle x peak_w when idle, peak_w at full load, linear in between."""

    idle: float = 0.5
    peak_w: float = 200.0
    sleep: float = 0.0

    def __post_init__(self) -> None:
        _fraction(self.idle, "power linear: idle")
        _fraction(self.sleep, "power linear: sleep")
        _positive(self.peak_w, "power linear: peak_w")

    @property
    def sleep_w(self) -> float:
        return self.sleep * self.peak_w

    def core_kinds(self, cores: int) -> list[tuple[str, int]]:
        return [("all", cores)]

    def watts(self, busy: Sequence[int], cores: int) -> float:
        return self.peak_w * (self.idle + (1.0 - self.idle) * sum(busy) / cores)


@dataclass(frozen=True)
class TablePower:
    """Watts at utilisation points (0 and 1 included), interpolated."""

    points: tuple[tuple[float, float], ...]
    sleep_w: float = 0.0

    def __post_init__(self) -> None:
        if len(self.points) < 2:
            raise ValueError(f"power table: needs at least the points 0 and 1, got "
                             f"{len(self.points)} point(s)")
        utilisations = [u for u, _ in self.points]
        for u, w in self.points:
            _fraction(u, "power table: utilisation")
            _non_negative(w, f"power table: watts at utilisation {u}")
        if any(b <= a for a, b in zip(utilisations, utilisations[1:])):
            raise ValueError(f"power table: utilisations must be in increasing order, got "
                             f"{utilisations}")
        if utilisations[0] != 0.0 or utilisations[-1] != 1.0:
            raise ValueError(f"power table: must run from utilisation 0 to 1, got "
                             f"{utilisations[0]} to {utilisations[-1]}")
        _non_negative(self.sleep_w, "power table: sleep_w")

    def core_kinds(self, cores: int) -> list[tuple[str, int]]:
        return [("all", cores)]

    def watts(self, busy: Sequence[int], cores: int) -> float:
        utilisation = sum(busy) / cores
        for (u0, w0), (u1, w1) in zip(self.points, self.points[1:]):
            if utilisation <= u1:
                return w0 + (w1 - w0) * (utilisation - u0) / (u1 - u0)
        return self.points[-1][1]


@dataclass(frozen=True)
class CoreKindPower:
    """idle_w plus runtime's watts for each busy core of its kind."""

    kinds: tuple[tuple[str, int], ...]
    idle_w: float = 0.0
    sleep_w: float = 0.0
    # Watts of one busy core of each kind, read from runtime's power model
    # once, when the model is made.
    core_watts: tuple[float, ...] = field(init=False)

    def __post_init__(self) -> None:
        if not self.kinds:
            raise ValueError("power cores: name the machine's cores by kind, e.g. "
                             "cores:performance=4,efficiency=8")
        model = power_model()
        for kind, count in self.kinds:
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(f"power cores: {kind} is {count!r}; expected a count of "
                                 f"cores >= 0")
        _non_negative(self.idle_w, "power cores: idle_w")
        _non_negative(self.sleep_w, "power cores: sleep_w")
        try:
            watts = tuple(watts_for(kind, model) for kind, _ in self.kinds)
        except ValueError as error:
            raise ValueError(f"power cores: {error}") from None
        object.__setattr__(self, "core_watts", watts)

    def core_kinds(self, cores: int) -> list[tuple[str, int]]:
        total = sum(count for _, count in self.kinds)
        if total != cores:
            raise ValueError(f"power cores: the kinds add up to {total} cores, but machines "
                             f"have {cores}")
        return list(self.kinds)

    def watts(self, busy: Sequence[int], cores: int) -> float:
        return self.idle_w + sum(n * w for n, w in zip(busy, self.core_watts))


def parse_power(text: str) -> PowerModel:
    """A power model from its text form (see the module's docstring).

    >>> parse_power("linear:idle=0.5").watts([6], cores=12)
    150.0
    >>> parse_power("table:0=58,1=222").watts([3], cores=12)
    99.0
    """
    if not isinstance(text, str):
        raise ValueError(f"power: expected a text such as 'linear:idle=0.5', got {text!r}")
    form, _, rest = text.partition(":")
    fields = _fields(rest, form.strip())
    form = form.strip()
    if form == "linear":
        unknown = set(fields) - {"idle", "peak_w", "sleep"}
        if unknown:
            raise ValueError(f"power linear: unknown field(s) {sorted(unknown)}; known: idle, "
                             f"peak_w, sleep")
        return LinearPower(**fields)
    if form == "table":
        sleep_w = fields.pop("sleep_w", 0.0)
        points = []
        for key, watts in fields.items():
            try:
                points.append((float(key), watts))
            except ValueError:
                raise ValueError(f"power table: {key!r} is neither a utilisation from 0 to 1 "
                                 f"nor sleep_w") from None
        return TablePower(points=tuple(points), sleep_w=sleep_w)
    if form == "cores":
        idle_w = fields.pop("idle_w", 0.0)
        sleep_w = fields.pop("sleep_w", 0.0)
        kinds = []
        for kind, count in fields.items():
            if count != int(count):
                raise ValueError(f"power cores: {kind}={count} is not a whole number of cores")
            kinds.append((kind, int(count)))
        return CoreKindPower(kinds=tuple(kinds), idle_w=idle_w, sleep_w=sleep_w)
    raise ValueError(f"power: unknown model {form!r} in {text!r}; expected linear:..., "
                     f"table:... or cores:...")


def _fields(text: str, form: str) -> dict[str, float]:
    fields: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, equals, value = item.partition("=")
        key = key.strip()
        if not equals or not key:
            raise ValueError(f"power {form}: {item!r} is not key=value")
        if key in fields:
            raise ValueError(f"power {form}: {key} given twice")
        try:
            fields[key] = float(value)
        except ValueError:
            raise ValueError(f"power {form}: {key}={value.strip()!r} is not a number") from None
    return fields


def _fraction(value: float, what: str) -> None:
    if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
        raise ValueError(f"{what} is {value!r}; expected a fraction from 0 to 1")


def _positive(value: float, what: str) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{what} is {value!r}; expected a number > 0")


def _non_negative(value: float, what: str) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{what} is {value!r}; expected a number >= 0")
