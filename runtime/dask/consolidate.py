"""Keep few Dask workers busy and retire the rest: an energy-aware policy
for ``distributed``, without patching it.

Dask spreads tasks over every worker (``worker_objective``: least
occupancy first), so at 10-50% load no worker is idle long enough for
``Adaptive`` to retire it, and every machine stays awake.  This policy
has two halves:

- :class:`PackingPlugin`, a scheduler plugin, packs: each new task with
  no dependencies and no restrictions of its own is restricted, loosely,
  to the busiest running worker that has a free thread (ties: the worker
  that joined first), so work fills few workers and the others empty.
  Loose restrictions are Dask's own mechanism (``workers=...,
  allow_other_workers=True``): if that worker is gone when the task
  runs, any worker may take it.  A task that finds no free thread
  anywhere is left to Dask's placement, and counts as demand for more
  workers.  Tasks with dependencies are placed by Dask, near their data.
- :class:`ConsolidatingAdaptive`, an ``Adaptive``, sizes the cluster from
  the plugin's plan: a worker idle for ``suspend_after`` seconds is
  retired with ``retire_workers`` (its data moved to the workers that
  stay, so no result is lost), keeping at least ``minimum``; when the
  running and waiting tasks need more threads than the workers have, the
  cluster scales up again.

:func:`consolidate` sets both up on a cluster (a ``LocalCluster`` or any
``SpecCluster``-like cluster that can scale):

>>> from distributed import Client, LocalCluster
>>> from runtime.dask.consolidate import consolidate
>>> with LocalCluster(n_workers=3, threads_per_worker=1, processes=False,
...                   protocol="tcp", host="127.0.0.1", dashboard_address="127.0.0.1:0"
...                   ) as cluster, \\
...         Client(cluster) as client:
...     adaptive = consolidate(cluster, suspend_after=1.0, interval=0.1)
...     client.submit(sum, [1, 2, 3]).result()
6
"""

from __future__ import annotations

import math
import time
from typing import Any

try:
    from distributed import SchedulerPlugin
    from distributed.deploy.adaptive import Adaptive
    from distributed.protocol.pickle import dumps
    from tornado.ioloop import PeriodicCallback
except ImportError as error:   # pragma: no cover - the message is the point
    raise ImportError("runtime.dask.consolidate needs Dask's distributed scheduler: "
                      "pip install distributed") from error

__all__ = ["ConsolidatingAdaptive", "PackingPlugin", "consolidate"]

# The scheduler handler through which the Adaptive (beside the cluster)
# asks the plugin (inside the scheduler) for its plan.
PLAN_HANDLER = "runtime_consolidate_plan"


