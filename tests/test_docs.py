"""The docs run: every ```python block of README.md and docs/*.md is
executed, each in a fresh interpreter from an empty folder (blocks write
files such as run.json); a block that imports a package that is not
installed is skipped, naming it.  The docstring examples of runtime's
modules run too (runtime.numpy's functions carry NumPy's own docstrings,
whose examples are NumPy's to run).  And the README's two commands stay
exactly as they are."""

from __future__ import annotations

import ast
import doctest
import importlib
import importlib.util
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import runtime

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks() -> list[tuple[str, str]]:
    """(where, source) of every python block: "README.md:42" is the line
    of its opening fence."""
    blocks = []
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        for found in FENCE.finditer(text):
            line = text.count("\n", 0, found.start()) + 1
            blocks.append((f"{document.relative_to(ROOT)}:{line}", found.group(1)))
    return blocks


def missing_modules(source: str) -> list[str]:
    """Top-level modules the block imports that are not installed."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return sorted(name for name in names if importlib.util.find_spec(name) is None)


BLOCKS = python_blocks()


def test_the_docs_have_python_blocks():
    assert len(BLOCKS) >= 4, BLOCKS


@pytest.mark.parametrize("where, source", BLOCKS, ids=[where for where, _ in BLOCKS])
def test_python_block_runs(where, source, tmp_path):
    missing = missing_modules(source)
    if missing:
        pytest.skip(f"{where} needs {', '.join(missing)} (not installed)")
    result = subprocess.run([sys.executable, "-c", source], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, f"{where} failed:\n{result.stderr}"


def test_the_readme_keeps_its_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "\n    pip install -e . && python -m runtime demo\n" in readme
    assert '\n    pip install -e ".[test]" && pytest\n' in readme


# Imported by modules of runtime's optional extras only.
OPTIONAL_MODULES = {"dask", "distributed"}
# Examples that start a Dask cluster run in a fresh interpreter:
# distributed keeps a thread for the life of the process (Dask-Offload),
# which the suite's check for threads left behind would find.
FRESH_INTERPRETER = ("runtime.dask._install.",)


def _docstring_examples() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder()
    found = []
    for module_info in pkgutil.walk_packages(runtime.__path__, "runtime."):
        if module_info.name == "runtime.__main__":
            continue
        try:
            module = importlib.import_module(module_info.name)
        except ModuleNotFoundError as error:
            if error.name in OPTIONAL_MODULES:
                continue  # runtime.dask's plugin without the [dask] extra
            raise
        if module_info.name == "runtime.numpy":
            # Its functions carry NumPy's docstrings, whose examples are
            # NumPy's to run; its own examples run in a namespace of their
            # own, as a user types them (its globals are NumPy's names:
            # `bool` there is np.bool).
            found += [t for t in finder.find(module, globs={}) if t.examples
                      and t.name == "runtime.numpy"]
            continue
        found += [t for t in finder.find(module) if t.examples]
    return found


EXAMPLES = _docstring_examples()


@pytest.mark.parametrize("test", EXAMPLES, ids=[t.name for t in EXAMPLES])
def test_docstring_example_runs(test, threads):
    if test.name.startswith(FRESH_INTERPRETER):
        missing = sorted(name for name in OPTIONAL_MODULES
                         if importlib.util.find_spec(name) is None)
        if missing:
            pytest.skip(f"{test.name} needs {', '.join(missing)} (not installed)")
        run_in_fresh_interpreter(test)
        return
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    output: list[str] = []
    result = runner.run(test, out=output.append, clear_globs=True)
    assert result.failed == 0, "".join(output)


def run_in_fresh_interpreter(test: doctest.DocTest) -> None:
    code = (
        "import doctest, importlib, sys\n"
        f"module = importlib.import_module({test.globs['__name__']!r})\n"
        f"test = next(t for t in doctest.DocTestFinder().find(module) if t.name == {test.name!r})\n"
        "runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)\n"
        "sys.exit(runner.run(test).failed)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


# Pointers to what a reader of this repository cannot open: the
# workspace's own notes and tracker numbers (this file is not searched).
DANGLING = re.compile(r"BENCHMARKS\.md|\bshared/|\bissues? #?\d+", re.IGNORECASE)
SKIPPED_PARTS = {".git", "build", "dist", "__pycache__", ".pytest_cache", ".mypy_cache",
                 ".hypothesis", ".benchmarks"}
TEXT_SUFFIXES = {".py", ".pyx", ".pyi", ".c", ".h", ".md", ".toml", ".yml", ".in", ".txt", ".cfg"}


def test_no_reference_to_files_outside_the_repository():
    found = []
    for path in sorted(ROOT.rglob("*")):
        relative = path.relative_to(ROOT)
        if (set(relative.parts) & SKIPPED_PARTS or relative.parts[0].startswith(".venv")
                or any(part.endswith(".egg-info") for part in relative.parts)
                or not path.is_file() or path == Path(__file__).resolve()):
            continue
        if path.suffix not in TEXT_SUFFIXES and path.name not in ("Makefile", "run"):
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if DANGLING.search(line):
                found.append(f"{relative}:{number}: {line.strip()}")
    assert found == []
