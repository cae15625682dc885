"""`ama review`: reopen the change set a headless `--apply patch` run left pending."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from rich.console import Console

from tests.review.conftest import LINES

EDIT_TWO = {"text": "editing", "tool_calls": [
    {"name": "edit_file", "arguments": {"path": "notes.txt", "old_string": "line 2\n",
                                        "new_string": "line two\n"}},
    {"name": "edit_file", "arguments": {"path": "notes.txt", "old_string": "line 28\n",
                                        "new_string": "line twenty-eight\n"}},
    {"name": "write_file", "arguments": {"path": "added.txt", "content": "new\n"}}]}


def ama(*args, cwd, home, timeout=60):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMA_", "ANTHROPIC_", "OPENAI_"))}
    env["AMA_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "agent", *args], cwd=cwd, env=env, input="",
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def headless_run(user_repo, tmp_path):
    """A headless run that leaves a pending change set; returns AMA_HOME."""
    home = tmp_path / "home"
    script = tmp_path / "s.jsonl"
    script.write_text(json.dumps(EDIT_TWO) + "\n" + json.dumps({"text": "done"}) + "\n")
    run = ama("-p", "edit", "--model", f"script:{script}", "--sandbox", "local",
              "--output-format", "json", cwd=user_repo, home=home)
    assert run.returncode == 0, run.stderr
    assert (user_repo / "notes.txt").read_text() == LINES    # --apply patch: untouched
    return home


def test_review_accept_all_then_nothing_pending(headless_run, user_repo):
    run = ama("review", "--show", cwd=user_repo, home=headless_run)
    assert run.returncode == 0, run.stderr
    assert "+line twenty-eight" in run.stdout and "added.txt" in run.stdout
    run = ama("review", "--accept-all", cwd=user_repo / ".", home=headless_run)
    assert run.returncode == 0, run.stderr
    assert (user_repo / "notes.txt").read_text() == LINES.replace("line 2\n", "line two\n") \
        .replace("line 28\n", "line twenty-eight\n")
    assert (user_repo / "added.txt").read_text() == "new\n"
    again = ama("review", cwd=user_repo, home=headless_run)
    assert again.returncode == 2 and "no pending change set" in again.stderr


def test_review_interactive_per_hunk(headless_run, user_repo, monkeypatch):
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput
    from agent.repl.terminal import ReplIO
    from agent.repl.review import review_command

    monkeypatch.setenv("AMA_HOME", str(headless_run))
    buf = io.StringIO()
    with create_pipe_input() as inp:
        # Answers for: added.txt (reject), hunk 1 (accept), hunk 2 (reject).
        inp.send_text("n\ry\rn\r")
        code = review_command(user_repo, io=ReplIO(Console(file=buf, width=90), inp, DummyOutput()))
    out = buf.getvalue()
    assert code == 0, out
    assert "hunk 2/2" in out and "-line 28" in out
    assert (user_repo / "notes.txt").read_text() == LINES.replace("line 2\n", "line two\n")
    assert not (user_repo / "added.txt").exists()
    # Everything was decided: the kept workspace is gone.
    assert not list((headless_run / "workspaces").iterdir())


def test_review_after_applying_the_patch_by_hand(headless_run, user_repo):
    edited = LINES.replace("line 2\n", "line two\n").replace("line 28\n", "line twenty-eight\n")
    (user_repo / "notes.txt").write_text(edited)  # the user applied the run's patch themselves
    (user_repo / "added.txt").write_text("new\n")
    run = ama("review", "--accept-all", cwd=user_repo, home=headless_run)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "already so in your copy" in run.stdout and "not applied" not in run.stdout
    assert (user_repo / "notes.txt").read_text() == edited
    again = ama("review", cwd=user_repo, home=headless_run)
    assert again.returncode == 2 and "no pending change set" in again.stderr


def test_review_in_another_repo_finds_nothing(headless_run, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    run = ama("review", cwd=other, home=headless_run)
    assert run.returncode == 2 and "no pending change set" in run.stderr


def test_review_without_a_terminal_says_what_to_do(headless_run, user_repo):
    run = ama("review", cwd=user_repo, home=headless_run)
    assert run.returncode == 2 and "--show" in run.stderr and "--accept-all" in run.stderr
    assert (user_repo / "notes.txt").read_text() == LINES
