"""The tool seam: what a tool is, what it gets, what it returns.

A tool is a name, a description, a pydantic model of its parameters, `is_mutating`
and `run`. `ToolError` is an error meant for the model: it goes back as the call's
result. Any other exception is fatal to the run.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping, Protocol, TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from tools.sandbox.base import Sandbox

# Seconds a tool's command (shell, git) runs before it is killed, unless the call asks
# for more (a shell call may, up to ToolContext.shell_timeout_max).
COMMAND_TIMEOUT = 120.0


class ToolError(Exception):
    """An error the model should read and can act on (bad path, no match, ...)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ToolSpec:
    """What a model is told about a tool: name, description, JSON Schema of the arguments."""

    name: str
    description: str
    parameters: Mapping[str, Any]


@dataclass(frozen=True)
class ImageData:
    """An image a tool returns for the model to see: its MIME type and base64 data."""

    mime_type: str
    data: str


@dataclass(frozen=True)
class ToolResult:
    """What a tool returns.

    `output` is what the model reads. `summary` is one short line for the UI
    ("edited src/a.py (+3 −1)"). `data` is structured detail for renderers (the plan
    for `todo_write`, the exit code for `shell`), never sent to the model. `images` go
    to models that take images, after `output` (which notes each one, for the others).
    """

    output: str
    summary: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    images: tuple[ImageData, ...] = ()


@dataclass
class ToolContext:
    """What a running tool may touch.

    root:    host path of the scratch workspace (the sandbox sees it at `sandbox.workdir`).
    sandbox: where commands run.
    cancel:  set when the user interrupts; long tools check it.
    """

    root: Path
    sandbox: "Sandbox"
    cancel: threading.Event = field(default_factory=threading.Event)
    shell_timeout_max: float = 1800.0


class Tool(Protocol):
    name: str
    description: str
    params: type[BaseModel]

    def is_mutating(self, args: BaseModel) -> bool:
        """True if the call may change the workspace. When in doubt: True."""
        ...

    def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult: ...


class BaseTool:
    """Convenience base: the spec comes from the class attributes and the params model."""

    name: ClassVar[str]
    description: ClassVar[str]
    params: ClassVar[type[BaseModel]]
    mutating: ClassVar[bool] = True

    def is_mutating(self, args: BaseModel) -> bool:
        return self.mutating

    def spec(self) -> ToolSpec:
        return tool_spec(self)

    def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:  # pragma: no cover
        raise NotImplementedError


def tool_spec(tool: Tool) -> ToolSpec:
    schema = tool.params.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    return ToolSpec(name=tool.name, description=tool.description, parameters=schema)
