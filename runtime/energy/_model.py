"""The power model behind the energy estimate: watts drawn by one busy
core of each kind.

Joules = sum over kinds of (this process's CPU seconds on that kind x
the kind's watts).  It counts the cores' own power while this process
keeps them busy: no idle power, uncore, memory or other processes.

Model, weakest to strongest: DEFAULT_POWER_MODEL; RUNTIME_POWER_MODEL
(``"performance:4;efficiency:1"``, kinds as runtime.topology() names
them); the ``power_model=`` argument.  Each overrides only the kinds it
names.
"""

from __future__ import annotations

import math
import os
import re
from typing import Iterable, Mapping

from .._topology import kind_entries

ENVIRONMENT = "RUNTIME_POWER_MODEL"

# Watts of one fully busy core, the core alone.  Round, order-of-magnitude
# figures chosen for this estimate, NOT measured on any machine here: a
# current performance core draws a few watts at full load (laptop parts
# a few watts, desktop parts at turbo clocks over 10 W), an efficiency
# core roughly a quarter of a performance core.  Real figures vary 5x or
# more with the chip, clock and workload: compare estimates with one
# another, not with a wall meter, or pass measured watts.  "all" (one
# kind of core) is taken as a performance core; "mid" covers the middle
# kinds runtime.topology() names mid, mid1, mid2, ...
DEFAULT_POWER_MODEL: dict[str, float] = {
    "performance": 4.0,
    "mid": 2.0,
    "efficiency": 1.0,
    "low-power efficiency": 0.5,
    "all": 4.0,
}


def power_model(override: Mapping[str, float] | None = None,
                environ: Mapping[str, str] | None = None,
                kinds: Iterable[str] = ()) -> dict[str, float]:
    """The model in force: defaults, then RUNTIME_POWER_MODEL, then
    `override`.  Kind names must be known: those of DEFAULT_POWER_MODEL,
    mid1, mid2, ..., or one of `kinds` (the topology's, which
    RUNTIME_TOPOLOGY may name freely); a misspelt kind would otherwise be
    ignored and its default used.  Raises TypeError or ValueError saying
    what was wrong."""
    environ = os.environ if environ is None else environ
    known = set(kinds)
    model = dict(DEFAULT_POWER_MODEL)
    text = environ.get(ENVIRONMENT)
    if text is not None:
        model.update(parse_power_model(text, known))
    if override is not None:
        if isinstance(override, str):
            raise TypeError(f"power_model must be a mapping of core kind to watts, e.g. "
                            f"{{'performance': 4.0, 'efficiency': 1.0}}; got the string "
                            f"{override!r} (the 'kind:watts;...' text form is for "
                            f"{ENVIRONMENT})")
        if not isinstance(override, Mapping):
            raise TypeError(f"power_model must be a mapping of core kind to watts, e.g. "
                            f"{{'performance': 4.0}}, or None; got {type(override).__name__}")
        for name, watts in override.items():
            _check_kind(name, known, "power_model")
            model[name] = _watts(watts, f"power_model[{name!r}]")
    return model


def parse_power_model(text: str, kinds: Iterable[str] = ()) -> dict[str, float]:
    """RUNTIME_POWER_MODEL's value: "kind:watts;kind:watts" (kinds known
    as for power_model)."""
    known = set(kinds)
    model: dict[str, float] = {}
    for name, number in kind_entries(text, ENVIRONMENT, "kind:watts",
                                     "performance:4;efficiency:1"):
        _check_kind(name, known, ENVIRONMENT)
        try:
            value = float(number)
        except ValueError:
            raise ValueError(f"{ENVIRONMENT}: {number.strip()!r} for kind {name!r} is not a "
                             f"number of watts") from None
        model[name] = _watts(value, f"{ENVIRONMENT}: kind {name!r}")
    return model


def _check_kind(name: object, kinds: set[str], what: str) -> None:
    """A core kind the model may give watts for (see power_model)."""
    if isinstance(name, str) and (name in DEFAULT_POWER_MODEL or name in kinds
                                  or re.fullmatch(r"mid[1-9][0-9]*", name)):
        return
    extra = sorted(kinds - set(DEFAULT_POWER_MODEL))
    this_machine = f"; this topology's: {', '.join(map(repr, extra))}" if extra else ""
    raise ValueError(f"{what}: unknown core kind {name!r}; known kinds: "
                     f"{', '.join(map(repr, DEFAULT_POWER_MODEL))}, 'mid1', 'mid2', ..."
                     f"{this_machine}")


def watts_for(kind: str, model: Mapping[str, float]) -> float:
    """Watts of one busy core of `kind`.  Raises ValueError for a kind the
    model does not know, saying how to give it."""
    if kind in model:
        return model[kind]
    if kind.startswith("mid") and "mid" in model:
        return model["mid"]
    raise ValueError(f"the power model has no watts for core kind {kind!r} (it knows "
                     f"{sorted(model)}); pass power_model={{{kind!r}: watts}} or set "
                     f"{ENVIRONMENT}='{kind}:watts'")


def estimate(cpu_seconds_by_kind: Mapping[str, float],
             model: Mapping[str, float]) -> tuple[float, dict[str, float]]:
    """Joules, and joules per kind, for CPU seconds per kind."""
    by_kind = {kind: seconds * watts_for(kind, model)
               for kind, seconds in cpu_seconds_by_kind.items()}
    return sum(by_kind.values()), by_kind


def _watts(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} is {value!r}; expected watts as a number")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} is {value!r}; expected a finite number of watts >= 0")
    return float(value)
