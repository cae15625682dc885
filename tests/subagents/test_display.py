"""A subagent's events shown nested under the `task` call that runs it: the REPL's view
(rendered into a Console on a StringIO, and the real REPL through its pipe input) and the
headless progress lines."""
from __future__ import annotations

import io

from rich.console import Console

from agent.core import events as ev
from agent.ui.progress import progress_printer
from agent.ui.status import Status
from agent.ui.view import TurnView
from tests.repl.harness import ReplHarness, make_repo
from tests.subagents.conftest import DONE, call, task

TASK = {"description": "find add", "prompt": "where is add?"}


def child_events(parent: str) -> list[ev.Event]:
    """What a subagent emits for one read_file call and its answer, tagged as its parent tags it."""
    return [e.nested_in(parent) for e in (
        ev.UserMessage("where is add?"), ev.TurnStarted(1), ev.TextDelta("let me look"),
        ev.UsageEvent(1, {"input_tokens": 90_000}, {"input_tokens": 90_000}),
        ev.ToolCallProposed("c1", "read_file", {"path": "calc.py"}),
        ev.ToolFinished("c1", "read_file", "1\tdef add(a, b):\n2\t    return a - b", False,
                        "read calc.py (lines 1–2)"),
        ev.PermissionDenied("c2", "shell", {"command": "rm x"}, "denied by rule shell(rm*)"),
        ev.TextDelta("add subtracts"), ev.ErrorEvent("reached --max-turns 2", "error_max_turns"))]


def test_the_view_indents_a_subagents_calls_and_keeps_its_text_out():
    buf = io.StringIO()
    status = Status("script:x")
    view = TurnView(Console(file=buf, width=80, color_system=None, highlight=False), status)
    for e in (ev.ToolCallProposed("call_1", "task", TASK), *child_events("call_1"),
              ev.ToolFinished("call_1", "task", "add subtracts", False, "explore: done in 2 turns")):
        view(e)
    view.md.finish()
    assert buf.getvalue().splitlines() == [
        "● task  find add",
        "    ● read_file  calc.py",
        "      ⎿ read calc.py (lines 1–2)",
        "      ⊘ shell: denied by rule shell(rm*)",
        "    subagent: reached --max-turns 2",
        "  ⎿ explore: done in 2 turns",
        "    add subtracts"]
    assert status.context_tokens == 0             # the child's context is not the session's


def test_while_several_subagents_run_their_lines_say_whose():
    buf = io.StringIO()
    view = TurnView(Console(file=buf, width=80, color_system=None, highlight=False), Status("x"))
    view(ev.ToolCallProposed("call_1", "task", TASK))
    view(ev.ToolCallProposed("call_2", "task", {**TASK, "description": "find sub"}))
    view(ev.ToolCallProposed("c1", "grep", {"pattern": "sub"}, parent_call_id="call_2"))
    view(ev.ToolFinished("call_1", "task", "add subtracts", False, "explore: done in 1 turn"))
    view(ev.ToolCallProposed("c2", "grep", {"pattern": "sub("}, parent_call_id="call_2"))
    assert buf.getvalue().splitlines() == [
        "● task  find add", "● task  find sub", "    find sub: ● grep  sub",
        "  ⎿ explore: done in 1 turn", "    add subtracts", "    ● grep  sub("]


def test_progress_lines_indent_a_subagents_calls():
    err = io.StringIO()
    emit = progress_printer(err)
    for e in (ev.ToolCallProposed("call_1", "task", TASK), *child_events("call_1"),
              ev.ToolFinished("call_1", "task", "add subtracts", False, "explore: done in 2 turns")):
        emit(e)
    assert err.getvalue().splitlines() == [
        "→ task find add",
        "  → read_file calc.py",
        "    ✓ read calc.py (lines 1–2)",
        "    ⊘ shell: denied by rule shell(rm*)",
        "  ama: subagent: reached --max-turns 2",
        "  ✓ explore: done in 2 turns"]


def test_the_repl_shows_a_subagent_nested_under_its_call(tmp_path, home, script):
    repo = make_repo(tmp_path / "r", {"calc.py": "def add(a, b):\n    return a - b\n"})
    child = script(call("read_file", path="calc.py"), {"text": "add subtracts"}, name="child.jsonl")
    h = ReplHarness(repo, script(task("find add", "where is add?"), DONE), subagent_model=child)
    try:
        h.line("where is add?")
        h.wait_for("Done.")
        out = h.text()
        call_at = out.index("● task  find add")
        assert out.index("    ● read_file  calc.py", call_at) < out.index("  ⎿ explore: done in 2 turns")
        assert "    add subtracts" in out            # the task's result: the child's answer
    finally:
        h.exit()
