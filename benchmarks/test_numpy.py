"""pytest-benchmark versions of runtime.numpy's cases
(runtime/bench/numpy_cases.py):

    pytest benchmarks/test_numpy.py --benchmark-group-by=group

NumPy, runtime.numpy and the installed competitors (numexpr, numba) of each
case land in one group.  For ratios measured interleaved use
benchmarks/compare.py."""

from __future__ import annotations

import pytest

from runtime.bench import numpy_cases as cases


def sides(name: str) -> list[str]:
    return ["numpy", "runtime", *cases.competitors(cases.CASES[name])]


@pytest.mark.parametrize("name, side", [(n, s) for n in cases.CASES for s in sides(n)])
def test_case(benchmark, name, side):
    case = cases.CASES[name]
    if case.data is None:
        case.data = case.setup()
    run = {"numpy": case.baseline, "runtime": case.candidate,
           **cases.competitors(case)}[side]
    benchmark.group = name
    benchmark.extra_info["target"] = case.target
    benchmark.pedantic(run, args=(case.data,), rounds=case.repeats, warmup_rounds=2,
                       iterations=1)
