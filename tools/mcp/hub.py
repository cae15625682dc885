"""The MCP servers of one session: started together, their tools as ordinary `Tool`s.

One asyncio loop in a daemon thread owns every session (the SDK is async; the agent
loop is not). A tool call from the agent's thread is a coroutine handed to that loop
and waited on while `ctx.cancel` is watched. A server whose session broke is reported
by the call that found it, and started again, once, for the next call.

Resources and prompts (for `@server:URI` and `/mcp__server__prompt` in the REPL) are
asked for the same way, each request bounded by the server's `tool_timeout`; a server's
lists are fetched when first wanted and then kept.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

from tools.base import Tool, ToolContext, ToolError
from tools.mcp.connection import Connection, EndlessList, ServerDied
from tools.mcp.pins import tool_hash
from tools.mcp.resources import (McpRequestError, PromptInfo, ResourceInfo, ResourceText,
                                 fetch_contents, fetch_list, fetch_prompt)
from tools.mcp.spec import ServerSpec, tool_name
from tools.mcp.tool import McpTool

POLL = 0.05          # seconds between looks at ctx.cancel while a call runs
CLOSE_TIMEOUT = 15.0  # seconds close() waits for every session to end


@dataclass(frozen=True)
class ServerStatus:
    """How a server's start went. status: "connected" | "failed" | "timeout" | "disabled";
    tools: the model-facing names it contributed; error: why it is not connected.
    pins: server-side name -> `tool_hash` of every tool it listed (offered or not), for
    the caller to compare with what it pinned; withheld: the model-facing names of
    tools taken back by `McpHub.withhold` (they changed since they were pinned)."""

    name: str
    status: str
    tools: tuple[str, ...]
    error: str = ""
    pins: Mapping[str, str] = field(default_factory=dict)
    withheld: tuple[str, ...] = ()


class McpHub:
    """Every MCP server of a session. `McpHub.start(specs)`, then `tools`, `statuses`
    (`withhold` takes back tools whose pins do not match), and `close()` when the
    session ends."""

    def __init__(self) -> None:
        self.tools: list[Tool] = []
        self.statuses: list[ServerStatus] = []
        self._servers: list[_Server] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="ama-mcp", daemon=True)
        self._thread.start()
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def start(cls, specs: Sequence[ServerSpec]) -> "McpHub":
        """A hub with `specs` started (see `add`)."""
        hub = cls()
        hub.add(specs)
        return hub

    def add(self, specs: Sequence[ServerSpec]) -> list[ServerStatus]:
        """Start every enabled server of `specs` at once, each bounded by its
        `startup_timeout`, and wait for all of them; their statuses. Never raises for a
        server: its `ServerStatus` says why. Two `add`s may run at once (from two threads:
        a session starts the host's servers first and the sandbox's once it is up)."""
        servers = [_Server(spec, self) for spec in specs]
        statuses = list(self.submit(self._start_all(servers)).result())
        with self._lock:
            self._servers += servers
            self.statuses += statuses
            names = {t.name for t in self.tools}
            for tool in (t for server in servers for t in server.tools):
                if tool.name not in names:  # two servers of one name: the first one's tools
                    names.add(tool.name)
                    self.tools.append(tool)
        return statuses

    def withhold(self, server: str, tools: Iterable[str]) -> ServerStatus:
        """Take the server-side `tools` of `server` out of `tools` (the model never sees
        them this session) and into its status's `withheld`; names it does not offer are
        ignored. Call it before the tools are handed to an agent. The new status."""
        index = next(i for i, st in enumerate(self.statuses) if st.name == server)
        mine = next(s for s in self._servers if s.spec.name == server)
        names = set(tools)
        gone = [t for t in mine.tools if t.remote_name in names]
        mine.tools = [t for t in mine.tools if t not in gone]
        self.tools = [t for t in self.tools if t not in gone]
        status = self.statuses[index]
        gone_names = [t.name for t in gone]
        self.statuses[index] = replace(
            status, tools=tuple(n for n in status.tools if n not in gone_names),
            withheld=(*status.withheld, *gone_names))
        return self.statuses[index]

    def submit(self, coro: Any) -> concurrent.futures.Future:
        """Run `coro` on the hub's loop; a future for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def close(self) -> None:
        """End every session and subprocess. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self.submit(self._close_all()).result(CLOSE_TIMEOUT)
        except (concurrent.futures.TimeoutError, RuntimeError):
            pass  # what is left dies with the daemon thread's process
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(2.0)
        if not self._thread.is_alive():
            self._loop.close()

    @staticmethod
    async def _start_all(servers: "list[_Server]") -> list[ServerStatus]:
        return list(await asyncio.gather(*(s.start() for s in servers)))

    async def _close_all(self) -> None:
        with self._lock:
            servers = list(self._servers)
        await asyncio.gather(*(s.connection.aclose() for s in servers))

    # ---- resources and prompts: blocking, for the agent's or the REPL's thread ----------

    def connected(self) -> list[str]:
        """The names of the servers whose session started, in order."""
        return [st.name for st in self.statuses if st.status == "connected"]

    def resources(self, server: str, cancel: threading.Event | None = None) -> list[ResourceInfo]:
        """The resources and resource templates `server` lists (every page), asked once
        and then kept; [] for a server that does not offer resources. McpRequestError
        says why not."""
        return self._wait(self._find(server).listing("resources"), cancel)

    def prompts(self, server: str, cancel: threading.Event | None = None) -> list[PromptInfo]:
        """The prompts `server` offers (every page), asked once and then kept; [] for a
        server that does not offer prompts."""
        return self._wait(self._find(server).listing("prompts"), cancel)

    def listed(self, server: str, kind: str) -> list | None:
        """What `resources` or `prompts` (`kind`) fetched for `server` so far, without
        asking it; None before the first fetch (completion must never wait)."""
        found = next((sv for sv in self._servers if sv.spec.name == server), None)
        return found.listed.get(kind) if found is not None else None

    def read_resource(self, server: str, uri: str,
                      cancel: threading.Event | None = None) -> list[ResourceText]:
        """`resources/read` of `uri`: each content item, text as text, a blob as a note."""
        return self._wait(self._find(server).request(
            f"resources/read of {uri}", lambda c: fetch_contents(c, server, uri)), cancel)

    def get_prompt(self, server: str, name: str, arguments: dict[str, str],
                   cancel: threading.Event | None = None) -> str:
        """`prompts/get` of `name` with `arguments`: its messages' text."""
        return self._wait(self._find(server).request(
            f"prompts/get of {name}", lambda c: fetch_prompt(c, server, name, arguments)), cancel)

    def _find(self, name: str) -> "_Server":
        for server, status in zip(self._servers, self.statuses):
            if server.spec.name == name:
                if status.status != "connected":
                    why = f": {status.error}" if status.error else ""
                    raise McpRequestError(f"MCP server {name!r} is not connected "
                                          f"({status.status}{why})")
                return server
        known = ", ".join(st.name for st in self.statuses) or "none"
        raise McpRequestError(f"no MCP server named {name!r} (this session's: {known})")

    def _wait(self, coro: Any, cancel: threading.Event | None) -> Any:
        """`coro`'s result on the hub's loop; McpRequestError once `cancel` is set."""
        if self._closed:
            coro.close()
            raise McpRequestError("the session's MCP servers are closed")
        future = self.submit(coro)
        while True:
            try:
                return future.result(POLL)
            except concurrent.futures.TimeoutError:
                if (cancel is not None and cancel.is_set()) or self._closed:
                    future.cancel()
                    raise McpRequestError("interrupted") from None
            except concurrent.futures.CancelledError:
                raise McpRequestError("interrupted") from None

    def __enter__(self) -> "McpHub":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Server:
    """One server: its connection, its tools, and whether its one restart is spent."""

    def __init__(self, spec: ServerSpec, hub: McpHub):
        self.spec = spec
        self.connection = Connection(spec)
        self.tools: list[McpTool] = []
        self._hub = hub
        self._dead = ""          # why the session broke; "" while it is up
        self._restarted = False
        self._restarting = asyncio.Lock()  # two calls that find it dead restart it once
        self.listed: dict[str, list] = {}  # "resources" / "prompts", once fetched

    async def start(self) -> ServerStatus:
        name = self.spec.name
        if not self.spec.enabled:
            return ServerStatus(name, "disabled", ())
        try:
            remote = await self.connection.connect()
        except TimeoutError:
            return ServerStatus(name, "timeout", (), f"no answer within {self.spec.startup_timeout:g}s")
        except Exception as e:
            return ServerStatus(name, "failed", (), str(e) or type(e).__name__)
        skipped: list[str] = []
        pins = {tool.name: tool_hash(tool) for tool in remote}
        for tool in remote:
            if not self.spec.offers(tool.name):
                continue
            model_name = tool_name(name, tool.name)
            if any(t.name == model_name for t in self.tools):
                skipped.append(tool.name)
                continue
            self.tools.append(McpTool(model_name, self.spec, tool, self))
        note = f"tools left out, their names collide: {', '.join(skipped)}" if skipped else ""
        return ServerStatus(name, "connected", tuple(t.name for t in self.tools), note, pins)

    def call(self, tool: str, arguments: dict[str, Any], ctx: ToolContext) -> Any:
        """Call `tool` from the agent's thread: the result, or ToolError for a timeout,
        an interrupt (`ctx.cancel`), a broken session or a JSON-RPC error."""
        if ctx.cancel.is_set():
            raise ToolError(f"interrupted: {tool} on MCP server {self.spec.name!r} was not called")
        future = self._hub.submit(self._call(tool, arguments))
        while True:
            try:
                return future.result(POLL)
            except concurrent.futures.TimeoutError:
                if ctx.cancel.is_set():
                    future.cancel()
                    raise ToolError(f"interrupted: the call to {tool} on MCP server "
                                    f"{self.spec.name!r} was cancelled") from None
            except concurrent.futures.CancelledError:
                raise ToolError("interrupted") from None

    async def _call(self, tool: str, arguments: dict[str, Any]) -> Any:
        return await self._send(tool, f"the call to {tool}", "call", ToolError,
                                lambda client: client.call_tool(tool, arguments))

    async def _restart(self) -> None:
        name = self.spec.name
        if self._restarted:
            raise ToolError(f"MCP server {name!r} has stopped ({self._dead}) and was already "
                            f"restarted once this session; it is not started again")
        self._restarted = True
        await self.connection.aclose()
        try:
            await self.connection.connect()
        except TimeoutError:
            raise ToolError(f"MCP server {name!r} stopped and did not answer within "
                            f"{self.spec.startup_timeout:g}s when restarted") from None
        except Exception as e:
            raise ToolError(f"MCP server {name!r} stopped and could not be restarted: {e}") from None
        self._dead = ""

    # ---- resources and prompts ---------------------------------------------------------

    async def listing(self, kind: str) -> list:
        """The server's "resources" (templates after them) or "prompts", kept once fetched."""
        if kind not in self.listed:
            self.listed[kind] = await self.request(
                f"{kind}/list", lambda client: fetch_list(client, self.spec.name, kind))
        return self.listed[kind]

    async def request(self, what: str, send: Any) -> Any:
        """`send(client)` as a tool call is sent, its failures as McpRequestError naming
        the server and `what`."""
        return await self._send(what, what, "request", McpRequestError, send)

    async def _send(self, what: str, during: str, unit: str, error: type[Exception],
                    send: Any) -> Any:
        """`send(client)` on the session (a dead one restarted once first), bounded by
        `tool_timeout`; every failure as `error` saying what happened to `what`."""
        from mcp.shared.exceptions import MCPError

        name = self.spec.name
        if self._dead:
            async with self._restarting:
                if self._dead:
                    try:
                        await self._restart()
                    except ToolError as e:
                        raise error(str(e)) from None
                    self.listed.clear()
        try:
            return await self.connection.request(send)
        except TimeoutError:
            raise error(f"{what} on MCP server {name!r} timed out after "
                        f"{self.spec.tool_timeout:g}s (its tool_timeout)") from None
        except ServerDied as e:
            self._dead = str(e)
            again = f"it is started again for the next {unit}" if not self._restarted else \
                "it was restarted once already and is not started again"
            raise error(f"MCP server {name!r} stopped during {during} ({e}); {again}") from None
        except (MCPError, EndlessList) as e:
            raise error(f"MCP server {name!r} answered {what} with an error: "
                        f"{getattr(e, 'message', None) or e}") from None
