"""The distribution a stranger installs: the sdist and the wheel are built
from a copy of this tree, each is installed into a fresh virtual
environment, and `python -m runtime demo --quick` runs there.

The builds are isolated, as pip's are: their requirements (setuptools,
Cython, NumPy) come from the package index or pip's cache.  Where they
cannot be had (no network, no cache) the test is skipped saying so; where
`build` is missing too.  `pytest -m "not packaging"` leaves it out (about a
minute on 2 CPUs)."""

from __future__ import annotations

import email.parser
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import runtime
from runtime import _distribution

ROOT = Path(__file__).resolve().parent.parent
BUILD_REQUIRES = ["setuptools>=77", "Cython>=3.1", "numpy>=2.1"]
TIMEOUT = 600  # one step: a build compiles the C core and three extensions

pytestmark = [
    pytest.mark.packaging,
    pytest.mark.skipif(importlib.util.find_spec("build") is None,
                       reason="needs the 'build' package (pip install build; it is in the "
                              "test extra)"),
]


def _environment() -> dict[str, str]:
    """This process's environment, less what would let the fresh
    environments see this tree or the user's site-packages."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PYTHONNOUSERSITE="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                            env=_environment(), timeout=TIMEOUT)
    assert result.returncode == 0, (f"{' '.join(command)} failed ({result.returncode}):\n"
                                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def _copy_tree(destination: Path) -> Path:
    """The project as a clean checkout has it: no build outputs, no
    virtual environments, no caches (the sdist must not depend on them)."""
    ignored = shutil.ignore_patterns(".git", ".venv*", "build", "dist", "*.egg-info", "*.so",
                                     "__pycache__", ".pytest_cache", ".mypy_cache",
                                     ".hypothesis", ".benchmarks", "runtime-bench")
    shutil.copytree(ROOT, destination, ignore=ignored)
    return destination


@pytest.fixture(scope="module")
def distributions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist, and the wheel built from it (what `python -m build` does)."""
    reachable = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
         *BUILD_REQUIRES], capture_output=True, text=True, env=_environment(), timeout=TIMEOUT)
    if reachable.returncode != 0:
        pytest.skip("the isolated build's requirements cannot be fetched here (no package "
                    "index or cache?): " + (reachable.stderr.strip().splitlines() or ["?"])[-1])
    work = tmp_path_factory.mktemp("packaging")
    source = _copy_tree(work / "source")
    _run([sys.executable, "-m", "build", "--outdir", str(work / "dist"), str(source)], work)
    found = {"sdist": list((work / "dist").glob("*.tar.gz")),
             "wheel": list((work / "dist").glob("*.whl"))}
    assert all(len(paths) == 1 for paths in found.values()), found
    return {kind: paths[0] for kind, paths in found.items()}


def test_the_sdist_carries_every_source_the_build_and_the_tests_read(distributions):
    with tarfile.open(distributions["sdist"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    tracked_sources = ["LICENSE", "README.md", "pyproject.toml", "setup.py", "MANIFEST.in",
                       "runtime/_core.pyx", "runtime/_core.pyi", "runtime/_kernels.c",
                       "runtime/_kernels.h", "runtime/_pythread.h", "runtime/py.typed",
                       "runtime/numpy/_ufunc.pyx", "runtime/numpy/_loops.pyx",
                       "runtime/numpy/_patched_loops.pyx", "runtime/numpy/_patched_loops.h",
                       "csrc/pool.c", "csrc/pool.h", "csrc/SLEEP.md", "csrc/Makefile",
                       "csrc/tests/test_pool.c", "tests/conftest.py", "docs/ARCHITECTURE.md"]
    assert [name for name in tracked_sources if name not in names] == []
    # Cython writes these at build time; a stale copy must not travel.
    generated = {"runtime/_core.c", "runtime/numpy/_ufunc.c", "runtime/numpy/_loops.c",
                 "runtime/numpy/_patched_loops.c"}
    assert names & generated == set()
    assert not [name for name in names if name.endswith(".so")]


def test_the_wheel_says_what_it_is(distributions):
    with zipfile.ZipFile(distributions["wheel"]) as wheel:
        names = set(wheel.namelist())
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(wheel.read(info).decode())
    assert metadata["Name"] == _distribution.NAME == "hetero-runtime"
    assert metadata["Version"] == runtime.__version__
    assert metadata["License-Expression"] == "MIT"
    assert {"runtime/py.typed", "runtime/__init__.py", "runtime/numpy/__init__.pyi"} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    # Only what runtime imports at run time is required; the rest are extras.
    required = sorted(r.split(">")[0].split(";")[0].strip()
                      for r in metadata.get_all("Requires-Dist") if "extra ==" not in r)
    assert required == ["numpy", "threadpoolctl", "tqdm"]
    assert {"cffi", "bench", "test"} <= set(metadata.get_all("Provides-Extra"))


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_installs_into_a_fresh_environment_and_runs_the_demo(distributions, kind, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    _run([str(python), "-m", "pip", "install", "--quiet", str(distributions[kind])], tmp_path)
    # From tmp_path, so neither this tree nor its built extensions are found.
    where = _run([str(python), "-c", "import runtime; print(runtime.__file__)"], tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(venv)
    demo = _run([str(python), "-m", "runtime", "demo", "--quick"], tmp_path)
    assert "results match NumPy" in demo.stdout, demo.stdout
