"""The extension build of runtime: the C pool in csrc/, its Cython binding
runtime/_core and runtime.numpy's two extensions.

Build variants, chosen by environment variable at build time (as msgspec
does):
  RUNTIME_DEBUG=1            -O0 -g, assertions on
  RUNTIME_SANITIZE=address   -fsanitize=address,undefined (run Python with
                             LD_PRELOAD=$(gcc -print-file-name=libasan.so))
  RUNTIME_SANITIZE=thread    -fsanitize=thread
Never -march=native: a built wheel must run on other CPUs, and NumPy's own
loops already pick their SIMD at run time.
"""
import glob
import os

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

C_SOURCES = ["csrc/deque.c", "csrc/sleep.c", "csrc/injector.c", "csrc/pool.c", "csrc/trace.c",
             "csrc/qos_linux.c", "csrc/qos_darwin.c", "csrc/qos_none.c"]


if os.environ.get("RUNTIME_DEBUG", "") not in ("", "0", "1"):
    raise SystemExit(f"RUNTIME_DEBUG must be 1 (a debug build) or 0, got "
                     f"{os.environ['RUNTIME_DEBUG']!r}")


def build_kind():
    if os.environ.get("RUNTIME_SANITIZE"):
        return f"sanitize={os.environ['RUNTIME_SANITIZE']}"
    return "debug" if os.environ.get("RUNTIME_DEBUG") == "1" else "release"


def compile_flags():
    flags = ["-std=c11", "-pthread", "-Wall", "-Wextra", "-Wno-unused-parameter",
             "-Wno-unused-function"]
    link = ["-pthread"]
    if os.environ.get("RUNTIME_DEBUG") == "1":
        flags += ["-O0", "-g3", "-UNDEBUG"]
    else:
        flags += ["-O3", "-DNDEBUG"]
    sanitize = os.environ.get("RUNTIME_SANITIZE", "")
    if sanitize == "address":
        flags += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
        link += ["-fsanitize=address,undefined"]
    elif sanitize == "thread":
        flags += ["-fsanitize=thread"]
        link += ["-fsanitize=thread"]
    elif sanitize:
        raise SystemExit(f"RUNTIME_SANITIZE must be 'address' or 'thread', got {sanitize!r}")
    return flags, link


cflags, ldflags = compile_flags()
extension = Extension(
    "runtime._core",
    sources=["runtime/_core.pyx", "runtime/_kernels.c"] + C_SOURCES,
    include_dirs=["csrc", "runtime"],
    extra_compile_args=cflags,
    extra_link_args=ldflags,
    define_macros=[("RUNTIME_BUILD", f'"{build_kind()}"')],
    depends=["runtime/_pythread.h", "runtime/_freethreading.h", "runtime/_kernels.h"]
    + sorted(glob.glob("csrc/*.h")),
)

# runtime.numpy's extensions read array headers through NumPy's C API: the
# parallel ufunc type, NumPy's strided loops run with no GIL, and the
# replacement of NumPy's own loop tables (runtime.numpy.patch()).
numpy_extensions = [
    Extension(
        f"runtime.numpy.{name}",
        sources=[f"runtime/numpy/{name}.pyx"],
        include_dirs=[numpy.get_include()],
        extra_compile_args=[f for f in cflags if f != "-std=c11"],
        extra_link_args=ldflags,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        depends=[f"runtime/numpy/{name}.h"] if name == "_patched_loops" else [],
    )
    for name in ("_ufunc", "_loops", "_patched_loops")
]
# The entry points' inline decision, compiled (reads array headers too).
inline_extension = Extension(
    "runtime._inline",
    sources=["runtime/_inline.pyx"],
    include_dirs=[numpy.get_include(), "runtime"],
    depends=["runtime/_freethreading.h"],
    extra_compile_args=[f for f in cflags if f != "-std=c11"],
    extra_link_args=ldflags,
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
)

# Big outputs from runtime's cache, through NumPy's memory-handler interface.
outputs_extension = Extension(
    "runtime._outputs",
    sources=["runtime/_outputs.pyx", "runtime/_output_cache.c"],
    include_dirs=[numpy.get_include(), "runtime"],
    extra_compile_args=[f for f in cflags if f != "-std=c11"],
    extra_link_args=ldflags,
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    depends=["runtime/_output_cache.h"],
)

# Everything else about the distribution (name, version, dependencies,
# packages) is in pyproject.toml; this file only builds the extensions.
setup(
    ext_modules=cythonize([extension, inline_extension, outputs_extension, *numpy_extensions], language_level=3,
                          compiler_directives={"embedsignature": True}),
)
