"""An MCP server with resources and prompts, built with the SDK's MCPServer.

    python library.py stdio           serve on stdin/stdout
    python library.py http PORT       serve streamable HTTP on 127.0.0.1:PORT/mcp
"""
from __future__ import annotations

import os
import sys

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts.base import AssistantMessage, UserMessage

server = MCPServer("library")
LOGO = b"\x89PNG\r\n\x1a\n" + b"\0" * 92


@server.resource("notes://today", name="today", description="Today's notes",
                 mime_type="text/plain")
def today() -> str:
    return "buy milk\ncall the plumber"


@server.resource("notes://logo.png", name="logo", mime_type="image/png")
def logo() -> bytes:
    return LOGO


@server.resource("notes://day/{day}", name="day", description="The notes of one day")
def day(day: str) -> str:
    return f"notes of {day}"


@server.resource("notes://slow", name="slow")
async def slow() -> str:
    await anyio.sleep(3600)
    return "never"


@server.resource("notes://crash", name="crash")
def crash() -> str:
    os._exit(3)


@server.prompt(description="Review one file")
def review(path: str, focus: str = "") -> str:
    return f"Please review {path}." + (f" Look closely at {focus}." if focus else "")


@server.prompt(description="Summarise a text")
def summarise(text: str) -> str:
    return f"Summarise this: {text}"


@server.prompt(description="A conversation to continue")
def dialogue() -> list:
    return [UserMessage("What is 2 + 2?"), AssistantMessage("4"), UserMessage("And times 3?")]


@server.tool()
def add_note(text: str) -> str:
    """Add a note for today."""
    return f"noted: {text}"


if __name__ == "__main__":
    if sys.argv[1] == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")
