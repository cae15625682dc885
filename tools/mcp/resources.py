"""An MCP server's resources and prompts: asked for (`fetch_*`, on the hub's loop, inside
`_Server.request`), turned into plain values and text, and a prompt's argument line
mapped to the arguments it declares.

The `mcp` SDK is imported only inside the `fetch_*` functions, so a front end can import
the values and McpRequestError without it.
"""
from __future__ import annotations

import base64
import binascii
import shlex
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable

MAX_RESOURCE_CHARS = 200_000   # of one resource's text attached to a message
PAGE_LIMIT = 1000              # pages of one list followed before a server is taken to loop


class McpRequestError(Exception):
    """A resource or prompt request that did not succeed: no such server, the server is
    not connected, it timed out or answered with an error. The message says which."""


class EndlessList(RuntimeError):
    """A list whose pages did not end within PAGE_LIMIT."""


@dataclass(frozen=True)
class ResourceInfo:
    """A resource a server lists. template: `uri` is a URI template (RFC 6570, e.g.
    "notes://{day}") to fill in before reading."""
    uri: str
    name: str
    description: str = ""
    mime_type: str = ""
    template: bool = False


@dataclass(frozen=True)
class ResourceText:
    """One content item of a read resource: its text, or for binary content a note of
    its type and size."""
    uri: str
    mime_type: str
    text: str
    binary: bool = False


@dataclass(frozen=True)
class PromptArg:
    name: str
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class PromptInfo:
    """A prompt a server offers, with the arguments it declares, in order."""
    name: str
    description: str = ""
    arguments: tuple[PromptArg, ...] = ()

    def usage(self) -> str:
        """Its arguments as a usage line: required ones in capitals, optional in brackets."""
        return " ".join(a.name.upper() if a.required else f"[{a.name.upper()}]"
                        for a in self.arguments)


# ---- from the SDK's objects -------------------------------------------------------------

def resource_info(resource: Any) -> ResourceInfo:
    """From an `mcp.types.Resource`."""
    return ResourceInfo(resource.uri, resource.name, resource.description or "",
                        resource.mime_type or "")


def template_info(template: Any) -> ResourceInfo:
    """From an `mcp.types.ResourceTemplate`."""
    return ResourceInfo(template.uri_template, template.name, template.description or "",
                        template.mime_type or "", template=True)


def prompt_info(prompt: Any) -> PromptInfo:
    """From an `mcp.types.Prompt`."""
    return PromptInfo(prompt.name, prompt.description or prompt.title or "", tuple(
        PromptArg(a.name, a.description or "", bool(a.required)) for a in prompt.arguments or ()))


def resource_texts(contents: Iterable[Any]) -> list[ResourceText]:
    """The contents of a `resources/read` result (`TextResourceContents` and
    `BlobResourceContents`): text as it is (cut past MAX_RESOURCE_CHARS, with a note),
    a blob as a note of its type and size."""
    out = []
    for item in contents:
        mime = item.mime_type or ""
        text = getattr(item, "text", None)
        if text is None:
            note = f"(binary content: {mime or 'unknown type'}, {_decoded_size(item.blob)} bytes; not attached)"
            out.append(ResourceText(item.uri, mime, note, binary=True))
            continue
        if len(text) > MAX_RESOURCE_CHARS:
            text = text[:MAX_RESOURCE_CHARS] + \
                f"\n… (cut: the resource has {len(text)} characters)"
        out.append(ResourceText(item.uri, mime, text))
    return out


def prompt_text(messages: Iterable[Any]) -> str:
    """The text of a `prompts/get` result's messages, in order, for the user's turn:
    text as it is, embedded resources with their URI, other content as a note. When the
    prompt speaks in more than one role, each message is labelled with its role."""
    messages = list(messages)
    labelled = len({m.role for m in messages}) > 1
    parts = []
    for m in messages:
        text = _block_text(m.content)
        parts.append(f"[{m.role}]\n{text}" if labelled else text)
    return "\n\n".join(parts)


def _block_text(block: Any) -> str:
    kind = getattr(block, "type", "")
    if kind == "text":
        return block.text
    if kind == "resource":
        [item] = resource_texts([block.resource])
        return f"[resource <{item.uri}>]\n{item.text}"
    if kind == "resource_link":
        return f"[resource link: {block.name} <{block.uri}>]"
    if kind in ("image", "audio"):
        return f"[{kind}: {block.mime_type}, {_decoded_size(block.data)} bytes]"
    return f"[{kind or 'unknown'} content]"


