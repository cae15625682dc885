"""A batch stopped with Ctrl-C mid-way, then run again: every task done exactly once; and
--attempts making a rollout group on a task of the ama form (`cwd`)."""
from __future__ import annotations

import signal
import time

from tests.batch.conftest import (DONE, FIX, NO_FIX, World, read_json, read_lines, swe_task)

SLOW = {"text": " ".join(["thinking"] * 60), "delay": 0.05}   # ~3 s of streaming


def test_a_batch_interrupted_after_its_first_task_and_run_again_does_each_task_once(world: World):
    ids = ["t-1", "t-2", "t-3"]
    world.script("t-1", FIX, DONE)
    world.script("t-2", SLOW, FIX, DONE)
    world.script("t-3", FIX, DONE)
    tasks = world.tasks([swe_task(t, world) for t in ids])
    out, rollouts = world.root / "out", world.root / "rollouts.jsonl"
    args = ("--sandbox", "local", "--trusted-tasks", "--test-cmd", "python3 {tests}",
            "--rollouts", str(rollouts))
    proc = world.popen(tasks, out, *args)
    try:
        deadline = time.monotonic() + 60
        while not (out / "tasks" / "t-1" / "result.json").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        time.sleep(0.3)   # t-2 is streaming its slow turn now
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "stopped t-2 (interrupted)" in stderr
    # what is there is consistent: t-1 done, t-2 stopped and not recorded, t-3 not started
    assert set(read_json(out / "preds.json")) == {"t-1"}
    assert not (out / "tasks" / "t-2" / "result.json").exists()
    assert not (out / "tasks" / "t-3").exists()
    assert [r["instance_id"] for r in read_lines(rollouts)] == ["t-1"]
    summary = read_json(out / "summary.json")
    assert (summary["done"], summary["tasks"], summary["interrupted"]) == (1, 3, True)
    assert not any((world.home / "ama" / "batch").iterdir())
    assert not any((world.home / "ama" / "workspaces").iterdir())

    again = world.batch(tasks, out, *args)
    assert again.code == 0, again.stderr
    assert "1 of 3 tasks already done" in again.stderr
    preds = read_json(out / "preds.json")
    assert sorted(preds) == ids and all("a + b" in p["model_patch"] for p in preds.values())
    assert sorted(r["instance_id"] for r in read_lines(rollouts)) == ids
    for t in ids:
        events = read_lines(out / "tasks" / t / "events.jsonl")
        assert [e["type"] for e in events].count("session_started") == 1, t
        assert read_json(out / "tasks" / t / "result.json")["subtype"] == "success"
    assert read_json(out / "summary.json")["done"] == 3


def test_attempts_make_a_group_and_the_passing_one_is_chosen(world: World):
    """The ama form on a folder (`cwd`, no base_commit): two attempts, the first never
    passes, the second does; both are rollouts of the same task, rewards 0 and 1."""
    folder = world.root / "plain"
    folder.mkdir()
    (folder / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    world.script("plain-1", NO_FIX, suffix="-a0")
    world.script("plain-1", FIX, DONE, suffix="-a1")
    tasks = world.tasks([{"id": "plain-1", "cwd": "plain", "task": "make add() add",
                          "verify": "python3 -c 'import calc; assert calc.add(2, 3) == 5'"}])
    out, rollouts = world.root / "out", world.root / "r.jsonl"
    run = world.batch(tasks, out, "--sandbox", "local", "--trusted-tasks", "--attempts", "2",
                      "--max-verify", "1", "--rollouts", str(rollouts), "--model",
                      f"script:{world.scripts}/{{instance_id}}-a0.jsonl,"
                      f"{world.scripts}/{{instance_id}}-a1.jsonl")
    assert run.code == 0, run.stderr
    result = read_json(out / "tasks" / "plain-1" / "result.json")
    assert (result["subtype"], result["chosen"], result["reward"]) == ("success", 1, 1.0)
    assert [(a["attempt"], a["exit_code"], a["reward"]) for a in result["attempts"]] == [
        (0, 5, 0.0), (1, 0, 1.0)]
    assert "+    return a + b" in read_json(out / "preds.json")["plain-1"]["model_patch"]
    group = read_lines(rollouts)
    assert [(r["instance_id"], r["attempt"], r["reward"]) for r in group] == [
        ("plain-1", 0, 0.0), ("plain-1", 1, 1.0)]
    assert (folder / "calc.py").read_text().endswith("a - b\n")   # the folder itself untouched


def test_workers_run_tasks_at_the_same_time(world: World):
    slow = {"text": " ".join(["hm"] * 30), "delay": 0.03}   # ~1 s each
    for t in ("w-1", "w-2"):
        world.script(t, slow, FIX, DONE)
    tasks = world.tasks([swe_task(t, world) for t in ("w-1", "w-2")])
    out = world.root / "out"
    run = world.batch(tasks, out, "--sandbox", "local", "--trusted-tasks", "--workers", "2")
    assert run.code == 0, run.stderr
    spans = {}
    for t in ("w-1", "w-2"):
        ts = [e["ts"] for e in read_lines(out / "tasks" / t / "events.jsonl")]
        spans[t] = (min(ts), max(ts))
    (a0, a1), (b0, b1) = spans["w-1"], spans["w-2"]
    assert a0 < b1 and b0 < a1, spans   # each started before the other ended
    assert all(read_json(out / "tasks" / t / "result.json")["exit_code"] == 0 for t in spans)
