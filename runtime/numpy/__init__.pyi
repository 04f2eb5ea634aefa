# runtime.numpy has NumPy's public names with NumPy's signatures, so it is
# typed as NumPy: the parallel versions take and return what NumPy's do.
from numpy import *  # noqa: F403
from numpy import __all__ as __all__

# Transparent mode (runtime/numpy/_patch.py): runtime.numpy's own names.
# (builtins.bool: the star import above makes `bool` NumPy's.)
import builtins
from contextlib import AbstractContextManager

def patch() -> None: ...
def restore() -> None: ...
def is_patched() -> builtins.bool: ...
def patched() -> AbstractContextManager[None]: ...
