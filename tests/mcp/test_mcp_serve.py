"""`ama mcp serve` driven by the SDK's own stdio client: `python -m agent mcp serve` in a
temp git repo (the `script:` model, `--sandbox local`), its one tool listed and called,
and the delegated run's result object coming back — for a run that succeeds (its diff
proposed, or applied with `apply: tree`), one that fails, bad input, and a call the
client cancels (the run stops, its workspace is removed)."""
from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.ama_cli import calc_repo, isolated_env, running, wait_until_running, write_script

ROOT = Path(__file__).parents[2]
FIX = ({"text": "Fixing add.", "tool_calls": [{"name": "edit_file", "arguments": {
           "path": "calc.py", "old_string": "a - b", "new_string": "a + b"}}]},
       {"text": "Fixed add: it subtracted."})
CHECK = "python3 -c 'from calc import add; assert add(2, 3) == 5'"
SLEEP = ("sleep", "41.5")   # a command no other test runs, so it can be waited for
SERVE = (sys.executable, "-m", "agent", "mcp", "serve", "--sandbox", "local")


def pid_of(argv: tuple[str, ...]) -> int:
    """The one process running exactly `argv`."""
    [pid] = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
             and _cmdline(p) == list(argv)]
    return pid


def _cmdline(proc: Path) -> list[str]:
    try:
        return (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def server(tmp_path: Path, repo: Path, *flags: str) -> Client:
    """A client of `ama mcp serve FLAGS`, started in `repo` with its own AMA_HOME."""
    env = isolated_env(tmp_path / "home", {"PYTHONPATH": str(ROOT)})
    params = StdioServerParameters(command=sys.executable, args=[*SERVE[1:], *flags], env=env,
                                   cwd=str(repo))
    return Client(stdio_client(params, errlog=(tmp_path / "server.stderr").open("w")))


def test_a_delegated_task_returns_its_result_object(tmp_path):
    repo = calc_repo(tmp_path / "repo")
    model = write_script(tmp_path, FIX)
    data = "".join(f"line {i}\n" for i in range(40_000))   # ~400 KB: events span many reads
    big = write_script(tmp_path, ({**FIX[0], "tool_calls": [*FIX[0]["tool_calls"], {
        "name": "write_file", "arguments": {"path": "data.txt", "content": data}}]}, FIX[1]),
        "big.jsonl")
    progress: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async def main():
        async with server(tmp_path, repo, "--model", model) as client:
            [tool] = (await client.list_tools()).tools
            assert tool.name == "ama_run" and tool.input_schema["required"] == ["task"]
            assert "exit_code" in tool.output_schema["required"]
            proposed = await client.call_tool("ama_run", {"task": "fix add", "verify": CHECK},
                                              progress_callback=on_progress)
            assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a - b\n"
            applied = await client.call_tool("ama_run", {"task": "fix add, add data",
                                                         "apply": "tree", "model": big})
            return proposed, applied

    proposed, applied = anyio.run(main)
    record = proposed.structured_content
    assert not proposed.is_error, record
    assert json.loads(proposed.content[0].text) == record
    assert (record["subtype"], record["exit_code"]) == ("success", 0)
    assert [f["path"] for f in record["changes"]["files"]] == ["calc.py"]
    assert "+    return a + b" in record["changes"]["patch"]
    assert record["applied"]["mode"] == "patch" and record["verification"]["passed"]
    assert record["result"] == "Fixed add: it subtracted."
    assert any(m.startswith("edit_file calc.py") for m in progress), progress
    # apply: tree wrote it into the repository
    assert applied.structured_content["applied"] == {"mode": "tree",
                                                     "paths": ["calc.py", "data.txt"]}
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert (repo / "data.txt").read_text() == data
    # each run has its own session log under the server's AMA_HOME, ending in that object
    logs = sorted((tmp_path / "home" / "ama" / "sessions").glob("*.jsonl"))
    assert len(logs) == 2
    ids = {json.loads(p.read_text().splitlines()[-1])["session_id"] for p in logs}
    assert ids == {record["session_id"], applied.structured_content["session_id"]}


def test_a_failing_task_and_bad_input_say_so(tmp_path):
    repo = calc_repo(tmp_path / "repo")
    model = write_script(tmp_path, ({"text": "Done, I think."},))

    async def main():
        async with server(tmp_path, repo) as client:
            failed = await client.call_tool("ama_run", {"task": "fix add", "model": model,
                                                        "verify": CHECK})
            missing = await client.call_tool("ama_run", {"task": "x", "model": model,
                                                         "cwd": "no/such/dir"})
            invalid = await client.call_tool("ama_run", {"task": "", "max_turns": 0})
            return failed, missing, invalid

    failed, missing, invalid = anyio.run(main)
    record = failed.structured_content
    assert failed.is_error and record["is_error"]
    assert (record["subtype"], record["exit_code"]) == ("error_verification_failed", 5)
    assert record["verification"]["passed"] is False and record["changes"]["files"] == []
    bad = missing.structured_content
    assert missing.is_error and (bad["subtype"], bad["exit_code"]) == ("error_bad_input", 2)
    assert "no/such/dir" in bad["result"] and "no such directory" in bad["result"]
    assert invalid.is_error and invalid.structured_content is None
    assert "task" in invalid.content[0].text and "max_turns" in invalid.content[0].text


def test_a_cancelled_call_a_stopped_server_or_a_client_gone_stop_the_run_cleanly(tmp_path):
    repo = calc_repo(tmp_path / "repo")
    model = write_script(tmp_path, ({"tool_calls": [{"name": "shell", "arguments": {
        "command": " ".join(SLEEP)}}]}, {"text": "never reached"}))
    home = tmp_path / "home" / "ama"

    async def stopped() -> None:
        with anyio.fail_after(20):
            while running(SLEEP) or any((home / "workspaces").glob("*")):
                await anyio.sleep(0.1)

    async def call(client) -> None:
        try:
            await client.call_tool("ama_run", {"task": "wait", "apply": "tree"})
        except Exception:   # the server stopped, or the client left, before the answer
            pass

    async def main():
        async with server(tmp_path, repo, "--model", model) as client:
            async with anyio.create_task_group() as tg:
                tg.start_soon(call, client)
                await anyio.to_thread.run_sync(wait_until_running, SLEEP)
                tg.cancel_scope.cancel()     # the client gives up: notifications/cancelled
            await stopped()
            async with anyio.create_task_group() as tg:
                tg.start_soon(call, client)
                await anyio.to_thread.run_sync(wait_until_running, SLEEP)
                os.kill(pid_of(SERVE + ("--model", model)), signal.SIGTERM)  # the server is stopped
            await stopped()
        async with anyio.create_task_group() as tg:
            async with server(tmp_path, repo, "--model", model) as client:
                tg.start_soon(call, client)
                await anyio.to_thread.run_sync(wait_until_running, SLEEP)
            # the client went away mid-run (stdin closed, then SIGTERM to the server's group)
        await stopped()

    anyio.run(main)
    logs = list((home / "sessions").glob("*.jsonl"))
    assert len(logs) == 3
    for log in logs:
        last = json.loads(log.read_text().splitlines()[-1])
        assert (last["type"], last["subtype"], last["applied"]) == ("result", "error_interrupted",
                                                                    None)
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a - b\n"


@pytest.mark.parametrize("flags, message", [(("--sandbox", "vm"), "choose one of docker"),
                                            (("--cwd", "/no/such/dir"), "no such directory")])
def test_serve_refuses_bad_flags_before_serving(tmp_path, flags, message):
    from tests.ama_cli import run_ama
    r = run_ama(("mcp", "serve", *flags), isolated_env(tmp_path))
    assert r.code == 2 and message in r.stderr and r.stdout == ""
