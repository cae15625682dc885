"""Suite-wide rules.

In CI (env CI set) a test may not skip because something is missing — a module, the
Docker engine, bubblewrap: CI installs all of it (a GPU it cannot have: tests marked
`gpu` may skip), so a skip there would hide a test
that never ran. Outside CI such skips stay skips, so a partial dev setup still works.
"""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# Property tests (marked `fuzz`): a bounded number of examples in the suite, seconds in
# all; `tests/benchmarks/bench_fuzz.py` runs the same tests under the "fuzz" profile for
# minutes. Derandomized in CI so a red run can be rerun as it was.
settings.register_profile("suite", max_examples=150, deadline=None, derandomize=bool(os.environ.get("CI")),
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=int(os.environ.get("AMA_FUZZ_EXAMPLES", "20000")),
                          deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("AMA_HYPOTHESIS_PROFILE", "suite"))

_MISSING_MARKERS = ("could not import", "No module named", "docker", "bwrap", "bubblewrap",
                    "not installed", "not available", "no engine")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not os.environ.get("CI") or not report.skipped or item.get_closest_marker("gpu"):
        return  # CI machines have no GPU: gpu tests may skip there
    if hasattr(report, "wasxfail"):
        return  # an expected failure, not a skip: its traceback is no reason to look at
    reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if any(m.lower() in reason.lower() for m in _MISSING_MARKERS):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where everything must run: {reason}"
