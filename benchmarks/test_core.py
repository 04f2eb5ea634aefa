"""pytest-benchmark versions of the core cases (runtime/bench/cases.py):

    pytest benchmarks/ --benchmark-group-by=group

Each case's baseline and runtime version land in one group.  For ratios
measured interleaved (the figures quoted in the README) use
benchmarks/compare.py: pytest-benchmark runs one test after the other,
and on a shared machine the drift between them can exceed the effect."""

from __future__ import annotations

import pytest

from runtime.bench import cases


@pytest.fixture(scope="module", autouse=True)
def release_thread_pool():
    yield
    cases.shutdown_thread_pool()


@pytest.mark.parametrize("side", ["baseline", "runtime"])
@pytest.mark.parametrize("name", list(cases.CASES))
def test_case(benchmark, name, side):
    case = cases.CASES[name]
    if case.data is None:
        case.data = case.setup()
    run = case.baseline if side == "baseline" else case.candidate
    benchmark.group = name
    benchmark.extra_info["target"] = case.target
    benchmark.pedantic(run, args=(case.data,), rounds=case.repeats, warmup_rounds=2,
                       iterations=1)
