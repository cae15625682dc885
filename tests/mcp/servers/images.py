"""An MCP server (the SDK's MCPServer, on stdio) whose tools return images, for the
tests of what a result's images become.

    python images.py
"""
from __future__ import annotations

import base64

from mcp.server.mcpserver import MCPServer
from mcp.types import (BlobResourceContents, EmbeddedResource, ImageContent, TextContent)

server = MCPServer("images")


def png(n: int, fill: int = 0) -> str:
    """Base64 of an n-byte "PNG" (the signature, then `fill` bytes)."""
    return base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes([fill]) * (n - 8)).decode()


@server.tool()
def shots(count: int, size: int = 64) -> list:
    """`count` PNG images of `size` bytes each, with a line of text first."""
    return [TextContent(type="text", text=f"{count} shots"),
            *(ImageContent(type="image", data=png(size, i), mime_type="image/png")
              for i in range(count))]


@server.tool()
def odd() -> list:
    """Images in resources, an oversized one, an undecodable one, and a non-image blob."""
    gif = base64.b64encode(b"GIF89a" + b"\1" * 20).decode()
    return [EmbeddedResource(type="resource", resource=BlobResourceContents(
                uri="file:///a.gif", mime_type="image/GIF", blob=gif)),
            EmbeddedResource(type="resource", resource=BlobResourceContents(
                uri="file:///a.pdf", mime_type="application/pdf", blob=gif)),
            ImageContent(type="image", data=png(4 * 1024 * 1024), mime_type="image/png"),
            ImageContent(type="image", data="not base64!", mime_type="image/jpeg")]


if __name__ == "__main__":
    server.run("stdio")
