"""The real REPL driven through prompt-toolkit's pipe input (script: model, local sandbox)."""
from __future__ import annotations

import time

from agent.session.log import read_session
from tests.ama_cli import wait_until_running
from tests.repl.conftest import LINES

EDIT_TWO = {"text": "I will **edit** both ends.\n\nA second paragraph.", "tool_calls": [
    {"name": "edit_file", "arguments": {"path": "notes.txt", "old_string": "line 2\n",
                                        "new_string": "line two\n"}},
    {"name": "edit_file", "arguments": {"path": "notes.txt", "old_string": "line 28\n",
                                        "new_string": "line twenty-eight\n"}}]}
DONE = {"text": "Done."}


def shell(cmd: str, text: str = "running") -> dict:
    return {"text": text, "tool_calls": [{"name": "shell", "arguments": {"command": cmd}}]}


def scratch(h):
    return h.repl.workspace.tree


def test_turn_streams_renders_tool_and_reviews_per_hunk(repl, repo):
    h = repl(EDIT_TWO, DONE)
    h.line("edit the notes")
    h.answer("hunk 1/2 of notes.txt", "y")
    h.answer("hunk 2/2 of notes.txt", "n")
    h.wait_idle()
    out = h.text()
    assert "I will edit both ends." in out and "A second paragraph." in out
    assert "● edit_file  notes.txt" in out and "⎿ edited notes.txt" in out
    assert "1 file changed, +2 −2" in out
    assert "-line 2" in out and "+line two" in out
    assert "applied 1 change to 1 file; rejected 1" in out
    expected = LINES.replace("line 2\n", "line two\n")
    assert (repo / "notes.txt").read_text() == expected           # exactly the accepted hunk
    assert (scratch(h) / "notes.txt").read_text() == expected     # the model sees the same
    h.line("/diff")
    h.wait_for("no pending changes")


def test_undo_restores_previous_checkpoint_with_shell_side_effect(repl, repo):
    h = repl({"text": "two steps", "tool_calls": [
        {"name": "write_file", "arguments": {"path": "a.txt", "content": "from the model\n"}},
        {"name": "shell", "arguments": {"command": "echo side effect > made.txt"}}]}, DONE,
        allowed_tools=("shell",))
    h.line("go")
    h.answer("accept?", "q")          # leave everything pending
    h.wait_idle()
    assert (scratch(h) / "made.txt").exists() and (scratch(h) / "a.txt").exists()
    h.line("/undo")
    h.wait_for("workspace restored to checkpoint 1")
    h.wait_idle()
    assert not (scratch(h) / "made.txt").exists()          # the shell's file is gone
    assert (scratch(h) / "a.txt").read_text() == "from the model\n"   # the earlier step stays
    h.line("/undo")
    h.wait_for("restored to the start of the session")
    h.wait_idle()
    assert not (scratch(h) / "a.txt").exists()
    h.line("/undo")
    h.wait_for("nothing to undo")
    assert not (repo / "a.txt").exists() and not (repo / "made.txt").exists()


def test_escape_interrupts_a_long_sleep(repl):
    h = repl(shell("sleep 30", "sleeping"), {"text": "Still here."}, allowed_tools=("shell",))
    h.line("sleep")
    h.wait_for("● shell  sleep 30")
    wait_until_running(("sleep", "30"))
    h.send("go on")                # typed during the turn: kept for the next prompt
    deadline = time.monotonic() + 10
    while h.repl.runner.typeahead != "go on" and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    h.send("\x1b")
    h.wait_idle(timeout=15)
    assert time.monotonic() - started < 8
    h.wait_for("interrupted")
    assert h.repl.agent.messages[-1].role == "assistant"   # the conversation is closed
    h.line("")                     # Enter sends the typed-ahead "go on"
    h.wait_for("Still here.")                               # and goes on
    assert [m.content for m in h.repl.agent.messages if m.role == "user"][-1] == "go on"


def test_mentions_attach_files_and_shell_escape_reaches_the_model(repl):
    h = repl(DONE, DONE)
    h.line("!echo from-the-shell")
    h.wait_for("from-the-shell")
    h.wait_for("[exit code 0]")
    h.line("look at @calc.py please")
    h.wait_for("Done.")
    h.wait_idle()
    user = [m for m in h.repl.agent.messages if m.role == "user"][-1].content
    assert "look at @calc.py please" in user
    assert '<file path="calc.py">' in user and "return a - b" in user
    assert "$ echo from-the-shell" in user and "from-the-shell\n" in user


