"""The event simulation: machines x cores run a trace under a placement
policy, and a power model prices every moment.

Policies (POLICIES):

- ``spread``: a task goes to the awake machine with the most free cores
  (Dask's placement: least occupancy first).  Machines never sleep.
- ``pack``: a task goes to the busiest awake machine with a free core
  (ties: the lowest index).  Machines never sleep.
- ``pack+sleep``: placed as ``pack``; a machine idle for
  ``suspend_after`` seconds sleeps, and one that is woken takes
  ``resume_latency`` seconds before it runs anything.  When tasks wait and
  the machines waking up cannot take them all, the lowest-indexed
  sleeping machine is woken; the tasks wait for it (or for a core that
  frees up first).

Tasks that find no free core wait in one first-come first-served queue.
A machine waking up draws its idle power.  Energy is integrated from 0 to
the end of the last task.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from ._power import PowerModel
from ._trace import Trace, check_count, check_seconds

POLICIES = ("spread", "pack", "pack+sleep")

AWAKE, ASLEEP, WAKING = "awake", "asleep", "waking"

# Event kinds, in the order they are handled at the same instant: a core
# freed or a machine woken is there for a task arriving at that instant.
_FINISH, _WOKEN, _SLEEP_CHECK = 0, 1, 2


@dataclass(frozen=True)
class Run:
    """What one policy did with one trace."""

    policy: str
    tasks: int
    energy_j: float
    awake_machine_s: float
    latencies_s: np.ndarray
    end_s: float
    # Power over time: the step function of total watts, changing at times_s.
    times_s: np.ndarray
    watts: np.ndarray

    @property
    def energy_per_task_j(self) -> float:
        return self.energy_j / self.tasks

    @property
    def p50_s(self) -> float:
        return float(np.percentile(self.latencies_s, 50))

    @property
    def p99_s(self) -> float:
        return float(np.percentile(self.latencies_s, 99))

    def mean_power(self, bins: int) -> tuple[np.ndarray, np.ndarray]:
        """(bin centres, mean watts over each bin) from 0 to end_s."""
        edges = np.linspace(0.0, self.end_s, bins + 1)
        spans = np.diff(np.append(self.times_s, self.end_s))
        cumulative = np.concatenate(([0.0], np.cumsum(self.watts * spans)))
        energy_at = np.interp(edges, np.append(self.times_s, self.end_s), cumulative)
        return (edges[:-1] + edges[1:]) / 2, np.diff(energy_at) / np.diff(edges)


class _Machine:
    __slots__ = ("index", "state", "busy", "idle_since", "watts")

    def __init__(self, index: int, kinds: int) -> None:
        self.index = index
        self.state = AWAKE
        self.busy = [0] * kinds     # busy cores of each kind
        self.idle_since = 0.0
        self.watts = 0.0


def run_policy(trace: Trace, *, policy: str, machines: int, cores: int, power: PowerModel,
               suspend_after: float = 30.0, resume_latency: float = 5.0) -> Run:
    """Simulate `trace` on machines x cores under `policy`.

    >>> from runtime.dask.simulate import LinearPower, Trace
    >>> run = run_policy(Trace(arrivals=(0.0,), durations=(2.0,)), policy="spread",
    ...                  machines=2, cores=1, power=LinearPower(idle=0.5, peak_w=100))
    >>> run.energy_j, run.awake_machine_s, run.p50_s
    (300.0, 4.0, 2.0)
    """
    if policy not in POLICIES:
        raise ValueError(f"policy: unknown policy {policy!r}; expected one of "
                         f"{', '.join(POLICIES)}")
    check_count(machines, "machines")
    check_count(cores, "cores")
    check_seconds(suspend_after, "suspend_after")
    check_seconds(resume_latency, "resume_latency")
    kinds = power.core_kinds(cores)
    capacity = [count for _, count in kinds]
    sleeps = policy == "pack+sleep"
    packs = policy != "spread"

    fleet = [_Machine(i, len(kinds)) for i in range(machines)]
    for m in fleet:
        m.watts = power.watts(m.busy, cores)
    events: list[tuple[float, int, int, int, int]] = []   # time, kind, seq, machine, payload
    seq = 0

    def push(time: float, kind: int, machine: int, payload: int) -> None:
        nonlocal seq
        heapq.heappush(events, (time, kind, seq, machine, payload))
        seq += 1

    if sleeps:
        for m in fleet:
            push(suspend_after, _SLEEP_CHECK, m.index, 0)

    queue: list[int] = []           # tasks waiting, first come first served
    head = 0
    latencies = np.empty(trace.tasks)
    arrivals, durations = trace.arrivals, trace.durations
    now = 0.0
    energy = awake_s = 0.0
    total_w = sum(m.watts for m in fleet)
    awake_count = machines
    times, watts = [0.0], [total_w]

    def set_watts(m: _Machine) -> None:
        nonlocal total_w
        new = power.sleep_w if m.state == ASLEEP else power.watts(m.busy, cores)
        total_w += new - m.watts
        m.watts = new

    def free_core(m: _Machine) -> int:
        """The kind of core a task takes on m (the first kind with one
        free), or -1 if none is free."""
        for kind, (used, have) in enumerate(zip(m.busy, capacity)):
            if used < have:
                return kind
        return -1

    def choose() -> _Machine | None:
        best, best_busy = None, -1
        for m in fleet:
            if m.state != AWAKE or free_core(m) < 0:
                continue
            busy = sum(m.busy)
            if best is None or (busy > best_busy if packs else busy < best_busy):
                best, best_busy = m, busy
        return best

    def dispatch() -> None:
        nonlocal head, awake_count
        while head < len(queue):
            m = choose()
            if m is None:
                break
            task = queue[head]
            head += 1
            kind = free_core(m)
            m.busy[kind] += 1
            set_watts(m)
            latencies[task] = now - arrivals[task]   # the wait; the run is added at the end
            push(now + durations[task], _FINISH, m.index, kind)
        if sleeps and head < len(queue):
            coming = sum(cores for m in fleet if m.state == WAKING)
            for m in fleet:
                if len(queue) - head <= coming:
                    break
                if m.state == ASLEEP:
                    m.state = WAKING
                    awake_count += 1
                    set_watts(m)
                    push(now + resume_latency, _WOKEN, m.index, 0)
                    coming += cores

    next_task = finished = 0
    while finished < trace.tasks:
        if next_task < trace.tasks and (not events or arrivals[next_task] < events[0][0]):
            time, event = arrivals[next_task], None
        else:
            event = heapq.heappop(events)
            time = event[0]
        energy += total_w * (time - now)
        awake_s += awake_count * (time - now)
        now = time
        if event is None:
            queue.append(next_task)
            next_task += 1
        else:
            _, kind, _, index, payload = event
            m = fleet[index]
            if kind == _FINISH:
                finished += 1
                m.busy[payload] -= 1
                if not any(m.busy):
                    m.idle_since = now
                    if sleeps:
                        push(now + suspend_after, _SLEEP_CHECK, index, 0)
                set_watts(m)
            elif kind == _WOKEN:
                m.state = AWAKE
                m.idle_since = now
                push(now + suspend_after, _SLEEP_CHECK, index, 0)
                set_watts(m)
            elif (m.state == AWAKE and not any(m.busy)
                  and m.idle_since + suspend_after <= now):   # the sum the check was pushed at
                m.state = ASLEEP
                awake_count -= 1
                set_watts(m)
        dispatch()
        if times[-1] == now:
            watts[-1] = total_w          # the last of several changes at one instant
        elif total_w != watts[-1]:
            times.append(now)
            watts.append(total_w)
        if head > 4096 and head * 2 > len(queue):   # keep the queue's memory bounded
            del queue[:head]
            head = 0
    # The run ends when its last task does: sleep checks still pending are
    # not part of it.
    return Run(policy=policy, tasks=trace.tasks, energy_j=energy, awake_machine_s=awake_s,
               latencies_s=latencies + np.asarray(durations), end_s=now,
               times_s=np.asarray(times), watts=np.asarray(watts))
