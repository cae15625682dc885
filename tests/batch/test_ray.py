"""`--executor ray`: a Ray cluster the test starts on 127.0.0.1 (two CPUs) runs the task
file of the local executor, and the output dir comes out the same, apart from times."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.batch.conftest import DONE, FIX, NO_FIX, World, read_json, read_lines, swe_task

VOLATILE = {"session_id", "duration_ms", "duration", "ts", "wall_seconds", "task_seconds",
            "seconds"}


SESSION_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}")


def stable(obj):
    """`obj` without what differs from run to run (ids, times, workspace paths)."""
    if isinstance(obj, dict):
        return {k: stable(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [stable(v) for v in obj]
    if isinstance(obj, str):
        return SESSION_ID.sub("<session>", obj)
    return obj


def outputs(out: Path, rollouts: Path) -> dict:
    tasks = sorted(p.name for p in (out / "tasks").iterdir())
    return {
        "preds": read_json(out / "preds.json"),
        "summary": stable(read_json(out / "summary.json")),
        "results": {t: stable(read_json(out / "tasks" / t / "result.json")) for t in tasks},
        "events": {t: [e["type"] for e in read_lines(out / "tasks" / t / "events.jsonl")]
                   for t in tasks},
        "rollouts": sorted(((r["instance_id"], r["attempt"], r["reward"],
                             stable(r["messages"]), stable(r["tools"]))
                            for r in read_lines(rollouts)), key=str),
    }


@pytest.fixture
def ray_cluster(world: World, monkeypatch):
    """A Ray head started here (loopback only: Ray's single-node mode), its processes
    with the test's AMA_HOME and this tree on their path, as every node of a cluster
    would have ama installed."""
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        assert ray.util.get_node_ip_address() == "127.0.0.1"
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_a_ray_cluster_runs_the_task_file_as_the_local_executor_does(world: World, ray_cluster):
    assert ray_cluster.startswith("127.0.0.1:")
    world.script("r-1", FIX, DONE)
    world.script("r-2", NO_FIX)
    (world.scripts / "r-3.jsonl").write_text("not json\n")
    tasks = world.tasks([swe_task("r-1", world), swe_task("r-2", world), swe_task("r-3", world),
                         swe_task("r-4", world, repo="acme/gone")])
    args = ("--sandbox", "local", "--trusted-tasks", "--test-cmd", "python3 {tests}",
            "--max-verify", "1")
    local = world.batch(tasks, world.root / "local", *args, "--workers", "2",
                        "--rollouts", str(world.root / "local.jsonl"))
    assert local.code == 0, local.stderr
    on_ray = world.batch(tasks, world.root / "ray", *args, "--executor", "ray",
                         "--ray-address", ray_cluster, "--rollouts", str(world.root / "ray.jsonl"),
                         timeout=240)
    assert on_ray.code == 0, on_ray.stderr
    a = outputs(world.root / "local", world.root / "local.jsonl")
    b = outputs(world.root / "ray", world.root / "ray.jsonl")
    assert a == b
    assert [a["results"][t]["exit_code"] for t in ("r-1", "r-2", "r-3", "r-4")] == [0, 5, 2, 2]
    assert a["preds"]["r-1"]["model_patch"].startswith("diff --git a/calc.py")
    assert len(a["rollouts"]) == 2 and a["rollouts"][0][2] == 1.0
    # the driver joined the test's cluster, on loopback
    assert "Connecting to existing Ray cluster at address: 127.0.0.1:" in on_ray.stderr
