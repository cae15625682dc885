"""Compaction keeps the latest instruction, the plan, the files changed and recent turns,
with the session's own model (the `script:` model here) writing the summary."""
from __future__ import annotations

import json

from agent.core import events as ev
from agent.core.compaction import Compactor, compact_now, estimate_tokens
from agent.models.script import ScriptModel
from agent.session.log import read_session
from agent.session.store import rebuild_messages
from agent.core.types import Message, ToolCall, Usage

from tests.config.conftest import DONE

PLAN = [{"content": "find the bug", "status": "completed"},
        {"content": "fix add()", "status": "in_progress"}]


class Recording:
    """The script model, recording what each request carried (messages, tools)."""
    def __init__(self, *turns):
        self.inner = ScriptModel(list(turns))
        self.name, self.context_window, self.requests = "script", 200_000, []

    def stream(self, messages, tools, settings):
        self.requests.append((list(messages), list(tools)))
        return self.inner.stream(messages, tools, settings)


def conversation(latest_in_tail: bool) -> list[Message]:
    msgs = [Message("system", "SYSTEM"), Message("user", "Fix add() in calc.py; keep the API."),
            Message("assistant", "planning", tool_calls=(ToolCall("c1", "todo_write", {"items": PLAN}),)),
            Message("tool", "Plan updated", tool_call_id="c1", name="todo_write"),
            Message("assistant", "", tool_calls=(ToolCall("c2", "read_file", {"path": "calc.py"}),)),
            Message("tool", "x" * 5000, tool_call_id="c2", name="read_file"),
            Message("assistant", "editing", tool_calls=(ToolCall("c3", "edit_file", {"path": "calc.py"}),)),
            Message("tool", "edited calc.py", tool_call_id="c3", name="edit_file")]
    if latest_in_tail:
        msgs.append(Message("user", "Now also add a test, exactly as before."))
    return msgs


def test_compact_keeps_what_it_must():
    events = []
    model = Recording({"text": "SUMMARY: read calc.py; add() subtracted."})
    c = Compactor(model=model, emit=events.append, context_window=10_000, keep_turns=1,
                  changed_files=lambda: ["calc.py", "test_calc.py"])
    old = conversation(latest_in_tail=False)
    new = c.compact(old)
    [(sent, tools)] = model.requests
    assert tools == []                                           # the summariser gets no tools
    assert "Fix add() in calc.py" in sent[0].content and "[… cut …]" in sent[0].content
    assert new[0] == old[0]                                      # system prompt untouched
    first = new[1]
    assert first.role == "user"
    assert "SUMMARY: read calc.py; add() subtracted." in first.content
    assert "Fix add() in calc.py; keep the API." in first.content   # latest instruction verbatim
    assert "[x] find the bug" in first.content and "[~] fix add()" in first.content
    assert "calc.py, test_calc.py" in first.content
    assert new[2:] == old[-2:]                                   # the last turn verbatim
    [compacted] = [e for e in events if isinstance(e, ev.Compacted)]
    assert compacted.summary.startswith("SUMMARY") and compacted.tokens_after < compacted.tokens_before
    assert [Message.from_dict(m) for m in compacted.messages] == new[1:]


def test_latest_instruction_in_the_tail_stays_there():
    model = Recording({"text": "S"})
    c = Compactor(model=model, emit=lambda e: None, context_window=10_000, keep_turns=1)
    old = conversation(latest_in_tail=True)
    new = c.compact(old)
    assert new[-1] == Message("user", "Now also add a test, exactly as before.")
    assert "word for word" not in new[1].content
    assert new[2:] == old[-3:]


def test_threshold_uses_estimate_and_provider_usage():
    model = Recording({"text": "S1"}, {"text": "S2"})
    c = Compactor(model=model, emit=lambda e: None, context_window=100_000, threshold=0.8, keep_turns=1)
    msgs = conversation(latest_in_tail=False)
    assert estimate_tokens(msgs) < 80_000
    assert c.maybe_compact(msgs) is msgs and model.requests == []
    # The provider reports a prompt near the window: the next request compacts.
    c.observe(ev.UsageEvent(1, {"input_tokens": 60_000, "cache_read_tokens": 25_000}, {}))
    out = c.maybe_compact(msgs + [Message("user", "more")])
    assert len(model.requests) == 1 and out[1].content.startswith("The earlier part")
    small = Compactor(model=model, emit=lambda e: None, context_window=1000, keep_turns=1)
    assert small.maybe_compact(msgs) != msgs                     # the estimate alone (> 800 tokens)


def test_nothing_to_compact_and_failures_leave_the_conversation():
    notices = []
    c = Compactor(model=Recording({"text": ""}), emit=notices.append, context_window=10, keep_turns=2)
    short = [Message("system", "s"), Message("user", "u"), Message("assistant", "a")]
    assert c.compact(short) == short
    long = conversation(latest_in_tail=False)
    assert c.compact(long) == long                               # empty summary: not compacted
    assert any("could not compact" in n.message for n in notices if isinstance(n, ev.Notice))


def test_compact_now_for_the_repl():
    class A:
        pass
    agent = A()
    agent.messages = conversation(latest_in_tail=False)
    agent.usage = Usage()
    ref = agent.messages
    agent.compactor = Compactor(model=Recording({"text": "S"}), emit=lambda e: None,
                                context_window=10_000, keep_turns=1)
    assert compact_now(agent) and agent.messages is ref and len(ref) == 4
    assert agent.usage.output_tokens > 0    # the summarising call counts toward the session


def test_compaction_in_a_real_run_and_resume(ama, home, repo, script):
    todo = {"tool_calls": [{"name": "todo_write", "arguments": {"items": PLAN}}]}
    look = {"tool_calls": [{"name": "list_files", "arguments": {}}], "usage": {"input_tokens": 1900}}
    summary = {"text": "SUMMARY OF THE EARLY TURNS"}
    r = ama("-p", "the task, verbatim", "--model", script(todo, look, summary, DONE), "--cwd", str(repo),
            "--sandbox", "local", "--config", "context_window=2000", "--config", "compaction.keep_turns=1",
            "--output-format", "ama-events")
    assert r.code == 0, r.stderr
    lines = [json.loads(l) for l in r.stdout.splitlines()]
    [compacted] = [l for l in lines if l["type"] == "compacted"]
    assert compacted["summary"] == "SUMMARY OF THE EARLY TURNS"
    first = compacted["messages"][0]["content"]
    assert "the task, verbatim" in first and "[~] fix add()" in first
    assert lines[-1]["subtype"] == "success" and lines[-1]["result"] == "Done."
    assert "conversation compacted" in r.stderr
    log = home / "ama" / "sessions" / f"{lines[-1]['session_id']}.jsonl"
    rebuilt = rebuild_messages(read_session(log))
    assert rebuilt[0].content == first and rebuilt[-1] == Message("assistant", "Done.")
