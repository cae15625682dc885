"""The one enforcement point: hooks and permission rules where the loop dispatches a
call, for the top-level agent and for a child made with `Agent.spawn` alike. Driven by
the real `script:` model, real tools, a real local sandbox and real hook processes."""
from __future__ import annotations

import threading
import time

import pytest

from agent.core import events as ev
from agent.core.hooks import HookRunner, HookSpec
from agent.core.loop import Agent
from agent.core.permissions import Permissions
from agent.models.script import ScriptModel
from tests.hooks.conftest import hook_command, read_records, shell
from tools.base import ToolContext
from tools.sandbox.local import LocalSandbox
from tools.shell import ShellTool
from tools.files.write import WriteFile

DONE = {"text": "Done."}


@pytest.fixture
def world(tmp_path):
    """(workspace, project dir, record file) — the scratch copy and the user's repo apart."""
    ws, project = tmp_path / "ws", tmp_path / "project"
    ws.mkdir()
    project.mkdir()
    return ws, project, tmp_path / "record.jsonl"


def make_agent(world, turns, hooks=(), permissions=None, approve=None, cancel=None):
    ws, project, record = world
    specs = tuple(HookSpec(event, hook_command(record, behaviour), **extra)
                  for event, behaviour, *rest in hooks for extra in [rest[0] if rest else {}])
    seen: list[ev.Event] = []
    runner = HookRunner(specs, "sess-1", str(ws / "log.jsonl"), str(project), str(ws))
    agent = Agent(model=ScriptModel(list(turns)), tools=[ShellTool(), WriteFile()],
                  ctx=ToolContext(root=ws, sandbox=LocalSandbox(ws),
                                  cancel=cancel or threading.Event()),
                  emit=seen.append, system_prompt="test", hooks=runner,
                  permissions=permissions or Permissions(), approve=approve)
    return agent, seen


def child_of(agent, turns, seen):
    return agent.spawn(model=ScriptModel(list(turns)), tools=agent.tools, system_prompt="child",
                       emit=seen.append)


def tool_messages(agent):
    return [m for m in agent.messages if m.role == "tool"]


def test_a_hook_denying_shell_denies_it_inside_a_child_agent(world):
    ws, _, record = world
    parent, _ = make_agent(world, [], hooks=[("PreToolUse", "deny", {"matcher": "shell"}),
                                             ("UserPromptSubmit", "ok"), ("Stop", "ok"),
                                             ("SubagentStop", "ok")])
    child_seen: list[ev.Event] = []
    child = child_of(parent, [shell("touch made.txt"), DONE], child_seen)
    out = child.run("side task")
    assert out.subtype == "success"
    assert "the hook says deny" in tool_messages(child)[0].content
    assert not (ws / "made.txt").exists()
    assert any(isinstance(e, ev.PermissionDenied) for e in child_seen)
    names = [r["input"]["hook_event_name"] for r in read_records(record)]
    assert names == ["PreToolUse", "SubagentStop"]   # no prompt hook for a child; its own stop


def test_a_deny_rule_denies_inside_a_child_agent(world):
    ws, _, _ = world
    parent, _ = make_agent(world, [], permissions=Permissions.from_lists(deny=["shell(touch*)"]))
    child = child_of(parent, [shell("echo a && touch made.txt"), DONE], [])
    child.run("side task")
    assert "denied by rule shell(touch*)" in tool_messages(child)[0].content
    assert not (ws / "made.txt").exists()


def test_a_hooks_allow_does_not_beat_deny_or_ask_rules(world):
    asked = []
    perms = Permissions.from_lists(deny=["shell(rm*)"], ask=["shell(git*)"])
    agent, _ = make_agent(world, [shell("rm -f x"), shell("git status"), DONE],
                          hooks=[("PreToolUse", "allow")], permissions=perms,
                          approve=lambda call, reason: asked.append(reason) or False)
    agent.run("go")
    first, second = tool_messages(agent)
    assert "denied by rule shell(rm*)" in first.content
    assert asked == ["rule shell(git*) asks for approval"] and "not approved" in second.content


def test_a_hooks_allow_answers_a_default_ask_and_its_ask_forces_one(world):
    ws, _, _ = world
    asked = []
    # outside a sandbox shell is asked by default; the hook's allow answers that
    perms = Permissions(sandboxed=False)
    agent, _ = make_agent(world, [shell("touch a.txt"), DONE], hooks=[("PreToolUse", "allow")],
                          permissions=perms, approve=lambda c, r: asked.append(r) or False)
    agent.run("go")
    assert asked == [] and (ws / "a.txt").exists()
    agent, _ = make_agent(world, [shell("touch b.txt"), DONE], hooks=[("PreToolUse", "ask")],
                          approve=lambda c, r: asked.append(r) or True)
    agent.run("go")
    assert asked == ["a PreToolUse hook asks: the hook says ask"] and (ws / "b.txt").exists()
    agent, _ = make_agent(world, [shell("touch c.txt"), DONE], hooks=[("PreToolUse", "ask")])
    agent.run("go")                     # headless: no one to ask, so a denial
    assert "no one to ask in headless mode" in tool_messages(agent)[0].content
    assert not (ws / "c.txt").exists()


