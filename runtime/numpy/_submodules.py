"""``import runtime.numpy.linalg`` (and every other NumPy submodule) gives
NumPy's own module, as ``runtime.numpy.linalg`` attribute access does.

A meta-path finder answers for ``runtime.numpy.<name>`` where ``<name>`` is
not one of runtime.numpy's own modules, by importing ``numpy.<name>`` and
handing back that very module object (so ``np.linalg is numpy.linalg``).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import Sequence

PREFIX = "runtime.numpy."


class _Alias(importlib.abc.Loader):
    def __init__(self, module: ModuleType) -> None:
        self.module = module

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self.module

    def exec_module(self, module: ModuleType) -> None:
        pass  # NumPy ran it when it was imported as numpy.<name>


class NumPySubmodules(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(PREFIX):
            return None
        rest = fullname[len(PREFIX):]
        if rest.split(".")[0].startswith("_"):
            return None  # runtime.numpy's own modules (_ufunc, _elementwise, ...)
        if importlib.util.find_spec("numpy." + rest) is None:
            return None
        module = importlib.import_module("numpy." + rest)
        # Keep NumPy's own spec on the module: the import system leaves an
        # existing __spec__ alone, and numpy.<name> stays its true name.
        return importlib.machinery.ModuleSpec(fullname, _Alias(module))


def install() -> None:
    if not any(isinstance(f, NumPySubmodules) for f in sys.meta_path):
        sys.meta_path.append(NumPySubmodules())
