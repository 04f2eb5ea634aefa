"""Type checking a user's script: mypy --strict passes a correct one and
reports the mistakes of a wrong one (a misspelt QoS level, a callable that
does not fit the arrays or items, a non-callable, a wrong result type).
mypy runs on the installed package, from a folder outside this tree, as a
user's project would; so this also checks that an editable install is
visible to type checkers.  The declarations type checkers see for map,
reduce, map_items and submit (runtime/_signatures.pyi) must keep the
functions' keyword parameters."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import runtime

GOOD = '''\
from __future__ import annotations

import operator
from concurrent.futures import Future

import numpy as np
import numpy.typing as npt

import runtime

x = np.linspace(0.0, 1.0, 100_000)
w = np.full_like(x, 2.0)


def norm(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.sqrt(a * a + b * b)


y: npt.NDArray[np.float64] = runtime.map(norm, x, w, qos="interactive")
z = runtime.map(np.sin, x, grain=10_000)
total = runtime.reduce(np.sum, x, combine=operator.add)
lengths: list[int] = runtime.map_items(len, ["a", "bb"], qos="utility")
future: Future[int] = runtime.submit(sum, [1, 2, 3], qos="background")
doubled: int = future.result() * 2
previous: int = runtime.set_num_threads(runtime.get_num_threads())
with runtime.qos("initiated"):
    runtime.parallel_for(1000, lambda start, stop: None, qos="utility")


@runtime.parallel(qos="background", grain=1000)
def scaled(a: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return a * 2.0


scaled(x)
'''

# Line by line: the mistake, and the mypy error code it must draw.
BAD = [
    ('runtime.map(np.sin, x, qos="fast")', "call-overload"),  # no such level
    ('runtime.qos("backgound")', "arg-type"),
    ("runtime.map(two, x)", "arg-type"),  # two parameters, one array
    ("runtime.map_items(len, [1, 2, 3])", "arg-type"),  # len of an int
    ("runtime.submit(42)", "arg-type"),  # not callable
    ("count: str = runtime.submit(sum, [1, 2]).result()", "assignment"),  # Future[int]
    ("runtime.reduce(np.sum, x, combine=lambda a: a)", "arg-type"),  # combine takes two
    ("n: str = runtime.set_num_threads(2)", "assignment"),  # returns the previous int
]
BAD_HEADER = '''\
from __future__ import annotations

import numpy as np
import numpy.typing as npt

import runtime

x = np.linspace(0.0, 1.0, 1000)


def two(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return a + b


'''


def _mypy(tmp_path: Path, name: str, source: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / name
    script.write_text(source)
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-color-output",
                           "--cache-dir", str(tmp_path / "cache"), script.name],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)


needs_mypy = pytest.mark.skipif(importlib.util.find_spec("mypy") is None,
                                reason="needs mypy (pip install mypy; it is in the test extra)")


@needs_mypy
def test_a_correct_script_type_checks(tmp_path):
    result = _mypy(tmp_path, "good.py", GOOD)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found in 1 source file" in result.stdout


def test_the_correct_script_runs(tmp_path):
    """What mypy accepts also runs (in a child: it sets the thread count)."""
    script = tmp_path / "good.py"
    script.write_text(GOOD)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


@needs_mypy
def test_mistakes_are_type_errors(tmp_path):
    result = _mypy(tmp_path, "bad.py", BAD_HEADER + "\n".join(line for line, _ in BAD) + "\n")
    assert result.returncode == 1, result.stdout + result.stderr
    first = BAD_HEADER.count("\n") + 1
    found: dict[int, set[str]] = {}
    for line, code in re.findall(r"^bad\.py:(\d+): error: .*\[([a-z-]+)\]$", result.stdout,
                                 re.MULTILINE):
        found.setdefault(int(line), set()).add(code)
    expected = {first + i: code for i, (_, code) in enumerate(BAD)}
    missed = {BAD[n - first][0]: code for n, code in expected.items()
              if code not in found.get(n, set())}
    assert missed == {}, result.stdout
    assert set(found) == set(expected), result.stdout  # no error on any other line


def _declared(name: str) -> list[ast.FunctionDef]:
    tree = ast.parse((Path(runtime.__file__).parent / "_signatures.pyi").read_text())
    return [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name]


@pytest.mark.parametrize("name", ["map", "reduce", "map_items", "parallel_for", "submit"])
def test_declarations_keep_the_functions_keywords(name):
    """Every declaration of the name takes the keyword parameters the
    function takes, required where the function requires them."""
    function = getattr(runtime, name)
    keywords = {p.name: p.default is inspect.Parameter.empty
                for p in inspect.signature(function).parameters.values()
                if p.kind is inspect.Parameter.KEYWORD_ONLY}
    declarations = _declared(name)
    assert declarations
    for node in declarations:
        declared = {arg.arg: default is None
                    for arg, default in zip(node.args.kwonlyargs, node.args.kw_defaults)}
        assert declared == keywords, (name, node.lineno)
