"""Turn a tool call's raw argument text into a `ToolCall`, never raising.

Malformed arguments become a call with `arguments_error` set; the loop answers it
with a tool error the model can read and correct.
"""
from __future__ import annotations

from typing import Any

from agent.core.types import ToolCall
from tools import json_safe


def parse_arguments(raw: str | None) -> tuple[dict[str, Any], str | None]:
    """(arguments, None) for a JSON object (or empty text); ({}, why) otherwise: text
    that is not JSON, nested too deeply or too long (tools/json_safe.py)."""
    if raw is None or not raw.strip():
        return {}, None
    try:
        value = json_safe.loads(raw)
    except json_safe.JSONTextError as e:
        return {}, f"the arguments are {e}"
    if not isinstance(value, dict):
        return {}, f"the arguments must be a JSON object, not {type(value).__name__}"
    return value, None


def make_tool_call(call_id: str, name: str, raw: str | None) -> ToolCall:
    """A `ToolCall` from raw argument text; `raw_arguments` kept only when it failed to parse."""
    arguments, error = parse_arguments(raw)
    return ToolCall(id=call_id, name=name, arguments=arguments, arguments_error=error,
                    raw_arguments=raw if error else None)
