"""The progress of `ama batch`: plain lines off a terminal, the live view's rendering."""
from __future__ import annotations

import io

from rich.console import Console

from agent.ui.batch_view import BatchView
from agent.core import events as ev


def record(resolved: bool, subtype: str = "success", code: int = 0) -> dict:
    return {"resolved": resolved, "subtype": subtype, "exit_code": code, "num_turns": 3,
            "usage": {"input_tokens": 100, "output_tokens": 20}, "total_cost_usd": 0.25}


def test_off_a_terminal_each_task_gets_a_line_as_it_starts_and_ends():
    err = io.StringIO()
    view = BatchView(err, total=3, skipped=1, live=False)
    view.started_task("a")
    view.finished_task("a", record(True))
    view.started_task("b")
    view.finished_task("b", None)
    view.close()
    lines = err.getvalue().splitlines()
    assert lines[0] == "ama batch: 1 of 3 tasks already done (skipped; --redo-existing runs them again)"
    assert lines[1] == "ama batch: start a"
    assert lines[2].startswith("ama batch: [2/3] a: success (exit 0), resolved, 3 turns, ")
    assert lines[4] == "ama batch: stopped b (interrupted): it runs again next time"


def test_the_live_view_shows_each_running_task_and_the_totals():
    view = BatchView(io.StringIO(), total=4, skipped=0, live=False)
    view.started_task("done-1")
    view.finished_task("done-1", record(True))
    view.started_task("run-1")
    view.event("run-1", 0, ev.TurnStarted(2))
    view.event("run-1", 0, ev.ToolCallProposed("c1", "shell", {"command": "pytest -q"}))
    view.event("run-1", 0, ev.UsageEvent(2, {}, {"input_tokens": 1200, "output_tokens": 34}))
    view.event("unknown", 0, ev.TurnStarted(1))   # not running: ignored
    screen = io.StringIO()
    Console(file=screen, width=120).print(view.render())
    text = screen.getvalue()
    row = next(line for line in text.splitlines() if "run-1" in line)
    assert "shell pytest -q" in row and "1,234" in row and " 2 " in row
    assert "done-1" not in text
    assert "1/4 done · pass 100% · 120 tokens · $0.25 · ETA" in text
