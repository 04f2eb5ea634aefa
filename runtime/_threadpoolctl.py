"""runtime's pool as a threadpoolctl library, so that
``threadpoolctl.threadpool_info()`` lists it and
``threadpool_limits(limits=1)`` (as scikit-learn and others use) limits it
like OpenBLAS or OpenMP.

threadpoolctl finds libraries by file name; the extension module
``runtime/_core.*.so`` exports ``runtime_threadpool_get_num_threads`` so
that only it matches, not another package's ``_core``.
"""

from __future__ import annotations

import sys
from typing import Any

from threadpoolctl import LibController, register

from . import _config


class RuntimeController(LibController):
    user_api = "runtime"
    internal_api = "runtime"
    filename_prefixes = ("_core.",)
    check_symbols = ("runtime_threadpool_get_num_threads",)

    def get_num_threads(self) -> int:
        return _config.num_threads()

    def set_num_threads(self, num_threads: int) -> None:
        _config.set_num_threads(max(1, int(num_threads)))

    def info(self, debugging_info: bool = False) -> dict[str, Any]:
        # numpy_patched: whether NumPy's own ufunc loops run on this pool
        # (runtime.numpy.patch()), so that a threadpool_info() dump says so.
        return {**super().info(debugging_info), "numpy_patched": numpy_patched()}

    def get_version(self) -> str:
        from . import __version__

        return __version__


def numpy_patched() -> bool:
    """Whether runtime.numpy.patch() is in force (without importing
    runtime.numpy when nothing did)."""
    patch = sys.modules.get("runtime.numpy._patch")
    return patch is not None and patch.is_patched()


register(RuntimeController)
