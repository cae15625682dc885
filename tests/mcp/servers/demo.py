"""A small MCP server built with the SDK's MCPServer, for the hub's tests.

    python demo.py stdio              serve on stdin/stdout
    python demo.py http PORT          serve streamable HTTP on 127.0.0.1:PORT/mcp
    python demo.py stdio --delay 1    sleep that long before serving (a slow start)
"""
from __future__ import annotations

import base64
import os
import sys
import time

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.types import (CallToolResult, EmbeddedResource, ImageContent, ResourceLink, TextContent,
                       TextResourceContents, ToolAnnotations)

server = MCPServer("demo")
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 92).decode()


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def echo(text: str, times: int = 1) -> str:
    """Say `text` back, `times` times."""
    return " ".join([text] * times)


@server.tool()
def multi() -> list:
    """A result of every kind of content."""
    return [TextContent(type="text", text="some text"),
            ImageContent(type="image", data=PNG, mime_type="image/png"),
            EmbeddedResource(type="resource", resource=TextResourceContents(
                uri="file:///notes.txt", mime_type="text/plain", text="the notes")),
            ResourceLink(type="resource_link", name="readme", uri="file:///README.md")]


@server.tool()
def fail(reason: str) -> CallToolResult:
    """Answer with isError."""
    return CallToolResult(content=[TextContent(type="text", text=f"it failed: {reason}")],
                          is_error=True)


@server.tool()
def weather(city: str) -> CallToolResult:
    """Structured content beside a text block."""
    return CallToolResult(content=[TextContent(type="text", text=f"weather for {city}")],
                          structured_content={"city": city, "celsius": 21})


@server.tool()
def big(n: int) -> str:
    """`n` characters of output."""
    return "x" * n


@server.tool()
async def hang() -> str:
    """Never answers."""
    await anyio.sleep(3600)
    return "never"


@server.tool()
def crash() -> str:
    """The server process dies mid-call."""
    os._exit(3)


@server.tool()
def pid() -> str:
    """The server's process id."""
    return str(os.getpid())


@server.tool(name="dot.name")
def dot_name() -> str:
    """Its model-facing name is the same as the next tool's."""
    return "dot.name"


@server.tool(name="dot_name")
def dot_underscore() -> str:
    """Loses to "dot.name" for mcp__demo__dot_name."""
    return "dot_name"


if __name__ == "__main__":
    if "--delay" in sys.argv:
        time.sleep(float(sys.argv[sys.argv.index("--delay") + 1]))
    if sys.argv[1] == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")
