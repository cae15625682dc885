"""What an editor sends, as ama takes it: a prompt's content blocks as the message for
the model, the MCP servers of `session/new` as ServerSpecs. Pure; BadInput says what
is wrong with a request (the server turns it into a JSON-RPC "invalid params")."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import unquote, urlparse

from acp.schema import (EmbeddedResourceContentBlock, HttpMcpServer, McpServerStdio,
                        ResourceContentBlock, TextContentBlock, TextResourceContents)

from agent.core.errors import BadInput
from tools.mcp.spec import ServerSpec

EDITOR_SOURCE = "the editor (session/new)"


def prompt_message(blocks: Sequence[Any], root: Path) -> str:
    """The user's message: text blocks as they are, a mentioned file (resource link or
    embedded resource) as `@path` where it stands, and embedded resources' text
    attached below (prompts/editor_context.md). `root`: the user's tree, which
    `file://` URIs are made relative to."""
    from prompts import render
    pieces: list[str] = []
    attached: list[dict[str, str]] = []
    for block in blocks:
        if isinstance(block, TextContentBlock):
            pieces.append(block.text)
        elif isinstance(block, ResourceContentBlock):
            pieces.append(f"@{_where(block.uri, root)}")
        elif isinstance(block, EmbeddedResourceContentBlock):
            where = _where(block.resource.uri, root)
            pieces.append(f"@{where}")
            text = block.resource.text if isinstance(block.resource, TextResourceContents) \
                else "(binary content; not attached)"
            attached.append({"path": where, "text": text})
        else:
            raise BadInput(f"prompt content of type {getattr(block, 'type', '?')!r} is not "
                           f"supported: ama takes text and resources (its promptCapabilities)")
    message = _join(pieces)
    if not message.strip():
        raise BadInput("the prompt is empty: send at least one text block")
    return render("editor_context.md", message=message, resources=attached) if attached \
        else message


def _join(pieces: list[str]) -> str:
    """Concatenate, with a space where two blocks would otherwise touch."""
    out = ""
    for piece in pieces:
        if out and piece and not out[-1].isspace() and not piece[0].isspace():
            out += " "
        out += piece
    return out


def _where(uri: str, root: Path) -> str:
    """A `file://` URI as a path relative to `root` (absolute when outside it); any
    other URI as it is."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return uri
    path = Path(unquote(parsed.path))
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return str(path)


def editor_servers(servers: Sequence[Any] | None) -> tuple[ServerSpec, ...]:
    """The MCP servers an editor passed, as ServerSpecs: the user's own, so trusted and
    run on this machine as the editor would run them. stdio and HTTP; SSE is not
    offered (mcpCapabilities)."""
    specs: list[ServerSpec] = []
    for server in servers or ():
        name = re.sub(r"[^A-Za-z0-9_-]", "_", server.name.strip()) or "server"
        if isinstance(server, McpServerStdio):
            spec = ServerSpec(name, command=server.command, args=tuple(server.args),
                              env={v.name: v.value for v in server.env}, trusted=True,
                              source=EDITOR_SOURCE)
        elif isinstance(server, HttpMcpServer):
            spec = ServerSpec(name, url=server.url, headers={h.name: h.value for h in
                                                             server.headers},
                              trusted=True, source=EDITOR_SOURCE)
        else:
            raise BadInput(f"MCP server {server.name!r}: transport "
                           f"{getattr(server, 'type', '?')!r} is not supported; use stdio or http")
        if any(s.name == name for s in specs):
            raise BadInput(f"two MCP servers are named {name!r}; give each its own name")
        specs.append(spec)
    return tuple(specs)


def with_servers(configured: tuple[ServerSpec, ...], editor: tuple[ServerSpec, ...]
                 ) -> tuple[ServerSpec, ...]:
    """The config's servers and the editor's; the editor's win where a name is both."""
    names = {s.name for s in editor}
    return (*(s for s in configured if s.name not in names), *editor)