def test_mention_completion_is_gitignore_aware(repo):
    from prompt_toolkit.document import Document
    from agent.repl.mentions import MentionCompleter, list_files
    (repo / "secret.txt").write_text("x")
    (repo / "sub").mkdir()
    (repo / "sub" / "calcium.md").write_text("x")
    files = list_files(repo)
    assert "secret.txt" not in files and "calc.py" in files and "sub/calcium.md" in files
    done = [c.text for c in MentionCompleter(repo).get_completions(Document("see @calc"), None)]
    assert done == ["@calc.py", "@sub/calcium.md"]
    assert list(MentionCompleter(repo).get_completions(Document("mail a@b"), None)) == []


def test_unknown_command_gets_a_hint_and_help_lists_commands(repl):
    h = repl(DONE)
    h.line("/hlep")
    h.wait_for("unknown command /hlep; did you mean /help?")
    h.line("/help")
    for name in ("/clear", "/compact", "/model", "/cost", "/diff", "/review", "/undo",
                 "/rewind", "/resume", "/permissions", "/init", "/exit"):
        h.wait_for(name)


def test_plan_mode_refuses_edits(repl, repo):
    h = repl(EDIT_TWO, DONE)
    h.line("/mode plan")
    h.wait_for("mode: plan")
    h.line("plan it")
    h.wait_for("Done.")
    h.wait_idle()
    assert "plan mode is read-only" in h.text()
    assert (repo / "notes.txt").read_text() == LINES
    assert h.repl.workspace.change_set().empty
    assert "Plan mode" in [m for m in h.repl.agent.messages if m.role == "user"][-1].content


def test_shift_tab_cycles_modes_and_auto_accept_applies(repl, repo):
    h = repl(EDIT_TWO, DONE)
    h.wait_idle()
    h.send("\x1b[Z")               # Shift-Tab
    deadline = time.monotonic() + 10
    while h.repl.mode != "auto-accept" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert h.repl.mode == "auto-accept"
    h.line("edit")
    h.wait_for("applied 2 changes to 1 file")
    assert "line twenty-eight" in (repo / "notes.txt").read_text()


def test_reject_with_feedback_goes_to_the_model(repl, repo, ama_home):
    h = repl(EDIT_TWO, DONE, {"text": "Understood."})
    h.line("edit")
    h.answer("hunk 1/2", "y")
    h.answer("hunk 2/2", "f")
    h.answer("feedback for the model", "keep line 28 as it is")
    h.wait_for("Understood.")
    h.wait_idle()
    users = [m.content for m in h.repl.agent.messages if m.role == "user"]
    assert "keep line 28 as it is" in users[-1] and "notes.txt" in users[-1]
    assert (repo / "notes.txt").read_text() == LINES.replace("line 2\n", "line two\n")
    log = ama_home / "sessions" / f"{h.repl.session_id}.jsonl"
    assert any(e.get("type") == "user_message" and "keep line 28" in e["text"]
               for e in read_session(log))


def test_multiline_input_and_ctrl_c_twice_exits(repl):
    h = repl(DONE)
    h.wait_idle()
    h.repl.idle.clear()
    h.send("first line\x1b\rsecond line\nthird\r")   # Esc+Enter and Ctrl-J insert newlines
    h.wait_for("Done.")
    h.wait_idle()
    user = [m for m in h.repl.agent.messages if m.role == "user"][-1].content
    assert user == "first line\nsecond line\nthird"
    h.repl.idle.clear()
    h.send("\x03")
    h.wait_for("Ctrl-C again")
    h.wait_idle()
    h.send("\x03")
    h.thread.join(15)
    assert not h.thread.is_alive() and h.code == 0


def test_rewind_restores_conversation_and_workspace(repl):
    h = repl({"text": "w", "tool_calls": [{"name": "write_file", "arguments": {
        "path": "one.txt", "content": "1\n"}}]}, DONE, DONE)
    h.line("first")
    h.answer("accept?", "q")
    h.wait_idle()
    h.line("second")
    h.answer("accept?", "q")          # still pending: asked again, left again
    h.wait_idle()
    h.line("/rewind")
    h.answer("rewind to before which message", "1")
    h.answer("[w]orkspace, [c]onversation or [b]oth", "b")
    h.wait_for("rewound to before: first")
    h.wait_idle()
    assert [m.role for m in h.repl.agent.messages] == ["system"]
    assert not (scratch(h) / "one.txt").exists()


def test_ask_rule_is_asked_in_the_repl(repl, repo):
    h = repl(shell("echo approved > ok.txt"), DONE)    # local sandbox: shell is asked
    h.line("run it")
    h.answer("allow shell echo approved > ok.txt?", "y")
    h.answer("accept?", "y")
    h.wait_idle()
    assert (repo / "ok.txt").read_text() == "approved\n"


