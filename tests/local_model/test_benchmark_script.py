"""tests/benchmarks/bench_local_engine.py runs end to end (the --small config of each family: DeepSeek
ours beside the reference, Qwen3-MoE ours alone): every row is measured and the cache bytes per
token are the formula's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize("family, cache_bytes, reference", [
    ("deepseek", (64 + 16) * 3 * 4, True),  # the --small config: kv_lora 64 + rope 16, 3 layers, float32
    ("qwen3", 2 * 2 * 64 * 3 * 4, False),  # Qwen3's --small: keys and values of 2 kv heads of 64, 3 layers
])
def test_small_benchmark_runs_both_sides(tmp_path, family, cache_bytes, reference):
    pytest.importorskip("transformers")
    out = tmp_path / "rows.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests/benchmarks/bench_local_engine.py"), "--small", "--family", family,
         "--contexts", "32", "--batches", "1,2", "--decode-tokens", "2", "--threads", "1",
         "--prefill-max-tokens", "40", "--json", str(out)]  # batch 2 replicates the prefilled row
        + ([] if reference else ["--no-reference"]),
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text())
    impls = ("ours", "transformers") if reference else ("ours",)
    assert sorted((r["impl"], r["batch"]) for r in rows) == [(i, b) for i in impls for b in (1, 2)]
    # the cache is the formula's, on both sides
    assert {r["cache_bytes_per_token"] for r in rows} == {cache_bytes}
    for r in rows:
        assert r["decode_tps"] > 0 and r["bound_tps"] > 0 and r["bandwidth_gbs"] > 0
        assert (r["prefill_tps"] is None) == (r["batch"] == 2) and (r["prefill_tps"] is None or r["prefill_tps"] > 0)
    assert "| batch | context |" in proc.stdout
