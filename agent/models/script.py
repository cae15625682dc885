"""The `script:` model: replays assistant turns from a JSONL file, one turn a line.

    {"text": "I'll fix it.", "tool_calls": [{"name": "read_file", "arguments": {"path": "a.py"}}]}

Optional keys per line: "thinking" (text streamed as reasoning), "delay" (seconds
between streamed chunks, to act like a slow model), "usage" ({"input_tokens": ..,
"output_tokens": .., "cost_usd": ..} reported instead of the estimate). A call may give its
"id" (default call_1, call_2, ...). `arguments` may be a JSON string; one that does not
parse reaches the loop as a malformed call, as a real model's would. When the script runs out, it answers "(script ended)" with no tool
calls. `script:a.jsonl,b.jsonl` names one script per attempt; `options["attempt"]`
picks which (default the first).

It is a real provider: the tests, the examples and CI reproductions use it.
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any, Iterator

from agent.core.errors import BadInput
from agent.models.tool_args import make_tool_call
from agent.core.types import (Done, Message, ModelEvent, ModelSettings, Reasoning, TextDelta,
                         ThinkingDelta, ToolCall, ToolCallDelta, ToolCallDone, ToolSpec, Usage)
from tools import json_safe

END_TEXT = "(script ended)"
_TURN_KEYS = {"text", "tool_calls", "thinking", "delay", "usage"}


def create(rest: str, options: dict[str, Any]) -> "ScriptModel":
    paths = [p for p in rest.split(",") if p]
    attempt = int(options.get("attempt", 0))
    path = Path(paths[min(attempt, len(paths) - 1)]).expanduser()
    base = options.get("cwd")
    if not path.is_absolute() and base and not os.path.exists(path):   # never raises
        path = Path(base) / path
    return ScriptModel(load_script(path), name=f"script:{rest}")


def load_script(path: Path) -> list[dict[str, Any]]:
    """Read and validate a script file. Raises BadInput naming the file and line."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise BadInput(f"script file {path} not found; give --model script:PATH with an existing "
                       f"JSONL file") from None
    except OSError as e:
        raise BadInput(f"script file {path}: {e.strerror or e}; give --model script:PATH with an "
                       f"existing JSONL file") from None
    except UnicodeDecodeError as e:
        raise BadInput(f"script file {path} is not UTF-8 text (byte {e.start}); "
                       f"write one JSON turn a line") from None
    turns = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        try:
            turn = json_safe.loads(line)
        except json_safe.JSONTextError as e:
            raise BadInput(f"{path}:{lineno}: {e}; each line must be one "
                           f'turn like {{"text": "...", "tool_calls": [...]}}') from None
        turns.append(_check_turn(turn, f"{path}:{lineno}"))
    return turns


def _check_turn(turn: Any, where: str) -> dict[str, Any]:
    if not isinstance(turn, dict):
        raise BadInput(f"{where}: a turn must be a JSON object, got {type(turn).__name__}")
    unknown = set(turn) - _TURN_KEYS
    if unknown:
        raise BadInput(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_TURN_KEYS)}")
    if not isinstance(turn.get("text", ""), str):
        raise BadInput(f"{where}: \"text\" must be a string")
    calls = turn.get("tool_calls", [])
    if not isinstance(calls, list):
        raise BadInput(f"{where}: \"tool_calls\" must be a list")
    for i, call in enumerate(calls):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise BadInput(f"{where}: tool_calls[{i}] needs a \"name\" string")
        if not isinstance(call.get("arguments", {}), (dict, str)):
            raise BadInput(f"{where}: tool_calls[{i}].arguments must be an object or a JSON string")
    return turn


class ScriptModel:
    context_window = 200_000

    def __init__(self, turns: list[dict[str, Any]], name: str = "script"):
        self.turns = turns
        self.name = name
        self.position = 0
        self._call_seq = 0

    def stream(self, messages: list[Message], tools: list[ToolSpec],
               settings: ModelSettings) -> Iterator[ModelEvent]:
        turn = self.turns[self.position] if self.position < len(self.turns) else {"text": END_TEXT}
        self.position += 1
        delay = float(turn.get("delay", 0))
        reasoning: tuple[Reasoning, ...] = ()
        if turn.get("thinking"):
            yield ThinkingDelta(turn["thinking"])
            reasoning = (Reasoning(turn["thinking"]),)
        for chunk in re.findall(r"\S+\s*|\s+", turn.get("text", "")):
            if delay:
                time.sleep(delay)
            yield TextDelta(chunk)
        calls = turn.get("tool_calls", [])
        for index, spec in enumerate(calls):
            self._call_seq += 1
            call = _make_call(str(spec.get("id") or f"call_{self._call_seq}"), spec)
            yield ToolCallDelta(index, id=call.id, name=call.name,
                                arguments_delta=call.raw_arguments or json.dumps(dict(call.arguments)))
            yield ToolCallDone(index, call)
        usage = turn.get("usage") or {
            "input_tokens": sum(len(m.content) for m in messages) // 4,
            "output_tokens": max(1, len(turn.get("text", "")) // 4),
        }
        yield Usage(input_tokens=int(usage.get("input_tokens", 0)),
                    output_tokens=int(usage.get("output_tokens", 0)),
                    cost_usd=float(usage.get("cost_usd", 0.0)))
        yield Done("tool_use" if calls else "end_turn", reasoning=reasoning)


def _make_call(call_id: str, spec: dict[str, Any]) -> ToolCall:
    """A scripted call: arguments as an object, or as raw text parsed the way a
    provider's would be (agent/models/tool_args.py), so malformed ones can be scripted."""
    args = spec.get("arguments", {})
    if isinstance(args, dict):
        return ToolCall(id=call_id, name=spec["name"], arguments=args)
    return make_tool_call(call_id, spec["name"], args)
