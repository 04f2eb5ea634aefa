"""python -m runtime run script.py args...: a whole program, unmodified,
with NumPy's own ufunc loops on the pool (runtime.numpy.patch())."""

from __future__ import annotations

import os
import runpy
import sys


def run_script(script: str, args: list[str]) -> None:
    """Patch NumPy's loops, then run `script` as ``__main__`` with
    ``sys.argv`` = [script, *args] and the script's directory first on
    ``sys.path``, as ``python script.py args...`` would.  Its exit status
    (SystemExit) and exceptions pass through."""
    if not os.path.isfile(script):
        raise FileNotFoundError(f"python -m runtime run: no such script: {script!r}")
    from .numpy import _patch

    _patch.patch()
    sys.argv = [script, *args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")
