"""Run NumPy's own ufunc tests against runtime.numpy, and against NumPy.

    python tests/run_numpy_suite.py [--module test_umath] [--split GRAIN]

Copies NumPy's installed test module (numpy/_core/tests/<module>.py) into
a temporary directory twice: as is, and with ``import numpy as np``
replaced by ``import runtime.numpy as np``.  With --split, every runtime
call in the second copy splits into chunks of GRAIN elements (so NumPy's
small test arrays take the parallel paths).  Prints both pass/fail counts
and the tests that fail only under runtime.numpy.  Not part of the pytest
run (NumPy's suite takes minutes and tests NumPy as much as runtime).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy

CONFTEST_SPLIT = """
import pytest
from runtime import _schedule


@pytest.fixture(autouse=True)
def _split_every_call():
    with _schedule.forced_split({grain}):
        yield
"""


def run(directory: str, module: str) -> tuple[dict[str, int], set[str]]:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf",
         "-o", "addopts=", "-W", "ignore", os.path.join(directory, module + ".py")],
        cwd=directory, capture_output=True, text=True)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|xfailed|"
                                                     r"xpassed|errors?)", summary)}
    failed = set(re.findall(r"^FAILED (\S+)", result.stdout, re.MULTILINE))
    failed = {name.split("::", 1)[1].split(" ")[0] for name in failed}
    return counts, failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", default="test_umath")
    parser.add_argument("--split", type=int, default=0,
                        help="force every runtime call to split into chunks of this size")
    args = parser.parse_args()
    source = os.path.join(os.path.dirname(numpy.__file__), "_core", "tests", args.module + ".py")
    with tempfile.TemporaryDirectory() as root:
        results = {}
        for variant in ("numpy", "runtime.numpy"):
            directory = os.path.join(root, variant.replace(".", "_"))
            os.makedirs(directory)
            shutil.copy(source, directory)
            if variant == "runtime.numpy":
                path = os.path.join(directory, args.module + ".py")
                with open(path) as f:
                    text = f.read()
                text = re.sub(r"^import numpy as np$", "import runtime.numpy as np", text,
                              flags=re.MULTILINE)
                with open(path, "w") as f:
                    f.write(text)
                if args.split:
                    with open(os.path.join(directory, "conftest.py"), "w") as f:
                        f.write(CONFTEST_SPLIT.format(grain=args.split))
            results[variant] = run(directory, args.module)
            print(f"{variant:14s} {results[variant][0]}")
        only = sorted(results["runtime.numpy"][1] - results["numpy"][1])
        print(f"fail only under runtime.numpy: {len(only)}")
        for name in only:
            print("  " + name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
