"""Hooks in the real REPL, driven through prompt-toolkit's pipe input; the options are
settled from the user config as `ama` settles them."""
from __future__ import annotations

import threading

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from agent.repl.app import Repl
from agent.repl.terminal import ReplIO
from agent.session.log import read_session
from agent.session.settle import Flags, settle
from tests.hooks.conftest import shell
from tests.repl.harness import WIDTH, ReplHarness, _Buffer, make_repo

DONE = {"text": "Done."}


class SettledRepl(ReplHarness):
    """The REPL harness with options from `settle` (so the config's hooks are in them)."""

    def __init__(self, repo, model, **overrides):
        import dataclasses
        options, _ = settle(Flags(cwd=repo, model=model, sandbox="local"), headless=False)
        options = dataclasses.replace(options, **overrides)
        self._pipe_cm = create_pipe_input()
        self.input = self._pipe_cm.__enter__()
        self.out = _Buffer()
        console = Console(file=self.out, width=WIDTH, color_system=None, force_terminal=False,
                          highlight=False)
        self.repl = Repl(options, ReplIO(console, self.input, DummyOutput()))
        self.error = None
        self.code = None
        self.thread = threading.Thread(target=self._run, args=(None,), daemon=True)
        self.thread.start()


@pytest.fixture
def repl_repo(tmp_path, home):
    return make_repo(tmp_path / "r", {"calc.py": "def add(a, b):\n    return a - b\n"})


@pytest.fixture
def start(tmp_path, repl_repo, script):
    started = []

    def go(*turns, **overrides):
        h = SettledRepl(repl_repo, script(*turns, name=f"r{len(started)}.jsonl"), **overrides)
        started.append(h)
        return h
    yield go
    for h in started:
        try:
            h.exit()
        except AssertionError:
            pass


def test_a_blocking_hook_shows_in_the_repl_and_the_log(start, user_hooks, repl_repo):
    user_hooks(("PreToolUse", "block-rm", {"matcher": "shell"}))
    h = start(shell("rm calc.py"), DONE)
    h.line("clean up")
    h.wait_for("⊘ shell: a PreToolUse hook blocked it: rm is not allowed")
    h.wait_idle()
    out = " ".join(h.text().split())       # as one line: rich wraps at the console's width
    assert "⚑ PreToolUse hook" in out and "blocked — rm is not allowed in this repository" in out
    assert (h.repl.workspace.tree / "calc.py").exists()
    session_id = h.repl.session_id
    h.exit()
    from agent.config.home import sessions_dir
    logged = [e for e in read_session(sessions_dir() / f"{session_id}.jsonl") if e["type"] == "hook"]
    assert [(e["event"], e["outcome"], e["exit_code"]) for e in logged] == [("PreToolUse", "blocked", 2)]


def test_a_hooks_ask_goes_to_the_repls_approval(start, user_hooks):
    user_hooks(("PreToolUse", "ask", {"matcher": "shell"}))
    h = start(shell("touch asked.txt"), DONE, allow=("shell",))   # the rules alone would allow it
    h.line("make a file")
    h.answer("the hook says ask", "n")
    h.wait_idle()
    assert "not approved" in h.text()
    assert not (h.repl.workspace.tree / "asked.txt").exists()


def test_every_repl_event_reaches_its_hooks_with_valid_stdin(start, user_hooks, records):
    user_hooks(*((e, "ok") for e in ("SessionStart", "UserPromptSubmit", "PreToolUse",
                                     "PostToolUse", "Stop", "PreCompact", "SessionEnd")))
    h = start(shell("echo hi"), DONE, {"text": "the summary"}, compaction_keep_turns=0,
              allow=("shell",))
    h.line("say hi")
    h.wait_for("Done.")
    h.line("/compact")
    h.wait_for("compacted")
    h.line("/clear")
    h.wait_idle()
    h.exit()
    seen = [(r["input"]["hook_event_name"], r["input"].get("source") or r["input"].get("reason")
             or r["input"].get("trigger")) for r in records()]      # each checked by the schema
    assert seen == [("SessionStart", "startup"), ("UserPromptSubmit", None), ("PreToolUse", None),
                    ("PostToolUse", None), ("Stop", None), ("PreCompact", "manual"),
                    ("SessionEnd", "clear"), ("SessionStart", "clear"), ("SessionEnd", "other")]
