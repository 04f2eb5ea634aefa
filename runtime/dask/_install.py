"""runtime.dask.install / uninstall: the client side."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from .. import _config, _qos

if TYPE_CHECKING:
    from distributed import Client

EXTRA_HINT = "install the extra: pip install 'hetero-runtime[dask]'"


def _plugin_module() -> ModuleType:
    try:
        from . import _plugin
    except ImportError as error:
        raise ImportError(f"runtime.dask needs dask and distributed ({error}); "
                          f"{EXTRA_HINT}") from error
    return _plugin


def install(client: Client, *, cpus: int | None = None, qos: _qos.QosLevel | None = None) -> None:
    """Set runtime up inside every worker of ``client``'s cluster, now and
    in workers that join or restart later: the worker process's pool is
    sized to its CPU share (``cpus``, default: the host's CPUs divided
    among the worker processes on it), winning over the nanny's
    ``OMP_NUM_THREADS=1``; transparent mode is turned on where runtime has
    it; the worker's tasks run on a :class:`runtime.Executor` at level
    ``qos``, so a task and the jobs it splits share those threads and
    never use more.  Installing again is harmless: each worker is put back
    first, then set up anew (its share recomputed).

    >>> import runtime.dask
    >>> from distributed import Client, LocalCluster
    >>> with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
    ...                   host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster:
    ...     with Client(cluster) as client:
    ...         runtime.dask.install(client, cpus=2)
    ...         print(client.submit(runtime.num_threads).result(timeout=60))
    ...         runtime.dask.uninstall(client)
    2
    """
    plugin_module = _plugin_module()  # first: without the extra, that is the error to see
    if not hasattr(client, "register_plugin"):
        raise TypeError(f"runtime.dask.install: client must be a distributed.Client, "
                        f"got {type(client).__name__}")
    if cpus is not None:
        _config._check_count(cpus, "runtime.dask.install: cpus")
    if qos is not None:
        _qos.level_number(qos, "runtime.dask.install")
    plugin = plugin_module.RuntimeWorkerPlugin(cpus=cpus, qos=qos)
    client.register_plugin(plugin, name=plugin.name)


def uninstall(client: Client) -> None:
    """Put every worker back as it was before :func:`install`: its thread
    count, its executor, NumPy unpatched.  Harmless when not installed.

    >>> import runtime.dask
    >>> from distributed import Client, LocalCluster
    >>> with LocalCluster(n_workers=1, processes=False, protocol="tcp", host="127.0.0.1",
    ...                   dashboard_address="127.0.0.1:0") as cluster:
    ...     with Client(cluster) as client:
    ...         runtime.dask.uninstall(client)
    """
    name = _plugin_module().PLUGIN_NAME
    # Asked first: unregistering a plugin the scheduler lacks logs an error
    # there.  A lambda travels by value, so the scheduler needs no runtime.
    if client.run_on_scheduler(lambda dask_scheduler: name in dask_scheduler.worker_plugins):
        client.unregister_worker_plugin(name)
