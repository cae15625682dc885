"""Start-up figures for `ama`, beside `python -c pass` measured in the same run.

    python tests/benchmarks/bench_startup.py [--runs 7]

Targets (issue 2): `ama --help` under 0.3 s; a full `ama -p` run with the `script:`
model and `--sandbox local` on a small repo under 0.6 s wall time. Reports medians
and the ratio to the interpreter's own start-up, so a noisy machine shows as noise in
both columns.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(argv: list[str], env: dict, cwd: str | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{argv} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    ama = shutil.which("ama") or sys.exit("`ama` is not on PATH: pip install -e . first")
    tmp = Path(tempfile.mkdtemp())
    repo = tmp / "repo"
    shutil.copytree(Path(__file__).resolve().parents[2] / "examples" / "calc", repo)
    for cmd in (["init", "-q"], ["add", "-A"], ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "x"]):
        subprocess.run(["git", "-C", str(repo), *cmd], check=True)
    script = tmp / "s.jsonl"
    script.write_text(json.dumps({"text": "looking", "tool_calls": [
        {"name": "read_file", "arguments": {"path": "calc.py"}}]}) + "\n"
        + json.dumps({"text": "done"}) + "\n")
    env = {**os.environ, "AMA_HOME": str(tmp / "home")}
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "ama --help": [ama, "--help"],
        "ama -p (script:, --sandbox local)": [ama, "-p", "read calc.py", "--model", f"script:{script}",
                                             "--sandbox", "local", "--cwd", str(repo),
                                             "--output-format", "json"],
    }
    timed(cases["ama -p (script:, --sandbox local)"], env)  # warm the page cache
    results = {name: statistics.median(timed(argv, env) for _ in range(args.runs))
               for name, argv in cases.items()}
    base = results["python -c pass"]
    targets = {"ama --help": 0.3, "ama -p (script:, --sandbox local)": 0.6}
    print(f"{'command':38} {'median s':>9} {'× python':>9} {'target s':>9}")
    for name, secs in results.items():
        target = targets.get(name)
        verdict = "" if target is None else ("  ok" if secs < target else "  OVER")
        print(f"{name:38} {secs:9.3f} {secs / base:9.1f} {target or '':>9}{verdict}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
