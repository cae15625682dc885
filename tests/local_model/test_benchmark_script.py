"""tests/benchmarks/bench_local_engine.py runs end to end (the --small config, ours and the
reference): every row is measured and the cache bytes per token are the formula's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_small_benchmark_runs_both_sides(tmp_path):
    pytest.importorskip("transformers")
    out = tmp_path / "rows.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests/benchmarks/bench_local_engine.py"), "--small", "--contexts", "32",
         "--batches", "1,2", "--decode-tokens", "2", "--threads", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text())
    assert sorted((r["impl"], r["batch"]) for r in rows) == [("ours", 1), ("ours", 2),
                                                              ("transformers", 1), ("transformers", 2)]
    # the --small config: kv_lora 64 + rope 16, 3 layers, float32
    assert {r["cache_bytes_per_token"] for r in rows} == {(64 + 16) * 3 * 4}
    for r in rows:
        assert r["decode_tps"] > 0 and r["prefill_tps"] > 0 and r["bound_tps"] > 0 and r["bandwidth_gbs"] > 0
    assert "| batch | context |" in proc.stdout
