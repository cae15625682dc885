"""summary.json: how the batch's tasks went, from their result objects."""
from __future__ import annotations

from collections import Counter
from typing import Any

from agent.batch.tasks import Task


def summarize(tasks: list[Task], records: dict[str, dict[str, Any]],
              wall_seconds: float, interrupted: bool) -> dict[str, Any]:
    """Counts over the selected tasks (done ones, this run's and earlier runs'), their
    usage and cost, and one row per task (`done: false` for those not run yet)."""
    rows = [_row(t, records.get(t.id)) for t in tasks]
    done = [r for r in rows if r["done"]]
    measured = [r["reward"] for r in done if r["reward"] is not None]
    resolved = sum(r["resolved"] for r in done)
    return {
        "tasks": len(rows), "done": len(done), "interrupted": interrupted,
        "resolved": resolved,
        "pass_rate": round(resolved / len(done), 4) if done else None,
        "mean_reward": round(sum(measured) / len(measured), 4) if measured else None,
        "by_subtype": dict(Counter(r["subtype"] for r in done)),
        "by_exit_code": {str(k): v for k, v in sorted(Counter(r["exit_code"] for r in done).items())},
        "input_tokens": sum(r["input_tokens"] for r in done),
        "output_tokens": sum(r["output_tokens"] for r in done),
        "cost_usd": round(sum(r["cost_usd"] for r in done), 6),
        "task_seconds": round(sum(r["seconds"] for r in done), 3),
        "wall_seconds": round(wall_seconds, 3),
        "rows": rows,
    }


def _row(task: Task, record: dict[str, Any] | None) -> dict[str, Any]:
    if record is None:
        return {"instance_id": task.id, "done": False, "subtype": None, "exit_code": None,
                "resolved": False, "reward": None, "turns": 0, "input_tokens": 0,
                "output_tokens": 0, "cost_usd": 0.0, "seconds": 0.0}
    usage = record.get("usage") or {}
    return {"instance_id": task.id, "done": True, "subtype": record["subtype"],
            "exit_code": record["exit_code"], "resolved": bool(record.get("resolved")),
            "reward": record.get("reward"), "turns": record.get("num_turns", 0),
            "input_tokens": usage.get("input_tokens", 0),
            "output_tokens": usage.get("output_tokens", 0),
            "cost_usd": record.get("total_cost_usd", 0.0),
            "seconds": record.get("duration_ms", 0) / 1000}
