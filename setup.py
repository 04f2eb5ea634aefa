"""Build of runtime: the C pool in csrc/ and its Cython binding runtime/_core.

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
    depends=["runtime/_pythread.h", "runtime/_kernels.h"] + sorted(glob.glob("csrc/*.h")),
)

# runtime.numpy's two extensions read array headers through NumPy's C API:
# the parallel ufunc type, and NumPy's strided loops run with no GIL.
numpy_extensions = [
    Extension(
        f"runtime.numpy.{name}",
        sources=[f"runtime/numpy/{name}.pyx"],
        include_dirs=[numpy.get_include()],
        extra_compile_args=[f for f in cflags if f != "-std=c11"],
        extra_link_args=ldflags,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    for name in ("_ufunc", "_loops")
]

setup(
    name="runtime",
    version="0.1.0",
    description="Heterogeneous-core task runtime for NumPy: a work-stealing pool with per-job QoS",
    long_description=open("README.md", encoding="utf-8").read() if os.path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=["runtime", "runtime.numpy"],
    package_data={"runtime": ["py.typed", "*.pyi"], "runtime.numpy": ["*.pyi"]},
    ext_modules=cythonize([extension, *numpy_extensions], language_level=3,
                          compiler_directives={"embedsignature": True}),
    install_requires=[
        # NumPy 2: np.errstate in contextvars (propagated to chunks), NEP 50
        # promotion (a chunk's result dtype is the whole call's); 2.1 for
        # np.reshape(copy=False) (runtime.numpy's batched matmul views).
        "numpy>=2.1",
        "psutil>=5.9",
        "cffi>=1.15",
        # threadpoolctl: the standard way to see and limit native thread pools
        # (OpenBLAS, MKL, OpenMP); runtime registers its own pool with it and
        # uses it to hold BLAS to one thread inside parallel chunks.
        "threadpoolctl>=3.3",
        # tqdm: progress bars of runtime.map_items(progress=True) and
        # python -m runtime bench.
        "tqdm>=4.60",
    ],
    extras_require={
        # numba: the only way to test numba cfunc kernels for real (5 s to install).
        # matplotlib: the bench's plots are tested too.
        # dask[array]: a real NEP 18/13 duck array; runtime.numpy must hand it
        # exactly what NumPy does (tests/test_numpy_duck_arrays.py).
        "test": ["pytest>=7", "pytest-benchmark>=4", "hypothesis>=6", "cffi>=1.15", "numba>=0.58",
                 "matplotlib>=3.6", "dask[array]>=2023.1"],
        # matplotlib: python -m runtime bench's PNG plots (3.6: Figure(layout=)).
        "bench": ["pytest-benchmark>=4", "numexpr>=2.8", "numba>=0.58", "matplotlib>=3.6"],
    },
)
