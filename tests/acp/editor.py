"""A small ACP client built on the `acp` package's client side, standing in for an
editor: it spawns `python -m agent acp`, records every session update, answers
permission requests with a policy the test gives, and (when it offers the capability)
writes files for fs/write_text_file."""
from __future__ import annotations

import asyncio
import sys
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from acp import PROTOCOL_VERSION, spawn_agent_process
from acp.schema import (AllowedOutcome, ClientCapabilities, DeniedOutcome,
                        FileSystemCapabilities, RequestPermissionResponse, WriteTextFileResponse)

from tests.ama_cli import isolated_env

ROOT = Path(__file__).resolve().parents[2]
# (the tool call asked about, the option ids offered) -> the option id chosen, None: cancel,
# HOLD: answer nothing until `release` is set (then: cancelled)
Policy = Callable[[Any, list[str]], "str | None"]
HOLD = "hold"


@dataclass
class Editor:
    policy: Policy = lambda call, options: options[0]
    fs: bool = True                                        # offers fs/write_text_file
    updates: list[Any] = field(default_factory=list)       # every session/update, in order
    asked: list[Any] = field(default_factory=list)         # the tool calls permission was asked for
    writes: list[str] = field(default_factory=list)        # paths written for the agent
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def session_update(self, session_id: str, update: Any, **_: Any) -> None:
        self.updates.append(update)

    async def request_permission(self, session_id: str, tool_call: Any, options: list,
                                 **_: Any) -> RequestPermissionResponse:
        self.asked.append(tool_call)
        choice = self.policy(tool_call, [o.option_id for o in options])
        if choice == HOLD:
            await self.release.wait()
            choice = None
        outcome = DeniedOutcome(outcome="cancelled") if choice is None else \
            AllowedOutcome(outcome="selected", option_id=choice)
        return RequestPermissionResponse(outcome=outcome)

    async def write_text_file(self, session_id: str, path: str, content: str,
                              **_: Any) -> WriteTextFileResponse:
        Path(path).write_text(content)
        self.writes.append(path)
        return WriteTextFileResponse()

    def of(self, kind: str) -> list[Any]:
        """The updates of one kind (`tool_call`, `plan`, `agent_message_chunk`, …)."""
        return [u for u in self.updates if u.session_update == kind]

    def text(self, kind: str = "agent_message_chunk") -> str:
        return "".join(u.content.text for u in self.of(kind))

    def finished(self, call_id: str) -> Any:
        """The last tool_call_update of `call_id`."""
        return [u for u in self.of("tool_call_update") if u.tool_call_id == call_id][-1]

    async def wait_for(self, kind: str, timeout: float = 20) -> None:
        """Until an update of `kind` (or, for "permission", a permission request) came."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not (self.asked if kind == "permission" else self.of(kind)):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no {kind} within {timeout}s")
            await asyncio.sleep(0.02)


@asynccontextmanager
async def ama_acp(editor: Editor, home: Path, *args: str) -> AsyncIterator[tuple[Any, Any]]:
    """`python -m agent acp ARGS` (local sandbox, isolated AMA_HOME), connected and
    initialized: (the client connection, the process). Its stderr goes to
    home/acp-stderr.txt."""
    env = isolated_env(home, {"PYTHONPATH": str(ROOT)})
    with open(home / "acp-stderr.txt", "a") as err:
        async with spawn_agent_process(editor, sys.executable, "-m", "agent", "acp",
                                       "--sandbox", "local", *args, env=env,
                                       transport_kwargs={"stderr": err}) as (conn, proc):
            await conn.initialize(protocol_version=PROTOCOL_VERSION,
                                  client_capabilities=ClientCapabilities(
                                      fs=FileSystemCapabilities(write_text_file=editor.fs)))
            yield conn, proc


def run(coroutine, timeout: float = 90) -> Any:
    """Run a test's coroutine, bounded."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))
