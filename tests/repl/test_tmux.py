"""End to end in tmux: the real `ama` CLI in a real terminal, the script: model,
--sandbox local. Slow-machine safe: every wait polls the screen with a timeout."""
from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from tests.repl.conftest import LINES
from tests.repl.tmux_driver import Tmux, ama_env

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
PROMPT_READY = "(shift-tab: mode, /help)"   # the status bar shown only at the main prompt

EDIT_TWO = {"text": "I will **edit** both ends of the notes.", "tool_calls": [
    {"name": "edit_file", "arguments": {"path": "notes.txt", "old_string": "line 2\n",
                                        "new_string": "line two\n"}},
    {"name": "edit_file", "arguments": {"path": "notes.txt", "old_string": "line 28\n",
                                        "new_string": "line twenty-eight\n"}}]}


@pytest.fixture
def start(tmp_path, repo, ama_home):
    sessions: list[Tmux] = []

    def run(*turns: dict, extra: tuple[str, ...] = ()) -> Tmux:
        script = tmp_path / f"t{len(sessions)}.jsonl"
        script.write_text("".join(json.dumps(t) + "\n" for t in turns))
        t = Tmux(f"ama-test-{os.getpid()}-{id(tmp_path)}-{len(sessions)}", repo,
                 ["--sandbox", "local", "--model", f"script:{script}", *extra], ama_env(ama_home))
        sessions.append(t)
        t.wait_for(PROMPT_READY)
        return t
    yield run
    for t in sessions:
        t.kill()


def test_turn_streams_tool_renders_review_accepts_one_hunk(start, repo):
    t = start(EDIT_TWO, {"text": "All done."})
    t.line("edit the notes")
    t.wait_for("I will edit both ends of the notes.")
    t.wait_for("● edit_file  notes.txt")
    t.wait_for("hunk 1/2 of notes.txt — accept?")
    t.line("y")
    t.wait_for("hunk 2/2 of notes.txt — accept?")
    t.line("n")
    t.wait_for("applied 1 change to 1 file; rejected 1")
    t.wait_for(PROMPT_READY, after=t.screen().find("applied 1 change"))
    assert (repo / "notes.txt").read_text() == LINES.replace("line 2\n", "line two\n")
    assert "review · ctx" in t.screen()
    t.keys("BTab")
    t.wait_for("auto-accept · ctx")
    t.keys("C-d")
    t.wait_for("AMA-EXITED 0")


def test_undo_restores_a_file_created_by_a_shell_command(start, ama_home):
    t = start({"text": "making a file", "tool_calls": [
        {"name": "shell", "arguments": {"command": "echo side effect > made.txt"}}]},
        {"text": "Made it."}, extra=("--allowed-tools", "shell"))
    t.line("make a file")
    t.wait_for("made.txt: new file — accept?")
    t.line("q")
    t.wait_for(PROMPT_READY, after=t.wait_for("1 left pending"))
    [tree] = list((ama_home / "workspaces").glob("*/tree"))
    assert (tree / "made.txt").read_text() == "side effect\n"
    t.line("/undo")
    t.wait_for("restored to the start of the session")
    assert not (tree / "made.txt").exists()
    t.line("/diff")
    t.wait_for("no pending changes")


def test_escape_interrupts_a_long_sleep(start):
    t = start({"text": "sleeping", "tool_calls": [
        {"name": "shell", "arguments": {"command": "sleep 30"}}]},
        {"text": "Still here."}, extra=("--allowed-tools", "shell"))
    t.line("sleep for a while")
    t.wait_for("● shell  sleep 30")
    t.wait_for("esc to interrupt")
    started = time.monotonic()
    t.keys("Escape")
    mark = t.wait_for("interrupted", timeout=20)
    t.wait_for(PROMPT_READY, after=mark, timeout=20)
    assert time.monotonic() - started < 12      # far less than the 30 s sleep
    t.line("go on")
    t.wait_for("Still here.")


def test_first_message_from_argv_and_a_paste_stays_one_message(start, tmp_path, repo, ama_home):
    script = tmp_path / "argv.jsonl"
    script.write_text(json.dumps({"text": "Got the task."}) + "\n" +
                      json.dumps({"text": "Got the paste."}) + "\n")
    t = Tmux(f"ama-test-{os.getpid()}-argv", repo,
             ["--sandbox", "local", "--model", f"script:{script}", "the task from argv"],
             ama_env(ama_home))
    try:
        t.wait_for("› the task from argv")
        t.wait_for("Got the task.")
        t.wait_for(PROMPT_READY)
        t.tmux("set-buffer", "pasted line one\npasted line two")
        t.tmux("paste-buffer", "-p", "-t", "main")     # bracketed paste, as a terminal sends it
        t.wait_for("pasted line two")
        t.keys("Enter")
        t.wait_for("Got the paste.")
        from agent.session.log import read_session
        [log] = list((ama_home / "sessions").glob("*.jsonl"))
        texts = [e["text"] for e in read_session(log) if e.get("type") == "user_message"]
        assert texts == ["the task from argv", "pasted line one\npasted line two"]
    finally:
        t.kill()