class PackingPlugin(SchedulerPlugin):
    """Packs new tasks onto few workers and plans which idle ones to retire.

    ``suspend_after``: seconds a worker must have been idle (nothing
    processing) before the plan lists it; ``minimum``: workers the plan
    always keeps; ``interval``: seconds between idleness checks.
    """

    name = "runtime-consolidate"

    def __init__(self, *, suspend_after: float = 10.0, minimum: int = 1,
                 interval: float = 0.1) -> None:
        _check_seconds(suspend_after, "suspend_after")
        _check_seconds(interval, "interval")
        if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 0:
            raise ValueError(f"minimum is {minimum!r}; expected a whole number of workers >= 0")
        self.suspend_after = float(suspend_after)
        self.minimum = minimum
        self.interval = float(interval)
        self.scheduler: Any = None
        self._joined: dict[str, int] = {}         # worker address -> join order
        self._idle_since: dict[str, float] = {}   # worker address -> first seen idle
        self._joins = 0
        self._checker: PeriodicCallback | None = None
        self._planned_to_close: set[str] = set()   # the last plan's, until the next plan

    async def start(self, scheduler: Any) -> None:
        self.scheduler = scheduler
        scheduler.handlers[PLAN_HANDLER] = self.plan
        for address in scheduler.workers:
            self.add_worker(scheduler, address)
        self._checker = PeriodicCallback(self._check_idle, self.interval * 1000)
        self._checker.start()

    async def close(self) -> None:
        if self._checker is not None:
            self._checker.stop()
            self._checker = None
        if self.scheduler is not None:
            self.scheduler.handlers.pop(PLAN_HANDLER, None)

    def add_worker(self, scheduler: Any, worker: str) -> None:
        self._joined[worker] = self._joins
        self._joins += 1
        self._idle_since[worker] = time.monotonic()

    def remove_worker(self, scheduler: Any, worker: str, **kwargs: Any) -> None:
        self._joined.pop(worker, None)
        self._idle_since.pop(worker, None)

    def update_graph(self, scheduler: Any, *, tasks: list, **kwargs: Any) -> None:
        """Runs before the scheduler places the new tasks: restricting
        them here is what steers the placement."""
        taken: dict[str, int] = {}   # threads given to this graph's tasks so far
        for key in tasks:
            ts = scheduler.tasks.get(key)
            if (ts is None or ts.state != "released" or ts.dependencies
                    or ts.worker_restrictions or ts.host_restrictions
                    or ts.resource_restrictions):
                continue
            ws = self._packing_worker(scheduler, taken)
            if ws is None:
                continue   # no free thread anywhere: Dask places it, and it is demand
            ts.worker_restrictions = {ws.address}
            ts.loose_restrictions = True
            taken[ws.address] = taken.get(ws.address, 0) + 1

    def _packing_worker(self, scheduler: Any, taken: dict[str, int]) -> Any:
        """The busiest running worker with a free thread; ties go to the
        one that joined first, so the same workers stay busy."""
        best, best_busy = None, -1
        for ws in scheduler.running:
            if ws.address in self._planned_to_close:
                continue   # about to retire: work placed there now would run again elsewhere
            busy = len(ws.processing) + taken.get(ws.address, 0)
            if busy >= ws.nthreads:
                continue
            if busy > best_busy or (busy == best_busy and self._order(ws) < self._order(best)):
                best, best_busy = ws, busy
        return best

    def _order(self, ws: Any) -> float:
        return self._joined.get(ws.address, math.inf)   # one not seen joining: last

    def _check_idle(self) -> None:
        now = time.monotonic()
        for address, ws in self.scheduler.workers.items():
            if ws.processing:
                self._idle_since.pop(address, None)
            else:
                self._idle_since.setdefault(address, now)

    def plan(self) -> dict[str, Any]:
        """{"target": workers wanted, "close": names of workers to retire}.

        Wanted: enough threads for every task processing or waiting for a
        thread, at least ``minimum``; to close: workers idle for
        ``suspend_after`` seconds, the last to join first, while more than
        the wanted number stay."""
        scheduler = self.scheduler
        workers = list(scheduler.workers.values())
        demand = (sum(len(ws.processing) for ws in workers) + len(scheduler.queued)
                  + len(scheduler.unrunnable))
        threads = max((ws.nthreads for ws in workers), default=1)
        wanted = max(self.minimum, math.ceil(demand / threads))
        now = time.monotonic()
        idle = [ws for ws in workers
                if not ws.processing and not ws.long_running
                and now - self._idle_since.get(ws.address, now) >= self.suspend_after]
        idle.sort(key=self._order, reverse=True)
        closing = idle[:max(0, len(workers) - wanted)]
        self._planned_to_close = {ws.address for ws in closing}
        close = [ws.name for ws in closing]
        return {"target": max(wanted, len(workers) - len(close)), "close": close}


class ConsolidatingAdaptive(Adaptive):
    """An ``Adaptive`` that follows :class:`PackingPlugin`'s plan (the
    plugin must be registered on the scheduler: :func:`consolidate` does
    both).  It retires a worker as soon as the plan lists it (the plan
    already waited ``suspend_after``), and scales up as the plan's target
    rises."""

    def __init__(self, cluster: Any, **kwargs: Any) -> None:
        kwargs["wait_count"] = 1
        super().__init__(cluster, **kwargs)
        self._close: list[Any] = []

    async def target(self) -> int:
        plan = await self.scheduler.runtime_consolidate_plan()
        self._close = list(plan["close"])
        return int(plan["target"])

    async def workers_to_close(self, target: int) -> list[Any]:
        return self._close[:max(0, len(self.plan) - target)]


def consolidate(cluster: Any, *, suspend_after: float = 10.0, interval: float = 0.5,
                minimum: int = 1, maximum: int | None = None) -> ConsolidatingAdaptive:
    """Pack `cluster`'s tasks onto few workers and retire the idle ones.

    Registers :class:`PackingPlugin` on the scheduler and turns on
    :class:`ConsolidatingAdaptive` (``cluster.adapt``): workers idle for
    `suspend_after` seconds retire (data moved), at least `minimum` stay,
    at most `maximum` run (default: as many as the cluster has now), and
    every `interval` seconds the cluster is resized.  Returns the Adaptive
    (``.stop()`` turns it off).  Example in the module's docstring.
    """
    _check_seconds(suspend_after, "suspend_after")
    _check_seconds(interval, "interval")
    if maximum is None:
        maximum = max(len(cluster.worker_spec), minimum, 1)
    if isinstance(maximum, bool) or not isinstance(maximum, int) or maximum < max(minimum, 1):
        raise ValueError(f"maximum is {maximum!r}; expected a whole number of workers >= "
                         f"minimum ({minimum}) and >= 1")
    plugin = PackingPlugin(suspend_after=suspend_after, minimum=minimum,
                           interval=min(interval, 0.1))
    cluster.sync(cluster.scheduler_comm.register_scheduler_plugin, plugin=dumps(plugin),
                 name=PackingPlugin.name, idempotent=False)
    return cluster.adapt(Adaptive=ConsolidatingAdaptive, minimum=minimum, maximum=maximum,
                         interval=interval)


def _check_seconds(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} is {value!r}; expected seconds > 0")
