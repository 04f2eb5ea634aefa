#!/usr/bin/env bash
# The test suite and the C sanitizer tests again on free-threaded CPython
# (PEP 703, 3.13t). No package of this OS provides such an interpreter, so
# it is built from the upstream source that Debian's python3.13 source
# package carries (its .orig tarball), from a newer Debian release's source
# archive, with ./configure --disable-gil. Built once into a prefix outside
# the clone and reused while it is there and free-threaded.
#
#   .ci/free-threaded.sh              build (or reuse) 3.13t, then test
#   .ci/free-threaded.sh interpreter  only build (or reuse) 3.13t
#
# Environment: FT_PREFIX (default /opt/python3.13t), FT_VENV (default
# .venv-ft in the clone), FT_SUITE (a Debian suite with python3.13 sources,
# default trixie).
set -euo pipefail
cd "$(dirname "$0")/.."

FT_PREFIX=${FT_PREFIX:-/opt/python3.13t}
FT_VENV=${FT_VENV:-.venv-ft}
FT_SUITE=${FT_SUITE:-trixie}
FT_PYTHON="$FT_PREFIX/bin/python3.13t"

is_free_threaded() {
    [ -x "$FT_PYTHON" ] && "$FT_PYTHON" -c '
import sys, sysconfig
sys.exit(0 if sysconfig.get_config_var("Py_GIL_DISABLED") else 1)'
}

build_interpreter() {
    local work
    work=$(mktemp -d /tmp/python3.13t-build.XXXXXX)
    echo "== 3.13t: fetching python3.13's source from Debian $FT_SUITE into $work"
    # A private apt configuration: the deb-src entry, the lists it
    # downloads and the archive stay in $work, and the machine's own apt
    # sources are left as they are.
    mkdir -p "$work/apt/lists/partial" "$work/apt/sources.list.d"
    echo "deb-src http://deb.debian.org/debian $FT_SUITE main" > "$work/apt/sources.list"
    local apt_options=(
        -o "Dir::Etc::sourcelist=$work/apt/sources.list"
        -o "Dir::Etc::sourceparts=$work/apt/sources.list.d"
        -o "Dir::State::lists=$work/apt/lists"
        -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
        -o "APT::Sandbox::User=root"
    )
    apt-get "${apt_options[@]}" -q update
    (cd "$work" && apt-get "${apt_options[@]}" -q source --download-only python3.13)
    # The .orig tarball is upstream's release as it is; Debian's own
    # patches (its install layout) are not wanted here.
    local orig
    orig=$(ls "$work"/python3.13_*.orig.tar.* | head -n 1)
    tar -xf "$orig" -C "$work"
    local source
    source=$(find "$work" -maxdepth 1 -type d -name 'Python-3.13*' | head -n 1)
    echo "== 3.13t: building $(basename "$source") --disable-gil into $FT_PREFIX"
    # No --enable-optimizations (PGO would triple the build time); the
    # interpreter runs the tests, the timed figures come from the GIL build
    # and this one alike without it.
    (cd "$source" \
        && ./configure -q --disable-gil --prefix="$FT_PREFIX" --with-ensurepip=install \
        && make -s -j"$(nproc)" \
        && make -s install) > "$work/build.log" 2>&1 \
        || { tail -n 60 "$work/build.log"; exit 1; }
    rm -rf "$work"
}

if is_free_threaded; then
    echo "== 3.13t: reusing $FT_PYTHON"
else
    build_interpreter
    is_free_threaded || { echo "$FT_PYTHON is not a free-threaded build" >&2; exit 1; }
fi
"$FT_PYTHON" -VV
[ "${1:-}" = interpreter ] && exit 0

echo "== 3.13t: virtual environment $FT_VENV"
"$FT_PYTHON" -m venv --clear "$FT_VENV"
# shellcheck disable=SC1091
source "$FT_VENV/bin/activate"
# The test extra as pyproject.toml declares it, less the packages with no
# build for 3.13t (their tests skip): cffi (cffi's free-threading support
# starts at 3.14t) and numba (llvmlite has no 3.13t build).  NumPy 2.5
# dropped the 3.13t wheels.  Built releases first (--prefer-binary): where
# a package's newest release has no 3.13t wheel (matplotlib), pip takes the
# newest that has one, and builds from source only what has none at all
# (PyYAML, tornado, msgpack: C compiled in seconds).  Two have native cores
# whose build needs Rust crates from outside the registries, so only their
# wheels will do: hypothesis, and ast-serialize (mypy 2; mypy 1 then).
python - > "$FT_VENV/test-requirements.txt" <<'PYTHON'
import re, tomllib
with open("pyproject.toml", "rb") as f:
    test = tomllib.load(f)["project"]["optional-dependencies"]["test"]
NO_FREE_THREADED_BUILD = {"cffi", "numba"}
print("\n".join(r for r in test if re.match(r"[A-Za-z0-9_.-]+", r)[0] not in NO_FREE_THREADED_BUILD))
print("numpy<2.5")
PYTHON
pip install -q --upgrade pip
pip install -q --prefer-binary --only-binary hypothesis,ast-serialize \
    -r "$FT_VENV/test-requirements.txt" "cython>=3.1" "setuptools>=77" wheel
pip install -q --no-build-isolation -e .

echo "== 3.13t: the test suite (the free-threaded stress test included)"
# A module imported without free-threading support turns the GIL back on,
# and this would be a GIL run in disguise: checked here, and after the
# suite's imports by tests/test_free_threaded.py.
python -c 'import sys; assert not sys._is_gil_enabled(), "3.13t runs with the GIL"'
# Two parts of the suite are left to the normal run, to keep CI short (they
# took 5 and 2.5 of the 14 minutes the whole suite took here on 3.13t, and
# passed): the packaging tests (the sdist and wheel of the same sources,
# built three more times; the editable install above already compiled every
# extension for 3.13t, and test_free_threaded imports them), and mypy on the
# typing examples (static checks, the same on any interpreter; mypy has no
# compiled 3.13t build).  FT_WHOLE_SUITE=1 runs them too; their builds then
# take NumPy from a wheel (its newest release has no 3.13t wheel).
if [ "${FT_WHOLE_SUITE:-0}" = 1 ]; then
    PIP_ONLY_BINARY=numpy pytest
else
    pytest -m "not packaging" --ignore=tests/test_typing.py
fi
# The C core's sanitizer runs (make -C csrc sanitize, in .ci/run) build
# and run csrc/ alone, with no Python: the same on either interpreter, so
# they are not run twice.
