"""Task traces: when each task arrives and how long it runs.

Generated from a seed, so a run is the same on every machine: Poisson
arrivals (independent users), or bursty ones (the same mean rate, but a
quarter of the periods of ``burst_period_s``, chosen at random, at
three times the mean rate, the others at a third of it).  Durations are exponential
with mean ``task_s``.  The offered load is the busy fraction of all
cores the arrivals ask for: rate x task_s / (machines x cores).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

TRACE_KINDS = ("poisson", "bursty")

# Bursty traces: a BURST_SHARE of the periods run at BURST_FACTOR x the
# mean rate, the others at the rate that keeps the mean (a third of it).
BURST_SHARE = 0.25
BURST_FACTOR = 3.0


@dataclass(frozen=True)
class Trace:
    """Arrival times (seconds from 0, in order) and durations (seconds > 0).

    >>> Trace(arrivals=(0.0, 0.5), durations=(1.0, 2.0)).tasks
    2
    """

    arrivals: tuple[float, ...]
    durations: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "arrivals", tuple(float(a) for a in self.arrivals))
        object.__setattr__(self, "durations", tuple(float(d) for d in self.durations))
        if not self.arrivals:
            raise ValueError("trace: empty (no tasks); a simulation needs at least one task")
        if len(self.arrivals) != len(self.durations):
            raise ValueError(f"trace: {len(self.arrivals)} arrivals but "
                             f"{len(self.durations)} durations")
        for i, (a, d) in enumerate(zip(self.arrivals, self.durations)):
            if not (math.isfinite(a) and a >= 0):
                raise ValueError(f"trace: arrival {i} is {a!r}; expected seconds >= 0")
            if not (math.isfinite(d) and d > 0):
                raise ValueError(f"trace: duration {i} is {d!r}; expected seconds > 0")
        if any(b < a for a, b in zip(self.arrivals, self.arrivals[1:])):
            raise ValueError("trace: arrivals must be in time order")

    @property
    def tasks(self) -> int:
        return len(self.arrivals)


def generate_trace(kind: str, *, load: float, machines: int, cores: int,
                   duration_s: float, task_s: float = 1.0, seed: int = 0,
                   burst_period_s: float = 60.0) -> Trace:
    """A trace offering `load` (0 to 1) to machines x cores for duration_s.

    >>> t = generate_trace("poisson", load=0.25, machines=2, cores=4, duration_s=100, seed=1)
    >>> t == generate_trace("poisson", load=0.25, machines=2, cores=4, duration_s=100, seed=1)
    True
    """
    if kind not in TRACE_KINDS:
        raise ValueError(f"trace: unknown kind {kind!r}; expected one of {', '.join(TRACE_KINDS)}")
    check_count(machines, "machines")
    check_count(cores, "cores")
    check_seconds(duration_s, "duration_s")
    check_seconds(task_s, "task_s")
    check_seconds(burst_period_s, "burst_period_s")
    if not (isinstance(load, (int, float)) and 0 < load <= 1):
        raise ValueError(f"load is {load!r}; expected a fraction of the cores > 0 and <= 1")
    rng = np.random.default_rng(seed)
    mean_rate = load * machines * cores / task_s
    if kind == "poisson":
        arrivals = _poisson(rng, lambda _t: mean_rate, mean_rate, duration_s)
    else:
        # Exactly a BURST_SHARE of the periods (rounded) burst, at random
        # places: the trace offers the load asked for, not only on average
        # over seeds.
        periods = math.ceil(duration_s / burst_period_s)
        bursts = round(periods * BURST_SHARE)
        burst = np.zeros(periods, dtype=bool)
        burst[rng.choice(periods, bursts, replace=False)] = True
        share = bursts / periods
        quiet = max(0.0, (1 - share * BURST_FACTOR) / (1 - share))
        rates = np.where(burst, BURST_FACTOR, quiet) * mean_rate

        def rate(t: float) -> float:
            return float(rates[min(int(t // burst_period_s), periods - 1)])

        arrivals = _poisson(rng, rate, BURST_FACTOR * mean_rate, duration_s)
    durations = rng.exponential(task_s, len(arrivals))
    # A duration that rounds to 0 would be a task that takes no time.
    durations = np.maximum(durations, task_s * 1e-6)
    return Trace(arrivals=tuple(arrivals), durations=tuple(durations))


def _poisson(rng: np.random.Generator, rate: Callable[[float], float], max_rate: float,
             duration_s: float) -> list[float]:
    """Arrival times of a Poisson process of rate rate(t) <= max_rate, by
    thinning (Lewis and Shedler): candidates at max_rate, each kept with
    probability rate(t) / max_rate."""
    arrivals: list[float] = []
    t = 0.0
    while True:
        t += rng.exponential(1.0 / max_rate)
        if t >= duration_s:
            return arrivals
        if rng.random() * max_rate < rate(t):
            arrivals.append(t)


def check_count(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} is {value!r}; expected a whole number >= 1")


def check_seconds(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} is {value!r}; expected seconds > 0")
