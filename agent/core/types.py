"""Provider-neutral value types shared by the loop, the providers and the renderers.

Every provider converts its wire format to and from these in one place; nothing
else in the project knows what a provider's JSON looks like.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal, Protocol, Union, Iterator, Mapping

from tools.base import ImageData, ToolResult, ToolSpec  # noqa: F401  (re-exported: the tool seam owns them)

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class ToolCall:
    """A tool call the model asked for.

    `arguments` is the parsed JSON object. When the model's arguments did not parse
    (malformed JSON, not an object), `arguments` is empty and `arguments_error` says
    why; the loop answers such a call with a tool error so the model can correct it.
    """

    id: str
    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    arguments_error: str | None = None
    raw_arguments: str | None = None


@dataclass(frozen=True)
class Reasoning:
    """A block of model reasoning (Anthropic thinking, OpenAI reasoning summary).

    `signature` is opaque provider data that must be sent back unchanged with the
    block on later requests (Anthropic verifies it).
    """

    text: str
    signature: str | None = None
    redacted: bool = False


@dataclass(frozen=True)
class Message:
    """One conversation message.

    - system / user: `content` is the text.
    - assistant: `content` is the visible text, `tool_calls` the calls it made,
      `reasoning` any thinking blocks that must be round-tripped.
    - tool: the answer to one call: `tool_call_id`, `name`, `content`, `is_error`,
      and `images` the tool returned (sent by the providers that take them; `content`
      notes each one for the others).
    """

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False
    reasoning: tuple[Reasoning, ...] = ()
    images: tuple[ImageData, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            d["tool_calls"] = [
                {"id": c.id, "name": c.name, "arguments": dict(c.arguments),
                 **({"arguments_error": c.arguments_error, "raw_arguments": c.raw_arguments}
                    if c.arguments_error else {})}
                for c in self.tool_calls
            ]
        if self.tool_call_id is not None:
            d["tool_call_id"] = self.tool_call_id
            d["name"] = self.name
            d["is_error"] = self.is_error
        if self.reasoning:
            d["reasoning"] = [
                {"text": r.text, "signature": r.signature, "redacted": r.redacted}
                for r in self.reasoning
            ]
        if self.images:
            d["images"] = [{"mime_type": i.mime_type, "data": i.data} for i in self.images]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Message":
        return cls(
            role=d["role"],
            content=d.get("content", ""),
            tool_calls=tuple(
                ToolCall(id=c["id"], name=c["name"], arguments=c.get("arguments", {}),
                         arguments_error=c.get("arguments_error"),
                         raw_arguments=c.get("raw_arguments"))
                for c in d.get("tool_calls", ())
            ),
            tool_call_id=d.get("tool_call_id"),
            name=d.get("name"),
            is_error=d.get("is_error", False),
            reasoning=tuple(Reasoning(r["text"], r.get("signature"), r.get("redacted", False))
                            for r in d.get("reasoning", ())),
            images=tuple(ImageData(i["mime_type"], i["data"]) for i in d.get("images", ())),
        )


@dataclass(frozen=True)
class Usage:
    """Token counts for one model call (or a sum of them). Also a `ModelEvent`."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class ModelSettings:
    """Per-request knobs. None means: the provider's default."""

    max_tokens: int = 8192
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    reasoning_effort: str | None = None      # openai: minimal|low|medium|high
    thinking_budget: int | None = None       # anthropic extended thinking, tokens
    stop: tuple[str, ...] = ()


# ---- what Model.stream yields -------------------------------------------------

@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ThinkingDelta:
    text: str
    signature: str | None = None   # set on the delta that closes a signed block


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of a tool call as it streams; `index` orders calls within the turn."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments_delta: str = ""


@dataclass(frozen=True)
class ToolCallDone:
    index: int
    call: ToolCall


@dataclass(frozen=True)
class Done:
    """The model's turn is complete. `stop_reason`: end_turn | tool_use | max_tokens | stop."""

    stop_reason: str = "end_turn"
    reasoning: tuple[Reasoning, ...] = ()


ModelEvent = Union[TextDelta, ThinkingDelta, ToolCallDelta, ToolCallDone, Usage, Done]


class Model(Protocol):
    """A model provider. `stream` yields events for one assistant turn and ends with `Done`.

    Raises `agent.core.errors.ModelError` (or a subclass) for failures that survive retries.
    """

    name: str
    context_window: int

    def stream(self, messages: list[Message], tools: list[ToolSpec],
               settings: ModelSettings) -> Iterator[ModelEvent]: ...
