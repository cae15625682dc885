"""The Python API with asyncio, offline: events with `async for`, an `async def` approver,
and a change set taken file by file.

    python examples/api_async.py          # ama installed; from a checkout: PYTHONPATH=.

The scripted model (written below, one turn a line) fixes calc.py, adds NOTES.md, then
wants to run a command the approver refuses. The program keeps the fix (`apply` of one
file), drops the notes (`discard`), and prints what the repository holds afterwards.
Nothing reaches a model provider.
"""
from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from agent.api import Approval, Denied, Finished, Result, Text, ToolUse, open_session

HERE = Path(__file__).resolve().parent
TURNS = [
    {"text": "Fixing add and writing a note.", "tool_calls": [
        {"name": "edit_file", "arguments": {"path": "calc.py", "old_string": "return a - b",
                                            "new_string": "return a + b"}},
        {"name": "write_file", "arguments": {"path": "NOTES.md", "content": "add() adds now.\n"}}]},
    {"text": "Cleaning up.", "tool_calls": [
        {"name": "shell", "arguments": {"command": "rm -rf build"}}]},
    {"text": "Fixed add in calc.py and noted it in NOTES.md."},
]


async def approve(call: ToolUse, reason: str) -> bool:
    """Asked on the event loop: a real program could await a user's answer here."""
    await asyncio.sleep(0)
    return "rm " not in str(call.arguments.get("command", ""))


async def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "calc"
        shutil.copytree(HERE / "calc", repo)
        for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=demo", "-c",
                                                    "user.email=demo@localhost", "commit", "-qm", "init"]):
            subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)
        script = Path(tmp) / "turns.jsonl"
        script.write_text("".join(json.dumps(turn) + "\n" for turn in TURNS))

        result: Result | None = None
        async with open_session(repo, model=f"script:{script}", sandbox="local",
                                approve=approve) as session:
            async for event in session.astream("fix add"):
                if isinstance(event, Text):
                    print(event.text, end="", flush=True)
                elif isinstance(event, Approval):
                    print(f"\nasked: {event.name} {dict(event.arguments)}")
                elif isinstance(event, Denied):
                    print(f"denied: {event.reason}")
                elif isinstance(event, Finished):
                    result = event.result
            assert result is not None
            print(f"\n{result.subtype}; pending: {', '.join(result.changes.paths)}; "
                  f"denied: {[d.arguments.get('command') for d in result.denials]}")
            kept = session.apply(["calc.py"])
            dropped = session.discard(["NOTES.md"])
            print(f"applied {list(kept.paths)}, discarded {list(dropped)}, "
                  f"pending now: {list(session.changes().paths)}")
        fixed = "return a + b" in (repo / "calc.py").read_text()
        print(f"calc.py fixed: {fixed}; NOTES.md exists: {(repo / 'NOTES.md').exists()}")
        return result.exit_code


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