def test_always_allow_saves_the_rule_and_stops_asking(repl, repo, ama_home):
    import json
    h = repl(shell("echo one > a.txt"), shell("echo two > b.txt"), DONE)
    h.line("run both")
    h.answer("allow shell echo one > a.txt?", "a")     # [a]lways allow
    h.wait_for("always allowed here: shell(echo*)")
    h.answer("accept?", "A")                            # the second echo was not asked
    h.wait_idle()
    assert (repo / "a.txt").read_text() == "one\n" and (repo / "b.txt").read_text() == "two\n"
    assert "allow shell echo two" not in h.text()
    saved = json.loads((ama_home / "trust.json").read_text())["repos"]
    assert saved[str(repo.resolve())]["allow"] == ["shell(echo*)"]


def test_edit_a_hunk_in_the_editor(repl, repo, tmp_path):
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/^+line two$/+line 2, edited by the user/' \"$1\"\n")
    editor.chmod(0o755)
    h = repl(EDIT_TWO, DONE, editor=str(editor))
    h.line("edit")
    h.answer("hunk 1/2", "e")
    h.answer("hunk 2/2", "n")
    h.wait_idle()
    expected = LINES.replace("line 2\n", "line 2, edited by the user\n")
    assert (repo / "notes.txt").read_text() == expected
    assert (scratch(h) / "notes.txt").read_text() == expected


def test_split_a_hunk_and_take_one_part(repl, repo):
    close = {"text": "two edits close together", "tool_calls": [
        {"name": "edit_file", "arguments": {"path": "notes.txt", "old_string": "line 10\n", "new_string": "ten\n"}},
        {"name": "edit_file", "arguments": {"path": "notes.txt", "old_string": "line 14\n",
                                            "new_string": "fourteen\n"}}]}
    h = repl(close, DONE)
    h.line("edit")
    h.answer("hunk 1/1 of notes.txt", "s")
    h.answer("hunk 1/2 of notes.txt", "n")
    h.answer("hunk 2/2 of notes.txt", "y")
    h.wait_idle()
    assert "split into 2 hunks" in h.text()
    expected = LINES.replace("line 14\n", "fourteen\n")
    assert (repo / "notes.txt").read_text() == expected
    assert (scratch(h) / "notes.txt").read_text() == expected


def test_init_writes_agents_md_through_review(repl, repo):
    h = repl({"text": "writing it", "tool_calls": [{"name": "write_file", "arguments": {
        "path": "AGENTS.md", "content": "# Notes\nRun `pytest`.\n"}}]}, DONE)
    h.line("/init")
    h.answer("AGENTS.md: new file — accept?", "y")
    h.wait_idle()
    assert (repo / "AGENTS.md").read_text() == "# Notes\nRun `pytest`.\n"
    first_user = [m for m in h.repl.agent.messages if m.role == "user"][0].content
    assert "AGENTS.md" in first_user


def test_compact_and_cost_and_model_commands(repl):
    h = repl(DONE, {"text": "summary of the talk"}, DONE)
    h.line("hello")
    h.wait_for("Done.")
    h.line("/compact")
    h.wait_for("compact")          # compacted, or nothing to compact yet: never a crash
    h.line("/cost")
    h.wait_for("output")
    h.line("/model nope:thing")
    h.wait_for("cannot switch")
    h.line("/permissions deny shell(rm*)")
    h.wait_for("deny: shell(rm*)")
    h.wait_idle()
    assert h.error is None


def test_long_tool_output_is_folded_and_expand_shows_it(repl):
    h = repl(shell("seq 1 40"), DONE, allowed_tools=("shell",))
    h.line("count")
    h.wait_for("… +")
    h.wait_idle()
    out = h.text()
    assert "    1\n" in out and "\n    7\n" not in out and "(/expand 1)" in out
    h.line("/expand 1")
    h.wait_for("\n40\n")


def test_undo_after_accepting_offers_the_revert_for_review(repl, repo):
    h = repl({"text": "fix", "tool_calls": [{"name": "edit_file", "arguments": {
        "path": "calc.py", "old_string": "a - b", "new_string": "a + b"}}]}, DONE)
    h.line("fix")
    h.answer("accept?", "y")
    h.wait_idle()
    assert "a + b" in (repo / "calc.py").read_text()
    h.line("/undo")
    h.wait_for("/review applies it")
    h.line("/review")
    h.answer("hunk 1/1 of calc.py", "y")
    h.wait_idle()
    assert "a - b" in (repo / "calc.py").read_text()     # undone in the user's tree too
