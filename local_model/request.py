"""The Chat Completions request body, checked at the edge: a schema of every field the server reads.

`parse_chat_request(body)` returns a ChatRequest or raises BadRequest whose `param` is the
path of the first bad field (`messages[0].tool_calls[0].function`) and whose message says
what was expected there; the server answers it with an OpenAI-shaped 400. Fields this
server does not read are ignored. Types are strict, as OpenAI's are: `"5"` is not a number,
`1` is not a boolean.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError

from .untrusted_json import JSONRejected, loads


class BadRequest(ValueError):
    """A request the server answers with 400; `param` names the offending field."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.param, self.code = param, code


# ---- unions chosen by the JSON type of the input ------------------------------------------

def _json_type(value: Any) -> str:
    """The JSON type of a parsed value: the tag of the union member it must match."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return {str: "string", list: "array", dict: "object", int: "number", float: "number"}.get(type(value), "")


_JSON_TYPES = ("null", "boolean", "string", "array", "object", "number")


def one_of(expected: str, **members: Any) -> Any:
    """A field that is one of `members` (keyed by JSON type: string=..., array=...). The input's
    type picks the member, so an error comes from that member alone, or says `expected`."""
    choices = tuple(Annotated[t, Tag(json_type)] for json_type, t in members.items())
    return Annotated[Union[choices], Discriminator(  # noqa: UP007 (a tuple of members needs Union[])
        _json_type, custom_error_type="invalid_type", custom_error_message=f"Input should be {expected}")]


def _fits_64_bits(seed: int) -> int:
    if not -2**63 <= seed < 2**64:
        raise ValueError("the seed must fit in 64 bits (from -2**63 to 2**64 - 1)")
    return seed


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


# ---- the schema ----------------------------------------------------------------------------

class TextPart(_Strict):
    type: Literal["text"]
    text: str


class FunctionCall(_Strict):
    name: str
    arguments: str = "{}"  # JSON text, as the model wrote it (not parsed here)


class ToolCall(_Strict):
    id: str | None = None
    type: Literal["function"] = "function"
    function: FunctionCall


Content = one_of("a string, null or an array of text parts", string=str, array=list[TextPart], null=None)


class Message(_Strict):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Content = None
    tool_calls: list[ToolCall] | None = None  # read on assistant messages
    tool_call_id: str | None = None  # read on tool messages


class FunctionDef(_Strict):
    model_config = ConfigDict(extra="allow")  # e.g. "strict": handed to the chat template as given
    name: str = Field(min_length=1)
    description: str | None = None
    parameters: dict[str, Any] | None = None


class ToolDef(_Strict):
    type: Literal["function"]
    function: FunctionDef


class FunctionName(_Strict):
    name: str


class NamedToolChoice(_Strict):
    type: Literal["function"]
    function: FunctionName


ToolChoice = one_of("'none', 'auto', 'required', null or {\"type\": \"function\", \"function\": {\"name\": ...}}",
                    string=Literal["none", "auto", "required"], object=NamedToolChoice, null=None)
Stop = one_of("a string, null or an array of at most 4 strings", string=str,
              array=Annotated[list[str], Field(max_length=4)], null=None)
Seed = Annotated[int, AfterValidator(_fits_64_bits)]


class StreamOptions(_Strict):
    include_usage: bool = False


class ChatRequest(_Strict):
    """The fields of a Chat Completions request this server reads."""

    model: str | None = None
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    stop: Stop = None
    seed: Seed | None = None
    n: int = Field(1, ge=1, le=1)
    tools: list[ToolDef] | None = None
    tool_choice: ToolChoice = None
    # vLLM's extension: variables for the chat template, e.g. {"enable_thinking": false} (Qwen3)
    chat_template_kwargs: Annotated[dict[str, bool | int | float | str | None], Field(max_length=16)] | None = None

    @property
    def stops(self) -> list[str]:
        return [self.stop] if isinstance(self.stop, str) else list(self.stop or [])


def parse_chat_request(body: bytes | str) -> ChatRequest:
    """The request body, parsed and validated; raises BadRequest naming the first bad field."""
    try:
        raw = loads(body)
    except JSONRejected as exc:
        raise BadRequest(f"the request body is not accepted as JSON: {exc}") from None
    try:
        return ChatRequest.model_validate(raw)
    except ValidationError as exc:
        raise _bad_request(exc.errors(include_url=False)[0]) from None


def _bad_request(error: dict[str, Any]) -> BadRequest:
    """The BadRequest of one pydantic error: its path as OpenAI writes `param` (less the union
    tags one_of puts in it: JSON type names, never field names), a plain message."""
    param = "".join(f"[{x}]" if isinstance(x, int) else f".{x}"
                    for x in error["loc"] if x not in _JSON_TYPES).lstrip(".") or None
    message = error["msg"].removeprefix("Value error, ")
    message = re.sub(r"a valid dictionary( or instance of \w+)?", "an object", message)
    message = message.replace("a valid list", "an array").replace("List should", "Array should")
    message = message.replace(" after validation", "").replace("Field required", "this field is required")
    return BadRequest(f"{param or 'the request body'}: {message}", param)
