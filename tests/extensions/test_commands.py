"""Custom slash commands: where they are found, how they expand, and `ama -p "/name args"`."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from agent.extensions.commands import ama_rule, expand, find_commands
from tests.ama_cli import commit_all


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def bash(line: str) -> str:
    return subprocess.run(["bash", "-c", line], capture_output=True, text=True).stdout


FIX = ("---\ndescription: Fix an issue\nargument-hint: [issue] [priority]\n---\n"
       "Fix issue #$1 (priority $2).\nIts text: !`echo issue-$1`\n")


def test_places_first_wins_and_the_claude_folders_are_read_too(home, repo):
    write(repo / ".ama/commands/gh/fix.md", FIX)                 # a subfolder only sorts
    write(repo / ".claude/commands/fix.md", "from .claude, shadowed")
    write(repo / ".claude/commands/review.md", "Review the diff.")
    write(home / "xdg/amanuensis/commands/mine.md", "---\ndescription: my own\n---\nMine.")
    write(home / ".claude/commands/theirs.md", "From ~/.claude.")
    write(home / "xdg/amanuensis/commands/bad name.md", "x")
    found, warnings = find_commands(repo, trusted=True)
    assert {n: (c.scope, c.description) for n, c in found.items()} == {
        "fix": ("project", "Fix an issue"), "review": ("project", "Review the diff."),
        "mine": ("user", "my own"), "theirs": ("user", "From ~/.claude.")}
    assert found["fix"].argument_hint == "[issue] [priority]"
    assert len(warnings) == 1 and "bad name.md" in warnings[0]
    untrusted, _ = find_commands(repo, trusted=False)     # the repository's need trust
    assert sorted(untrusted) == ["mine", "theirs"]


def test_arguments_and_shell_lines_expand_and_arguments_cannot_add_commands(home, repo):
    write(repo / ".ama/commands/fix.md", FIX)
    (command,) = find_commands(repo, trusted=True)[0].values()
    turn = expand(command, '42 "high; echo INJECTED"', bash)
    assert turn.text == "Fix issue #42 (priority high; echo INJECTED).\nIts text: issue-42"
    quoted = expand(command, "'$(echo x)'", bash)   # shell-quoted inside !`…`
    assert quoted.text.endswith("Its text: issue-$(echo x)")


def test_arguments_a_body_does_not_place_are_appended(home, repo):
    write(repo / ".ama/commands/review.md", "Review the diff.")
    (command,) = find_commands(repo, trusted=True)[0].values()
    assert expand(command, "carefully", bash).text == "Review the diff.\n\nARGUMENTS: carefully"
    assert expand(command, "", bash).text == "Review the diff."


def test_claude_code_rules_become_ama_rules():
    assert [ama_rule(r) for r in ("Bash(git add:*)", "Bash(npm test)", "Read", "Edit",
                                  "shell(ls*)", "mcp__gh__*")] == \
        ["shell(git add*)", "shell(npm test)", "read_file", "edit_file", "shell(ls*)", "mcp__gh__*"]


def events(run) -> list[dict]:
    return [json.loads(line) for line in run.stdout.splitlines()]


def test_headless_slash_command_runs_its_shell_line_in_the_sandbox(ama, repo, script):
    write(repo / ".ama/commands/fix.md", FIX.replace("echo issue-$1", "echo issue-$1 in $AMA_SANDBOX"))
    commit_all(repo, "a command")
    args = ("-p", "/fix 42 low", "--model", script({"text": "done"}), "--cwd", str(repo),
            "--sandbox", "local", "--output-format", "ama-events")
    untrusted = ama(*args)
    assert [e["text"] for e in events(untrusted) if e["type"] == "user_message"] == ["/fix 42 low"]
    trusted = ama(*args, "--trust")
    assert trusted.code == 0, trusted.stderr
    assert [e["text"] for e in events(trusted) if e["type"] == "user_message"] == [
        "Fix issue #42 (priority low).\nIts text: issue-42 in local"]


def test_allowed_tools_and_model_hold_for_the_commands_turn_only(ama, repo, script, tmp_path):
    touch = {"text": "", "tool_calls": [{"name": "shell", "arguments": {"command": "touch made"}}]}
    other = script(touch, {"text": "made it"}, name="other.jsonl")
    write(repo / ".ama/commands/mk.md", f"---\nallowed-tools: Bash(touch:*)\nmodel: {other}\n---\n"
                                        f"Make the file.")
    commit_all(repo, "a command")
    common = ("--cwd", str(repo), "--sandbox", "local", "--allowed-tools", "shell(ls*)",
              "--output-format", "json", "--trust")
    plain = ama("-p", "make it", "--model", script(touch, {"text": "no"}, name="p.jsonl"), *common)
    assert plain.code == 4, plain.stderr     # shell(touch) is outside the allowed `ls*`
    assert plain.result["permission_denials"][0]["tool_name"] == "shell"
    r = ama("-p", "/mk", "--model", script({"text": "unused"}, name="u.jsonl"), *common)
    assert r.code == 0, r.stderr
    assert r.result["result"] == "made it"   # the command's model ran the turn
    assert [f["path"] for f in r.result["changes"]["files"]] == ["made"]
