"""Run the property tests (pytest marker `fuzz`) for minutes instead of seconds.

    python tests/benchmarks/bench_fuzz.py [--examples 20000] [-k PATTERN]

The suite runs each property test with a bounded number of examples (the "suite"
hypothesis profile in tests/conftest.py); this script runs the same tests under the
"fuzz" profile and prints, per target, how many inputs hypothesis tried and how long it
took (hypothesis' own statistics), then pytest's summary.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=20_000, help="examples per property test")
    ap.add_argument("-k", default=None, help="only the tests whose names match (pytest -k)")
    args = ap.parse_args()
    env = {**os.environ, "AMA_HYPOTHESIS_PROFILE": "fuzz", "AMA_FUZZ_EXAMPLES": str(args.examples)}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "fuzz",
           "--hypothesis-show-statistics", "tests"] + (["-k", args.k] if args.k else [])
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    target, seconds = None, 0.0
    print(f"{'target':78} {'inputs':>8} {'time':>9}")
    for line in proc.stdout.splitlines():
        if line.startswith("tests/") and line.rstrip().endswith(":"):
            target = line.rstrip()[:-1]
        elif m := re.search(r"during generate phase \(([\d.]+) seconds\)", line):
            seconds = float(m.group(1))
        elif (m := re.search(r"(\d+) passing examples", line)) and target:
            print(f"{target:78} {m.group(1):>8} {seconds:8.1f}s")
            target = None
    print("\n".join(l for l in proc.stdout.splitlines()[-3:] if l.strip()))
    if proc.returncode:
        print(proc.stdout[-5000:], proc.stderr[-2000:], sep="\n")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
