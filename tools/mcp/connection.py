"""One MCP server's session, on the hub's event loop.

`Connection.serve` is one long-lived task per server: it opens the SDK `Client` (stdio
subprocess or streamable HTTP), lists the tools (following `nextCursor`), reports them
through `ready`, and holds the session open until `aclose`. The SDK's task groups must be
entered and left by the same task, hence one task that owns them, and start-up bounded
from outside (`connect`) by waiting on `ready`, not by a timeout around the `async with`.
"""
from __future__ import annotations

import asyncio
import os
import tempfile
from contextlib import AsyncExitStack
from typing import Any, Awaitable, Callable

from tools.mcp.resources import EndlessList, McpRequestError
from tools.mcp.spec import ServerSpec

PAGE_LIMIT = 1000    # tools/list pages followed before a server is taken to loop forever
CLOSE_GRACE = 6.0    # seconds a session gets to end (the SDK: close stdin, TERM, KILL)
STDERR_TAIL = 2000   # characters of a failed server's stderr quoted in its error


class ServerDied(Exception):
    """The session ended under a call: the process exited or the connection broke."""


class Connection:
    """A live (or dead) session with one server; every method runs on the hub's loop."""

    def __init__(self, spec: ServerSpec):
        self.spec = spec
        self.client: Any = None
        self._task: asyncio.Task | None = None
        self._ready: asyncio.Future | None = None
        self._stop: asyncio.Event | None = None
        self._stderr: Any = None

    async def connect(self) -> list[Any]:
        """Start the session; the server's tools (`mcp.types.Tool`) once listed.

        Raises TimeoutError past `startup_timeout` (the session is abandoned and cleans
        up in the background), or whatever the SDK raised.
        """
        loop = asyncio.get_running_loop()
        self._ready, self._stop = loop.create_future(), asyncio.Event()
        self._task = loop.create_task(self._serve(self._ready, self._stop))
        try:
            return await asyncio.wait_for(asyncio.shield(self._ready), self.spec.startup_timeout)
        except TimeoutError:
            self._task.cancel()
            raise
        except Exception as e:
            raise RuntimeError(self._describe(e)) from None

    async def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        """`tools/call`; raises ServerDied if the session broke, MCPError for a
        JSON-RPC error the server answered with, TimeoutError past `tool_timeout`."""
        return await self.request(lambda client: client.call_tool(tool, arguments))

    async def request(self, send: Callable[[Any], Awaitable[Any]]) -> Any:
        """`send(client)` (one request or several, e.g. the pages of a list) bounded by
        `tool_timeout`; raises as `call` does. An McpRequestError or EndlessList that
        `send` raises passes through: the server answered, it is not dead."""
        from mcp.shared.exceptions import MCPError
        from mcp_types import CONNECTION_CLOSED

        if self.client is None or self._task is None or self._task.done():
            raise ServerDied("the session is not open")
        try:
            return await asyncio.wait_for(send(self.client), self.spec.tool_timeout)
        except MCPError as e:
            if e.code == CONNECTION_CLOSED:
                raise ServerDied(self._describe(e)) from None
            raise
        except (TimeoutError, asyncio.CancelledError, EndlessList, McpRequestError):
            raise
        except Exception as e:  # a transport failure (pipe, HTTP connection)
            raise ServerDied(self._describe(e)) from None

    async def aclose(self) -> None:
        """End the session and its subprocess; waits at most CLOSE_GRACE."""
        task, self.client = self._task, None
        if task is None:
            return
        if self._stop is not None:
            self._stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), CLOSE_GRACE)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
        except Exception:
            pass  # it failed already, and said so through `ready`
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    async def _serve(self, ready: asyncio.Future, stop: asyncio.Event) -> None:
        client = None
        try:
            async with AsyncExitStack() as stack:
                client = await stack.enter_async_context(await self._client(stack))
                tools = await _list_tools(client)
                self.client = client
                ready.set_result(tools)
                await stop.wait()
        except BaseException as e:  # noqa: BLE001 - reported through `ready`
            if not isinstance(e, Exception):
                if not ready.done():
                    ready.cancel()
                raise
            if not ready.done():
                ready.set_exception(e)
        finally:
            if client is not None and self.client is client:  # not a restart's new session
                self.client = None

    async def _client(self, stack: AsyncExitStack) -> Any:
        from mcp import Client

        spec = self.spec
        if spec.url:
            from mcp.client.streamable_http import streamable_http_client
            from mcp.shared._httpx_utils import create_mcp_http_client

            http = await stack.enter_async_context(
                create_mcp_http_client(headers=dict(spec.headers) or None))
            return Client(streamable_http_client(spec.url, http_client=http))
        if not spec.command:
            raise ValueError(f"neither command nor url is set (defined in {spec.source or '?'})")
        from mcp.client.stdio import StdioServerParameters, stdio_client

        if self._stderr is None:
            self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
        if spec.launch:   # a sandboxed server: the sandbox's way in, which sets cwd and env
            params = StdioServerParameters(command=spec.launch[0], args=list(spec.launch[1:]),
                                           env=dict(spec.launch_env) or None)
        else:
            params = StdioServerParameters(command=spec.command or "", args=list(spec.args),
                                           env=dict(spec.env) or None, cwd=spec.cwd)
        return Client(stdio_client(params, errlog=self._stderr))

    def _describe(self, error: BaseException) -> str:
        """`error` in a line, with the tail of the server's stderr when it wrote any."""
        while isinstance(error, BaseExceptionGroup) and error.exceptions:
            error = error.exceptions[0]
        text = str(error) or type(error).__name__
        tail = self._stderr_tail()
        return f"{text}; its stderr ends: {tail}" if tail else text

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.flush()
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - STDERR_TAIL))
            return " ".join(self._stderr.read().split())[-STDERR_TAIL:]
        except (OSError, ValueError):
            return ""


async def _list_tools(client: Any) -> list[Any]:
    """Every page of `tools/list`."""
    tools: list[Any] = []
    cursor = None
    for _ in range(PAGE_LIMIT):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            return tools
    raise RuntimeError(f"tools/list did not end after {PAGE_LIMIT} pages")
