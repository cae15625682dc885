"""One remote MCP tool as an ordinary `Tool`, and an MCP call result as text.

The params model takes the server's JSON Schema as it is: the declared required
properties must be present, anything else is passed through, and the schema the model
is told about is the server's own (`McpArgs.model_json_schema`). The server validates
the values itself; a rejection comes back as an isError result, so a tool error.
"""
from __future__ import annotations

import base64
import binascii
import copy
import json
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Protocol

from pydantic import BaseModel, ConfigDict, Field, create_model

from tools import json_safe
from tools.base import ToolContext, ToolError, ToolResult
from tools.mcp.spec import ServerSpec
from tools.output_cap import cap_output

if TYPE_CHECKING:
    from mcp.types import CallToolResult


class Caller(Protocol):
    """What a tool needs of its server: a blocking call honouring timeout and cancel."""

    def call(self, tool: str, arguments: dict[str, Any], ctx: ToolContext) -> "CallToolResult": ...


class McpArgs(BaseModel):
    """Base of every MCP tool's params: extra arguments allowed and kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    input_schema: ClassVar[dict[str, Any]] = {"type": "object"}

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return copy.deepcopy(cls.input_schema)

    def arguments(self) -> dict[str, Any]:
        """The arguments as the model sent them, for the server."""
        return self.model_dump(by_alias=True)


def params_model(name: str, schema: Mapping[str, Any]) -> type[McpArgs]:
    """A params model for a tool whose input schema is `schema`: its required properties
    are required fields (of any value; field names are f0, f1... aliased to the property,
    so no property can clash with pydantic's own attributes)."""
    required = [p for p in schema.get("required", ()) if isinstance(p, str)]
    fields: dict[str, Any] = {f"f{i}": (Any, Field(..., alias=p)) for i, p in enumerate(required)}
    model = create_model(f"McpArgs_{name}", __base__=McpArgs, **fields)
    model.input_schema = dict(schema)
    return model


class McpTool:
    """A server's tool, named `mcp__<server>__<tool>`; `run` calls it through `caller`."""

    def __init__(self, name: str, spec: ServerSpec, remote: Any, caller: Caller):
        """`remote`: the server's `mcp.types.Tool` (name, description, inputSchema, annotations)."""
        self.name = name
        self.server = spec.name
        self.remote_name: str = remote.name
        self.description: str = remote.description or remote.title or remote.name
        self.params = params_model(name, remote.input_schema or {"type": "object"})
        annotations = remote.annotations
        self.read_only = bool(annotations is not None and annotations.read_only_hint is True)
        self._trusted = spec.trusted
        self._caller = caller

    def is_mutating(self, args: BaseModel) -> bool:
        # a server's own annotation is believed only when the user vouches for the server
        return not (self._trusted and self.read_only)

    def run(self, args: McpArgs, ctx: ToolContext) -> ToolResult:
        result = self._caller.call(self.remote_name, args.arguments(), ctx)
        text, cut = cap_output(render_result(result))
        if result.is_error:
            raise ToolError(text or f"{self.name} failed (the server gave no message)")
        return ToolResult(output=text or "(no output)", summary=f"{self.server}: {self.remote_name}",
                          data={"server": self.server, "tool": self.remote_name, "truncated": cut})


def render_result(result: "CallToolResult") -> str:
    """The text a model reads for a call's result: each content block in order (text as
    is; images, audio and blobs as a note of their type and size; resources with their
    URI), then `structuredContent` as JSON unless a text block already says the same."""
    parts = [_render_block(block) for block in result.content]
    structured = result.structured_content
    if structured is not None and not any(_same_json(p, structured) for p in parts):
        parts.append(json.dumps(structured, ensure_ascii=False, indent=2))
    return "\n".join(parts)


def _render_block(block: Any) -> str:
    kind = getattr(block, "type", "")
    if kind == "text":
        return block.text
    if kind in ("image", "audio"):
        return f"[{kind}: {block.mime_type}, {_decoded_size(block.data)} bytes]"
    if kind == "resource_link":
        about = f": {block.description}" if block.description else ""
        return f"[resource link: {block.name} <{block.uri}>{about}]"
    if kind == "resource":
        res = block.resource
        if getattr(res, "text", None) is not None:
            return f"[resource <{res.uri}>]\n{res.text}"
        return f"[resource <{res.uri}>: {res.mime_type or 'binary'}, {_decoded_size(res.blob)} bytes]"
    return f"[{kind or 'unknown'} content]"


def _decoded_size(data: str) -> int:
    try:
        return len(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        return len(data)


def _same_json(text: str, value: Any) -> bool:
    """Whether `text` already carries `value`: as its JSON, or (an SDK server wraps a
    plain return value as {"result": value}) as that value."""
    if isinstance(value, dict) and list(value) == ["result"] and text == str(value["result"]):
        return True
    try:
        return json_safe.loads(text) == value
    except json_safe.JSONTextError:
        return False
