"""Subagents through the session API in this process (`open_session`, `run_session`):
options settled from the user config as `ama` settles them, `script:` models, real
tools, --sandbox local and real hook processes."""
from __future__ import annotations

import dataclasses
import json
import shlex
import sys
import threading
import time
from pathlib import Path

import pytest

from agent.core import events as ev
from agent.core.loop import Limits
from agent.session.open import open_session
from agent.session.run import run_session
from agent.session.settle import Flags, settle
from tests.ama_cli import running, wait_until_running
from tests.subagents.conftest import DONE, call, define_agent, shell, task, task_call

BARRIER = Path(__file__).parent / "barrier_hook.py"


@pytest.fixture
def open_(repo):
    """open_(model, **overrides) -> (session, the events it emitted); closed afterwards."""
    opened = []

    def go(model: str, **overrides):
        options, _ = settle(Flags(cwd=repo, model=model, sandbox="local"), headless=False)
        seen: list[ev.Event] = []
        session = open_session(dataclasses.replace(options, **overrides), seen.append)
        opened.append(session)
        return session, seen
    yield go
    for session in opened:
        session.close()


def tool_messages(session):
    return [m for m in session.agent.messages if m.role == "tool"]


def finished(seen, parent=None):
    return [e for e in seen if isinstance(e, ev.ToolFinished) and e.parent_call_id == (parent or "")]


def test_read_only_task_calls_of_one_turn_run_at_once_their_results_in_order(
        open_, script, user_agents, user_config, tmp_path):
    barrier = tmp_path / "barrier"
    command = shlex.join([sys.executable, str(BARRIER), str(barrier), "2"])
    user_config(f'[[hooks.PreToolUse]]\nmatcher = "read_file"\ncommand = {json.dumps(command)}\n'
                f'timeout = 30\n')
    for name, delay in (("alpha", 0.05), ("beta", 0)):   # alpha tends to finish last
        child = script(call("read_file", path="calc.py"),
                       {"text": f"{name} read calc.py", "delay": delay}, name=f"{name}.jsonl")
        define_agent(user_agents, name, tools="read_file, grep", model=child)
    parent = script({"text": "two at once", "tool_calls": [task_call("first look", "look", "alpha"),
                                                           task_call("second look", "look", "beta")]},
                    DONE)
    session, seen = open_(parent)
    result = run_session(session, "go")
    assert result.subtype == "success", result.result
    # each child's read_file passed the barrier hook: both were inside it at the same time
    hooks = [e for e in seen if isinstance(e, ev.HookRan)]
    assert sorted((e.parent_call_id, e.outcome) for e in hooks) == [("call_1", "ok"), ("call_2", "ok")]
    assert len(list(barrier.iterdir())) == 2
    assert [(m.tool_call_id, m.content) for m in tool_messages(session)] == [
        ("call_1", "alpha read calc.py"), ("call_2", "beta read calc.py")]


def test_a_subagent_that_may_write_runs_alone_after_the_read_only_ones(open_, script, user_agents):
    looker = script(call("read_file", path="calc.py"), {"text": "looked"}, name="looker.jsonl")
    writer = script(call("write_file", path="notes.txt", content="n\n"), {"text": "wrote"},
                    name="writer.jsonl")
    define_agent(user_agents, "looker", tools="read_file", model=looker)
    define_agent(user_agents, "writer", tools="write_file", model=writer)
    parent = script({"text": "both", "tool_calls": [task_call("write notes", "write", "writer"),
                                                    task_call("look", "look", "looker")]}, DONE)
    session, seen = open_(parent)
    assert run_session(session, "go").subtype == "success"
    order = [e.parent_call_id for e in seen if e.parent_call_id]
    assert order == sorted(order, key=lambda p: p != "call_2")   # the looker's, then the writer's
    assert [m.content for m in tool_messages(session)] == ["wrote", "looked"]   # in call order
    assert (session.workspace.tree / "notes.txt").read_text() == "n\n"


@pytest.mark.parametrize("limit", ["turns", "cost"])
def test_a_subagents_turns_and_cost_come_out_of_the_parents_limits(open_, script, user_config,
                                                                   limit):
    cost = {"input_tokens": 10, "output_tokens": 1, "cost_usd": 0.4}
    child = script(*[call("read_file", usage=cost, path="calc.py") for _ in range(5)],
                   {"text": "never reached"}, name="child.jsonl")
    user_config(f'[subagents]\nmodel = "{child}"\n')
    parent = script({**task("look", "look around"), "usage": cost}, DONE)
    limits = Limits(max_turns=3) if limit == "turns" else Limits(max_cost_usd=1.0)
    session, _ = open_(parent, limits=limits)
    result = run_session(session, "go")
    [answer] = tool_messages(session)
    assert answer.is_error
    if limit == "turns":   # the parent's turn 1, then the child's 2 left: 3 in all
        assert answer.content.startswith("the subagent (explore) stopped before it finished: "
                                         "reached --max-turns 2")
        assert (result.subtype, result.num_turns) == ("error_max_turns", 3)
    else:                  # $0.40 spent, so the child may spend $0.60: it stops past it
        assert answer.content.startswith("the subagent (explore) stopped before it finished: "
                                         "reached --max-cost $0.6 (spent $0.8000)")
        assert result.subtype == "error_max_cost"
        assert result.usage.cost_usd == pytest.approx(1.2)
    assert result.exit_code == 3


def test_esc_stops_a_running_subagent(open_, script, user_agents):
    child = script(shell("sleep 37"), {"text": "never reached"}, name="child.jsonl")
    define_agent(user_agents, "sleeper", tools="shell", model=child)
    session, _ = open_(script(task("wait", "sleep a while", "sleeper"), DONE))
    box = {}
    worker = threading.Thread(target=lambda: box.setdefault("result", run_session(session, "go")))
    worker.start()
    wait_until_running(("sleep", "37"))
    stopped = time.monotonic()
    session.interrupt()
    worker.join(15)
    assert not worker.is_alive() and time.monotonic() - stopped < 5
    assert box["result"].subtype == "error_interrupted"
    assert running(("sleep", "37")) == 0


def test_a_subagent_starts_no_other_unless_max_depth_allows(open_, script, user_agents):
    deep = script({"text": "the deep answer"}, name="deep.jsonl")
    lead = script(call("list_files", path="."),
                  {"text": "deeper", "tool_calls": [task_call("go deeper", "answer deeply")]},
                  {"text": "lead done"}, name="lead.jsonl")
    define_agent(user_agents, "lead", tools="list_files, task", model=lead)
    parent = script(task("lead it", "delegate it", "lead"), DONE)
    # the parent's task call is call_1; the lead's own calls are its call_1 and call_2
    session, seen = open_(parent, subagent_model=deep)          # max_depth 1, the default
    run_session(session, "go")
    refused = finished(seen, "call_1")[-1]
    assert (refused.name, refused.is_error) == ("task", True)
    assert refused.output == "unknown tool 'task'; available: list_files"
    session, seen = open_(parent, subagent_model=deep, subagent_max_depth=2)
    run_session(session, "go")
    [answer] = [e for e in finished(seen, "call_1") if e.name == "task"]
    assert (answer.output, answer.is_error) == ("the deep answer", False)
    deeper = [e for e in seen if e.parent_call_id == "call_2"]
    assert deeper[0] == ev.UserMessage("answer deeply", parent_call_id="call_2")
    assert [m.content for m in tool_messages(session)] == ["lead done"]
    session, _ = open_(parent, subagent_max_depth=0)               # no task tool at all
    run_session(session, "go")
    assert tool_messages(session)[0].content.startswith("unknown tool 'task'")
