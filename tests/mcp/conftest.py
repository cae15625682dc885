"""Fixtures: real MCP servers (tests/mcp/servers/), over stdio and streamable HTTP."""
from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tools.base import ToolContext
from tools.mcp.hub import McpHub
from tools.mcp.spec import ServerSpec

SERVERS = Path(__file__).parent / "servers"


def stdio_spec(name: str, script: str, *args: str, **kw) -> ServerSpec:
    return ServerSpec(name, command=sys.executable, args=(str(SERVERS / script), *args), **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_server(script: str):
    """`script` on streamable HTTP (uvicorn on 127.0.0.1, a free port): yields its URL,
    stops it after. For fixtures."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(SERVERS / script), "http", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the HTTP server {script} did not start")
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/mcp"
    proc.kill()
    proc.wait(5)


@pytest.fixture
def http_url():
    """The demo server on streamable HTTP."""
    yield from http_server("demo.py")


@pytest.fixture(params=["stdio", "http"])
def demo(request) -> McpHub:
    """A hub with the demo server, over each transport."""
    common = dict(tool_timeout=2.0, trusted=True)
    if request.param == "stdio":
        spec = stdio_spec("demo", "demo.py", "stdio", **common)
    else:
        spec = ServerSpec("demo", url=request.getfixturevalue("http_url"),
                          headers={"X-Test": "1"}, **common)
    hub = McpHub.start([spec])
    yield hub
    hub.close()


@pytest.fixture
def ctx(tmp_path) -> ToolContext:
    return ToolContext(root=tmp_path, sandbox=None, cancel=threading.Event())


def run(hub: McpHub, name: str, ctx: ToolContext, **arguments):
    """Call the hub's tool `name` the way the loop does: validate, then run."""
    tool = next(t for t in hub.tools if t.name == name)
    return tool.run(tool.params.model_validate(arguments), ctx)