def test_hooks_run_in_order_and_a_later_one_sees_the_rewrite(world):
    ws, _, record = world
    agent, seen = make_agent(world, [shell("echo one > f.txt"), DONE],
                             hooks=[("PreToolUse", "rewrite"), ("PreToolUse", "ok")])
    agent.run("go")
    rows = read_records(record)
    assert [r["behaviour"] for r in rows[:2]] == ["rewrite", "ok"]
    assert rows[1]["input"]["tool_input"] == {"command": "echo two > f.txt"}
    assert (ws / "f.txt").read_text() == "two\n"
    ran = [e for e in seen if isinstance(e, ev.HookRan)]
    assert [e.updated_input for e in ran[:2]] == [{"command": "echo two > f.txt"}, None]


def test_a_hook_sees_only_the_allow_listed_environment(world, monkeypatch):
    ws, project, record = world
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-secret")
    monkeypatch.setenv("MY_TOKEN", "t0ken")
    agent, _ = make_agent(world, [DONE], hooks=[("Stop", "ok")])
    agent.run("go")
    row = read_records(record)[0]
    assert "ANTHROPIC_API_KEY" not in row["env"] and "MY_TOKEN" not in row["env"]
    assert row["env"]["AMA_PROJECT_DIR"] == row["env"]["CLAUDE_PROJECT_DIR"] == str(project)
    assert row["env"]["AMA_WORKSPACE_DIR"] == row["cwd"] == str(ws)
    assert set(row["env"]) - {"PATH", "LANG", "LC_ALL", "TERM", "TZ", "HOME", "USER"} <= {
        "AMA_PROJECT_DIR", "CLAUDE_PROJECT_DIR", "AMA_WORKSPACE_DIR", "AMA_SESSION_ID",
        "PWD", "SHLVL", "_", "OLDPWD"}      # bash adds its own few


def test_esc_kills_a_hanging_hook(world):
    _, _, record = world
    cancel = threading.Event()
    agent, _ = make_agent(world, [shell("echo x"), DONE], cancel=cancel,
                          hooks=[("PreToolUse", "hang", {"timeout": 60})])
    box = {}
    worker = threading.Thread(target=lambda: box.setdefault("out", agent.run("go")))
    worker.start()
    deadline = time.monotonic() + 20
    while not record.exists() and time.monotonic() < deadline:   # the hook has started
        time.sleep(0.02)
    started = time.monotonic()
    cancel.set()
    worker.join(10)
    assert not worker.is_alive() and time.monotonic() - started < 5
    assert box["out"].subtype == "error_interrupted"


def test_unreadable_json_from_a_hook_is_a_failure(world):
    ws, _, _ = world
    agent, seen = make_agent(world, [shell("touch ran.txt"), DONE],
                             hooks=[("PreToolUse", "bad-json")])
    agent.run("go")
    ran = next(e for e in seen if isinstance(e, ev.HookRan))
    assert ran.outcome == "failed" and "cannot read" in ran.message
    assert (ws / "ran.txt").exists()                  # on_failure = "warn": it went on


def test_pre_compact_fires_before_an_automatic_compaction(world, tmp_path):
    from agent.core.compaction import Compactor
    _, _, record = world
    # two long turns fill the window; the third turn compacts first (the summary is the
    # script's next turn)
    turns = [shell(f"echo {i}", "x" * 2000) for i in range(2)] + [{"text": "summary"}, DONE]
    agent, seen = make_agent(world, turns, hooks=[("PreCompact", "ok")])
    agent.compactor = Compactor(model=agent.model, emit=seen.append, context_window=800,
                                keep_turns=1)
    agent.run("go")
    compacted = [i for i, e in enumerate(seen) if isinstance(e, ev.Compacted)]
    hooks = [i for i, e in enumerate(seen) if isinstance(e, ev.HookRan)]
    assert compacted and hooks and hooks[0] < compacted[0]
    assert read_records(record)[0]["input"]["trigger"] == "auto"


def test_hook_specs_refuse_what_cannot_run():
    for bad, why in ((dict(event="PreToolUs"), "no hook event"), (dict(command=" "), "needs a command"),
                     (dict(on_failure="crash"), "choose warn or block"),
                     (dict(matcher="(shell"), "not a regex"), (dict(timeout=0), "greater than 0")):
        with pytest.raises(ValueError, match=why):
            HookSpec(**{"event": "PreToolUse", "command": "true", **bad})
    glob = HookSpec("PreToolUse", "true", matcher="mcp__github__*")
    assert glob.matches("mcp__github__create_issue") and not glob.matches("mcp__gitlab__x")
    alt = HookSpec("PreToolUse", "true", matcher="shell|edit_file")
    assert alt.matches("edit_file") and not alt.matches("shell_x") and not alt.matches("read_file")

