"""What runtime is published as: the distribution's name on PyPI and its
version.  The import package is ``runtime``; the distribution is
``hetero-runtime`` (the name ``runtime`` on PyPI is an unrelated project,
so ``pip install runtime`` would install that one).  pyproject.toml reads
VERSION from here, so the version is written in one place."""

NAME = "hetero-runtime"
VERSION = "0.1.0"


def install_hint(extra: str) -> str:
    """The command that installs an extra of this distribution.

    >>> install_hint("bench")
    'pip install "hetero-runtime[bench]"'
    """
    return f'pip install "{NAME}[{extra}]"'
