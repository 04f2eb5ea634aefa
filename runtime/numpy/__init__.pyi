# runtime.numpy has NumPy's public names with NumPy's signatures, so it is
# typed as NumPy: the parallel versions take and return what NumPy's do.
from numpy import *  # noqa: F403
from numpy import __all__ as __all__
