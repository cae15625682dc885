"""Start-up figures for `ama`, beside `python -c pass` measured in the same run.

    python tests/benchmarks/bench_startup.py [--runs 7] [--compare OLD_CHECKOUT]

With --compare, every command also runs from another checkout of amanuensis (e.g.
`git worktree add /tmp/ama-old main~1`), alternating with this one, and the ratio
this / other is reported: a change must not make start-up slower.

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
    ap.add_argument("--compare", metavar="CHECKOUT", help="another checkout to time beside this one")
    args = ap.parse_args()
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
    here = Path(__file__).resolve().parents[2]
    sides = {"this": here, **({"other": Path(args.compare).resolve()} if args.compare else {})}

    def ama(side: str, *argv: str) -> tuple[list[str], dict]:
        # `python -m agent` from the side's checkout, so both sides start the same way
        return [sys.executable, "-m", "agent", *argv], {**env, "PYTHONPATH": str(sides[side])}

    run_args = ("-p", "read calc.py", "--model", f"script:{script}", "--sandbox", "local",
                "--cwd", str(repo), "--output-format", "json")
    cases = {"ama --help": ("--help",), "ama -p (script:, --sandbox local)": run_args}
    for side in sides:
        timed(*ama(side, *run_args))  # warm the page cache and the bytecode
    samples: dict[tuple[str, str], list[float]] = {}
    base = statistics.median(timed([sys.executable, "-c", "pass"], env) for _ in range(args.runs))
    for _ in range(args.runs):      # interleaved, so drift hits both sides alike
        for name, argv in cases.items():
            for side in sides:
                samples.setdefault((name, side), []).append(timed(*ama(side, *argv)))
    targets = {"ama --help": 0.3, "ama -p (script:, --sandbox local)": 0.6}
    print(f"python -c pass: {base:.3f} s (median of {args.runs})")
    head = f"{'command':38} {'median s':>9} {'× python':>9} {'target s':>9}"
    print(head + (f" {'other s':>9} {'this/other':>10}" if args.compare else ""))
    for name in cases:
        secs = statistics.median(samples[(name, "this")])
        target = targets[name]
        verdict = "  ok" if secs < target else "  OVER"
        line = f"{name:38} {secs:9.3f} {secs / base:9.1f} {target:>9}{verdict}"
        if args.compare:
            other = statistics.median(samples[(name, "other")])
            line += f" {other:9.3f} {secs / other:10.2f}"
        print(line)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
