"""Every policy on the same trace at each load: the records the table, the
JSON and the plot are made from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from ._engine import POLICIES, Run, run_policy
from ._power import PowerModel, parse_power
from ._trace import generate_trace

# The keys of Record.as_dict(), in the order the JSON lists them.
RECORD_KEYS = ("policy", "load", "energy_j", "energy_per_task_j", "awake_machine_s",
               "p50_s", "p99_s")


@dataclass(frozen=True)
class Record:
    """One policy at one load; `run` keeps the power over time."""

    policy: str
    load: float
    run: Run

    def as_dict(self) -> dict[str, object]:
        """The JSON record: policy, load, energy_j, energy_per_task_j,
        awake_machine_s, p50_s, p99_s."""
        return {"policy": self.policy, "load": self.load, "energy_j": self.run.energy_j,
                "energy_per_task_j": self.run.energy_per_task_j,
                "awake_machine_s": self.run.awake_machine_s, "p50_s": self.run.p50_s,
                "p99_s": self.run.p99_s}


def simulate(*, machines: int = 8, cores: int = 12, loads: Iterable[float] = (0.1, 0.25, 0.5),
             policies: Sequence[str] = POLICIES, power: str | PowerModel = "linear:idle=0.5",
             trace: str = "poisson", duration_s: float = 600.0, task_s: float = 1.0,
             suspend_after: float = 30.0, resume_latency: float = 5.0,
             seed: int = 0) -> list[Record]:
    """Each policy on one generated trace per load (the same trace for
    every policy at a load).  Deterministic for a seed.

    >>> from runtime.dask.simulate import simulate
    >>> records = simulate(machines=4, cores=4, loads=[0.25], duration_s=120)
    >>> [r.policy for r in records]
    ['spread', 'pack', 'pack+sleep']
    >>> records[2].run.energy_j < records[0].run.energy_j
    True
    """
    model = parse_power(power) if isinstance(power, str) else power
    loads = list(loads)
    if not loads:
        raise ValueError("load: give at least one load, e.g. 0.25")
    policies = list(policies)
    if not policies:
        raise ValueError(f"policy: give at least one of {', '.join(POLICIES)}")
    for policy in policies:
        if policy not in POLICIES:
            raise ValueError(f"policy: unknown policy {policy!r}; expected one of "
                             f"{', '.join(POLICIES)}")
    model.core_kinds(cores)   # a cores: model that does not fit the machines fails here
    records = []
    for load in loads:
        tasks = generate_trace(trace, load=load, machines=machines, cores=cores,
                               duration_s=duration_s, task_s=task_s, seed=seed)
        for policy in policies:
            run = run_policy(tasks, policy=policy, machines=machines, cores=cores, power=model,
                             suspend_after=suspend_after, resume_latency=resume_latency)
            records.append(Record(policy=policy, load=load, run=run))
    return records
