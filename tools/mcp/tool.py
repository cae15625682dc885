"""One remote MCP tool as an ordinary `Tool`, and an MCP call result as text and images.

The params model takes the server's JSON Schema as it is: the declared required
properties must be present, anything else is passed through, and the schema the model
is told about is the server's own (`McpArgs.model_json_schema`). The server validates
the values itself; a rejection comes back as an isError result, so a tool error.

Images in a result (image content, and embedded resources whose blob has an image/*
type) also go into `ToolResult.images`, for the models that take images; the text keeps
a note of each where it was. At most MAX_IMAGES per result, each at most
MAX_IMAGE_BASE64 characters of base64 (5 MiB, about 3.75 MB of image: Anthropic's
per-image limit counts the base64 text); past either limit, or with data that is not
base64, the image stays a note that says why it was not sent.
"""
from __future__ import annotations

import base64
import binascii
import copy
import json
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Protocol

from pydantic import BaseModel, ConfigDict, Field, create_model

from tools import json_safe
from tools.base import ImageData, ToolContext, ToolError, ToolResult
from tools.mcp.spec import ServerSpec
from tools.output_cap import cap_output

if TYPE_CHECKING:
    from mcp.types import CallToolResult

MAX_IMAGES = 8                        # images of one result sent to the model
MAX_IMAGE_BASE64 = 5 * 1024 * 1024    # characters of base64, per image


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
        rendered, images = render(result)
        text, cut = cap_output(rendered)
        if result.is_error:
            raise ToolError(text or f"{self.name} failed (the server gave no message)")
        return ToolResult(output=text or "(no output)", summary=f"{self.server}: {self.remote_name}",
                          data={"server": self.server, "tool": self.remote_name, "truncated": cut},
                          images=images)


def render_result(result: "CallToolResult") -> str:
    """The text a model reads for a call's result (see `render`)."""
    return render(result)[0]


def render(result: "CallToolResult") -> tuple[str, tuple[ImageData, ...]]:
    """(text, images) for a call's result. The text: each content block in order (text
    as is; images, audio and blobs as a note of their type and size; resources with their
    URI), then `structuredContent` as JSON unless a text block already says the same.
    The images: those of the blocks, in order, within the limits above."""
    images: list[ImageData] = []
    parts = [_render_block(block, images) for block in result.content]
    structured = result.structured_content
    if structured is not None and not any(_same_json(p, structured) for p in parts):
        parts.append(json.dumps(structured, ensure_ascii=False, indent=2))
    return "\n".join(parts), tuple(images)


def _render_block(block: Any, images: list[ImageData]) -> str:
    kind = getattr(block, "type", "")
    if kind == "text":
        return block.text
    if kind in ("image", "audio"):
        note = f"{kind}: {block.mime_type}, {_decoded_size(block.data)} bytes"
        if kind == "image":
            note += _attach(block.mime_type, block.data, images)
        return f"[{note}]"
    if kind == "resource_link":
        about = f": {block.description}" if block.description else ""
        return f"[resource link: {block.name} <{block.uri}>{about}]"
    if kind == "resource":
        res = block.resource
        if getattr(res, "text", None) is not None:
            return f"[resource <{res.uri}>]\n{res.text}"
        note = f"resource <{res.uri}>: {res.mime_type or 'binary'}, {_decoded_size(res.blob)} bytes"
        if _mime(res.mime_type).startswith("image/"):
            note += _attach(res.mime_type, res.blob, images)
        return f"[{note}]"
    return f"[{kind or 'unknown'} content]"


def _attach(mime_type: str | None, data: str, images: list[ImageData]) -> str:
    """Add the image to `images` if it may go to the model: "" then, else why not (for
    its note)."""
    mime, data = _mime(mime_type), "".join(data.split())
    if not mime.startswith("image/"):
        return "; not sent to the model: not an image type"
    if len(data) > MAX_IMAGE_BASE64:
        return (f"; not sent to the model: too large (over {MAX_IMAGE_BASE64 // 2**20} MB "
                f"as base64)")
    if len(images) >= MAX_IMAGES:
        return f"; not sent to the model: at most {MAX_IMAGES} images of a result are"
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return "; not sent to the model: its data is not base64"
    images.append(ImageData(mime, data))
    return ""


def _mime(mime_type: str | None) -> str:
    """"image/PNG; charset=x" -> "image/png"."""
    return (mime_type or "").split(";")[0].strip().lower()


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
