"""`ama batch` throughput: 16 tasks whose scripted model waits between turns, with
--workers 1, 2 and 4; the wall-clock speed-up beside the ideal, and the per-task
overhead of the batch runner (and of the Ray executor) over a single `ama -p`.

    python tests/benchmarks/bench_batch.py [--tasks 16] [--wait 0.6] [--runs 3] [--no-ray]

Each task is a SWE-bench record on one small repo: its script streams a first turn
for about `--wait` seconds (the "delay" of the script model), then edits calc.py and
finishes; `--test-cmd` runs the task's FAIL_TO_PASS test. The baseline is the same
task as one `ama -p` process (start-up, copy, sandbox, the same script, the same
verification). Figures are medians of `--runs`.

    ideal speed-up      min(workers, tasks), the model's waiting being the work
    per-task overhead   batch wall / tasks − the model's wait, beside a single `ama -p`
                        wall − the same wait (that one includes the interpreter start)
    Ray                 --executor ray with one CPU per worker on a Ray instance of
                        its own; its start-up is measured apart (a run with every task
                        already done) and taken out
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

HERE = Path(__file__).resolve().parents[2]
WORD = "waiting "


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def make_world(tmp: Path, tasks: int, wait: float) -> tuple[Path, Path, Path, Path]:
    repo = tmp / "repos" / "acme+calc"
    repo.mkdir(parents=True)
    (repo / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "-c", "user.email=b@b", "-c", "user.name=b", "commit", "-qm", "base")
    base = git(repo, "rev-parse", "HEAD")
    test = "import calc\nassert calc.add(2, 3) == 5\n"
    patch = ("diff --git a/test_add.py b/test_add.py\nnew file mode 100644\n--- /dev/null\n"
             "+++ b/test_add.py\n@@ -0,0 +1,2 @@\n" + "".join(f"+{x}\n" for x in test.splitlines()))
    words = 20
    turns = [{"text": WORD * words, "delay": wait / words},
             {"text": "fixing", "tool_calls": [{"name": "edit_file", "arguments": {
                 "path": "calc.py", "old_string": "a - b", "new_string": "a + b"}}]},
             {"text": "Fixed add."}]
    scripts = tmp / "scripts"
    scripts.mkdir()
    records = []
    for i in range(tasks):
        tid = f"acme__calc-{i}"
        (scripts / f"{tid}.jsonl").write_text("".join(json.dumps(t) + "\n" for t in turns))
        records.append({"instance_id": tid, "repo": "acme/calc", "base_commit": base,
                        "problem_statement": "add() subtracts; fix it", "test_patch": patch,
                        "FAIL_TO_PASS": json.dumps(["test_add.py"])})
    task_file = tmp / "tasks.jsonl"
    task_file.write_text("".join(json.dumps(r) + "\n" for r in records))
    # the single-run baseline: the same repo with the test patch applied, the same script
    single = tmp / "single"
    shutil.copytree(repo, single)
    (single / "test_add.py").write_text(test)
    return task_file, tmp / "repos", scripts, single


def timed(argv: list[str], env: dict) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])} ... failed ({proc.returncode}): {proc.stderr[-800:]}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=16)
    ap.add_argument("--wait", type=float, default=0.6, help="seconds the model waits per task")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray executor")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ama-bench-batch-"))
    task_file, repos, scripts, single = make_world(tmp, args.tasks, args.wait)
    env = {**os.environ, "AMA_HOME": str(tmp / "home"), "PYTHONPATH": str(HERE),
           "RAY_USAGE_STATS_ENABLED": "0", "HOME": str(tmp)}
    ama = [sys.executable, "-m", "agent"]
    model = f"script:{scripts}/{{instance_id}}.jsonl"
    common = ("--repos", str(repos), "--model", model, "--sandbox", "local", "--trusted-tasks",
              "--test-cmd", "python3 {tests}")

    def batch(out: str, *extra: str) -> float:
        shutil.rmtree(tmp / out, ignore_errors=True)
        return timed([*ama, "batch", str(task_file), "-o", str(tmp / out), *common, *extra], env)

    def median(fn, *a) -> float:
        return statistics.median(fn(*a) for _ in range(args.runs))

    one = median(timed, [*ama, "-p", "add() subtracts; fix it", "--model",
                         f"script:{scripts}/acme__calc-0.jsonl", "--cwd", str(single),
                         "--sandbox", "local", "--verify", "python3 test_add.py",
                         "--output-format", "json"], env)
    rows = []
    for workers in [int(w) for w in args.workers.split(",")]:
        wall = median(batch, f"out-{workers}", "--workers", str(workers))
        rows.append((f"local, --workers {workers}", workers, wall))
    if not args.no_ray:
        wall = median(batch, "out-ray", "--executor", "ray", "--workers", "1")
        # start-up and shut-down of Ray alone: every task done already
        start = median(timed, [*ama, "batch", str(task_file), "-o", str(tmp / "out-1"), *common,
                               "--executor", "ray", "--workers", "1"], env)
        rows.append(("ray, 1 CPU (Ray start-up taken out)", 1, wall - start))
    shutil.rmtree(tmp, ignore_errors=True)

    base = rows[0][2]
    n = args.tasks
    print(f"{n} tasks, the model waiting {args.wait:.2f} s per task; medians of {args.runs}\n")
    print("| run | wall | speed-up | ideal | per-task wall | per-task overhead |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(f"| one `ama -p` (process start included) | {one:.2f} s | | | {one:.3f} s | "
          f"{one - args.wait:.3f} s |")
    for name, workers, wall in rows:
        ideal = min(workers, n)
        per_task = wall / n * min(workers, n)
        print(f"| {name} | {wall:.2f} s | {base / wall:.2f}× | {ideal}× | {per_task:.3f} s | "
              f"{per_task - args.wait:.3f} s |")
    if not args.no_ray:
        print(f"\nRay start-up and shut-down alone: {start:.2f} s")


if __name__ == "__main__":
    main()
