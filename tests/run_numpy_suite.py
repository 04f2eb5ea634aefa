"""Run NumPy's own tests against runtime.numpy, and against NumPy.

    python tests/run_numpy_suite.py [--modules test_umath,test_linalg,...]
                                    [--modes default,forced,patched,patched-forced]
                                    [--timeout SECONDS]

For each module (numpy/<path>.py of the installed NumPy, default: all of
MODULES), its test directory is copied into a temporary directory: as is,
with ``import numpy as np`` replaced by ``import runtime.numpy as np``, and
as is with a conftest.py that imports runtime with RUNTIME_PATCH_NUMPY=1.
The unmodified copy is run once with plain NumPy, then each mode runs:

* default: runtime.numpy as a program gets it (NumPy's small test arrays
  mostly go straight to NumPy);
* forced: ``RUNTIME_FORCE_SPLIT=1`` (runtime/numpy/_forced.py): every call
  runtime can split is split, in chunks of one row, whatever its size;
* patched: NumPy's own tests, unmodified, in a process where NumPy's ufunc
  loops are patched (``RUNTIME_PATCH_NUMPY=1``, runtime.numpy.patch());
* patched-forced: patched, with ``RUNTIME_FORCE_SPLIT=1`` as well: every
  patched loop call of two elements or more splits.

Pass sets are compared test by test (JUnit XML): the report gives, per
module and mode, the counts and the tests that pass under NumPy but not
under runtime.numpy.  Not part of the pytest run (NumPy's suites take
minutes and test NumPy as much as runtime).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree

import numpy

MODULES = {
    "test_umath": "_core/tests/test_umath.py",
    "test_ufunc": "_core/tests/test_ufunc.py",
    "test_numeric": "_core/tests/test_numeric.py",
    "test_function_base": "lib/tests/test_function_base.py",
    "test_nanfunctions": "lib/tests/test_nanfunctions.py",
    "test_linalg": "linalg/tests/test_linalg.py",
    "test_multiarray": "_core/tests/test_multiarray.py",
}
# mode -> (the copy it runs, its environment)
MODES = {
    "default": ("runtime", {}),
    "forced": ("runtime", {"RUNTIME_FORCE_SPLIT": "1"}),
    "patched": ("patched", {"RUNTIME_PATCH_NUMPY": "1"}),
    "patched-forced": ("patched", {"RUNTIME_PATCH_NUMPY": "1", "RUNTIME_FORCE_SPLIT": "1"}),
}
# The patched copy's conftest.py: the whole session runs with NumPy's loops
# patched, and says so in its header (a run that is not patched stops).
PATCHED_CONFTEST = """\
import runtime.numpy

assert runtime.numpy.is_patched(), "RUNTIME_PATCH_NUMPY=1 did not patch NumPy's loops"


def pytest_report_header(config):
    return "runtime.numpy.patch() in force"
"""
OUTCOMES = ("passed", "failed", "error", "skipped")


def outcomes(junit: str) -> dict[str, str]:
    """test id -> passed/failed/error/skipped, from pytest's JUnit XML."""
    result: dict[str, str] = {}
    if not os.path.exists(junit):
        return result
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case}
        result[name] = ("failed" if "failure" in kinds else "error" if "error" in kinds
                        else "skipped" if "skipped" in kinds else "passed")
    return result


def run(directory: str, module: str, env: dict[str, str], timeout: int) -> dict[str, str]:
    junit = os.path.join(directory, "junit.xml")
    if os.path.exists(junit):
        os.remove(junit)
    try:
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
             "-W", "ignore", f"--junitxml={junit}", os.path.join(directory, module)],
            cwd=directory, capture_output=True, text=True, env={**os.environ, **env},
            timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"  {module}: timed out after {timeout} s", file=sys.stderr)
    return outcomes(junit)


def prepared(root: str, path: str, variant: str) -> tuple[str, str]:
    """A copy of the test module's directory for `variant`; (directory, file name)."""
    source_dir = os.path.join(os.path.dirname(numpy.__file__), os.path.dirname(path))
    directory = os.path.join(root, variant, os.path.dirname(path).replace("/", "_"))
    shutil.copytree(source_dir, directory, ignore=shutil.ignore_patterns("__pycache__"),
                    dirs_exist_ok=True)
    module = os.path.basename(path)
    if variant == "patched":
        with open(os.path.join(directory, "conftest.py"), "w") as f:
            f.write(PATCHED_CONFTEST)
    if variant == "runtime":
        target = os.path.join(directory, module)
        with open(target) as f:
            text = f.read()
        text = re.sub(r"^import numpy as np$", "import runtime.numpy as np", text,
                      flags=re.MULTILINE)
        with open(target, "w") as f:
            f.write(text)
    return directory, module


def counts(result: dict[str, str]) -> str:
    return " ".join(f"{sum(v == kind for v in result.values())} {kind}" for kind in OUTCOMES)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", default=",".join(MODULES),
                        help=f"comma-separated, of {', '.join(MODULES)}")
    parser.add_argument("--modes", default=",".join(MODES), help=",".join(MODES))
    parser.add_argument("--timeout", type=int, default=1800, help="per module and mode")
    parser.add_argument("--show", type=int, default=25, help="failing tests listed per mode")
    args = parser.parse_args()
    print(f"NumPy {numpy.__version__}, Python {sys.version.split()[0]}")
    status = 0
    with tempfile.TemporaryDirectory() as root:
        for name in args.modules.split(","):
            path = MODULES.get(name, name)
            baseline = run(*prepared(root, path, "numpy"), {}, args.timeout)
            print(f"{name}\n  {'numpy':16} {counts(baseline)}")
            for mode in args.modes.split(","):
                variant, env = MODES[mode]
                result = run(*prepared(root, path, variant), env, args.timeout)
                only = sorted(test for test, kind in baseline.items()
                              if kind == "passed" and result.get(test) != "passed")
                print(f"  {mode:16} {counts(result)}; "
                      f"pass under NumPy only: {len(only)}")
                for test in only[:args.show]:
                    print(f"      {test} ({result.get(test, 'not run')})")
                if len(only) > args.show:
                    print(f"      ... {len(only) - args.show} more")
                status |= bool(only)
            sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
