"""The Python API, offline: a scripted session fixes the demo calculator.

    python examples/api_basic.py          # ama installed; from a checkout: PYTHONPATH=.

It copies examples/calc (whose `add` subtracts) into a temporary git repository, opens
a session on it with the `script:` model (examples/fix-calc.jsonl replays a model that
runs the tests, reads calc.py, fixes `add` and runs the tests again), streams the events,
answers each command the model wants to run with `approve`, applies the change set to
the repository and shows `git diff`. Nothing reaches a model provider.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from agent.api import Finished, Result, Text, ToolResult, ToolUse, open_session

HERE = Path(__file__).resolve().parent


def approve(call: ToolUse, reason: str) -> bool:
    """Let the tests run, nothing else. (The unisolated `local` sandbox asks about every
    command; in Docker or bubblewrap commands run without asking.)"""
    command = str(call.arguments.get("command", ""))
    allowed = command.startswith("python3 -m unittest")
    print(f"  approve? {command!r} ({reason}): {'yes' if allowed else 'no'}")
    return allowed


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=demo",
                           "-c", "user.email=demo@localhost", *args],
                          check=True, capture_output=True, text=True).stdout


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "calc"
        shutil.copytree(HERE / "calc", repo)
        git(repo, "init", "-q")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "calculator with a bug")

        result: Result | None = None
        with open_session(repo, model=f"script:{HERE / 'fix-calc.jsonl'}", sandbox="local",
                          approve=approve) as session:
            for event in session.stream("the tests fail; fix the bug"):
                match event:
                    case Text(text):
                        print(text, end="", flush=True)
                    case ToolUse(name=name, arguments=arguments):
                        print(f"\n-> {name} {dict(arguments)}")
                    case ToolResult(summary=summary, is_error=failed):
                        print(f"   {'failed' if failed else 'done'}: {summary}")
                    case Finished(result=result):
                        pass
            assert result is not None
            print(f"\n{result.subtype} after {result.num_turns} turns; "
                  f"changed: {', '.join(result.changes.paths)}")
            applied = session.apply()
            print(f"applied to {session.root.name}: {', '.join(applied.paths)}")
        print(git(repo, "--no-pager", "diff"), end="")
        return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
