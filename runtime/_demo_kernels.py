"""The former name of runtime._kernels, kept only because
runtime/_schedule.py (changed elsewhere at present) still imports it: its
import becomes ``from . import _config, _core, _kernels`` and its two
``_demo_kernels.`` uses ``_kernels.``; then this file goes."""

from ._kernels import kernel, sum_context

__all__ = ["kernel", "sum_context"]