def _decoded_size(data: str) -> int:
    try:
        return len(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        return len(data)


# ---- asking a server (on the hub's loop; `client` is the open `mcp.Client`) ----------------

def offers(client: Any, kind: str) -> bool:
    """Whether the server declared `kind` ("resources", "prompts") when it initialized."""
    return getattr(client.server_capabilities, kind, None) is not None


async def fetch_list(client: Any, server: str, kind: str) -> list:
    """Every page of the server's "resources" (then its resource templates) or
    "prompts"; [] when it does not declare that capability."""
    from mcp.shared.exceptions import MCPError
    from mcp_types import METHOD_NOT_FOUND

    if not offers(client, kind):
        return []
    if kind == "prompts":
        return [prompt_info(p) for p in await list_all(client.list_prompts, "prompts", "prompts/list")]
    found = [resource_info(r) for r in
             await list_all(client.list_resources, "resources", "resources/list")]
    try:
        templates = await list_all(client.list_resource_templates, "resource_templates",
                                   "resources/templates/list")
    except MCPError as e:   # resources, but no templates
        if e.code != METHOD_NOT_FOUND:
            raise
        templates = []
    return found + [template_info(t) for t in templates]


async def list_all(fetch: Callable[..., Awaitable[Any]], field: str, method: str) -> list[Any]:
    """Every page of a paginated list: `fetch(cursor=...)` (e.g. `client.list_prompts`)
    until `nextCursor` is empty; the items of each page's `field`."""
    items: list[Any] = []
    cursor = None
    for _ in range(PAGE_LIMIT):
        page = await fetch(cursor=cursor)
        items.extend(getattr(page, field))
        cursor = page.next_cursor
        if not cursor:
            return items
    raise EndlessList(f"{method} did not end after {PAGE_LIMIT} pages")


async def fetch_contents(client: Any, server: str, uri: str) -> list["ResourceText"]:
    """`resources/read` of `uri`, as `resource_texts`."""
    if not offers(client, "resources"):
        raise McpRequestError(f"MCP server {server!r} offers no resources")
    return resource_texts((await client.read_resource(uri)).contents)


async def fetch_prompt(client: Any, server: str, name: str, arguments: dict[str, str]) -> str:
    """`prompts/get` of `name`, as `prompt_text`."""
    if not offers(client, "prompts"):
        raise McpRequestError(f"MCP server {server!r} offers no prompts")
    return prompt_text((await client.get_prompt(name, arguments)).messages)


# ---- a prompt's arguments from a command line --------------------------------------------

def prompt_arguments(prompt: PromptInfo, line: str) -> dict[str, str]:
    """Map the text after `/mcp__server__prompt` to `prompt`'s arguments.

    A prompt with one argument takes the whole line as its value. Otherwise the line is
    split like a shell's (quotes keep spaces); `NAME=VALUE` sets a declared argument by
    name, the other words fill the rest in declared order. ValueError says what is wrong
    (too many words, an unbalanced quote, which required arguments are missing); the
    caller adds the usage line (`PromptInfo.usage`)."""
    declared = [a.name for a in prompt.arguments]
    line = line.strip()
    values: dict[str, str] = {}
    if len(declared) == 1 and line and not line.startswith(f"{declared[0]}="):
        values[declared[0]] = line
    elif line:
        try:
            words = shlex.split(line)
        except ValueError as e:
            raise ValueError(f"cannot split the arguments: {e}") from None
        positional = []
        for word in words:
            key, eq, value = word.partition("=")
            if eq and key in declared:
                values[key] = value
            else:
                positional.append(word)
        free = [name for name in declared if name not in values]
        if len(positional) > len(free):
            takes = f"takes {len(declared)} argument{'s' if len(declared) != 1 else ''}" \
                if declared else "takes no arguments"
            raise ValueError(f"too many arguments: {prompt.name} {takes}")
        values.update(zip(free, positional))
    missing = [a.name for a in prompt.arguments if a.required and a.name not in values]
    if missing:
        raise ValueError(f"missing required argument{'s' if len(missing) > 1 else ''}: "
                         f"{', '.join(missing)}")
    return values
