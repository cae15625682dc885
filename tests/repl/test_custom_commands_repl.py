"""Custom slash commands in the real REPL (pipe input, script: model): `/name args` sends
the expanded body, `/help` lists them, Tab completes them, built-ins are never shadowed."""
from __future__ import annotations

from pathlib import Path

from prompt_toolkit.document import Document

from agent.extensions.commands import find_commands

DONE = {"text": "Done."}


def commands_in(repo: Path, **files: str) -> dict:
    folder = repo / ".ama" / "commands"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.md").write_text(text)
    return find_commands(repo, trusted=True)[0]


def test_a_custom_command_is_sent_listed_and_completed(repl, repo):
    commands = commands_in(repo, **{
        "explain": "---\ndescription: Explain a file\nargument-hint: [path]\n---\n"
                   "Explain $1 to a newcomer; the shell says !`echo shell-$1`.",
        "help": "a file that would shadow /help"})
    assert "help" in commands       # found, but the REPL's own /help wins
    h = repl(DONE, commands=commands)
    h.wait_idle()
    at = len(h.text())
    h.line("/help")
    h.wait_for("Explain a file (project)", after=at)
    assert "/explain [path]" in h.text()[at:]
    assert "a file that would shadow" not in h.text()[at:]
    h.line("/explain calc.py")
    h.wait_for("Done.")
    h.wait_idle()
    sent = [m.content for m in h.repl.agent.messages if m.role == "user"][-1]
    assert "Explain calc.py to a newcomer; the shell says shell-calc.py." in sent
    offered = [c.text for c in h.repl.completer.get_completions(Document("/expl"), None)]
    assert offered == ["/explain"]
    at = len(h.text())
    h.line("/explian x")
    h.wait_for("did you mean /explain?", after=at)
