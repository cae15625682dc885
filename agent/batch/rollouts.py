"""`--rollouts FILE.jsonl`: one record per attempt, for training on verifiable rewards.

    {"instance_id": "...", "attempt": 0, "session_id": "...", "model": "...",
     "messages": [...], "tools": [...], "reward": 1.0, "reward_source": "verify",
     "tests_passed": 1, "tests_total": 1, "verified": true, "subtype": "success",
     "exit_code": 0, "num_turns": 3, "usage": {"input_tokens": ..., ...}}

`messages` is the conversation in OpenAI chat format, as the model saw it: one system
message, user messages (the task, verification feedback), assistant messages with
`content` (a string, "" when the turn only called tools) and `tool_calls`
(`{"id", "type": "function", "function": {"name", "arguments": JSON text}}`), and
`{"role": "tool", "tool_call_id", "content"}` results. `tools` are the tool schemas in
the same format (`{"type": "function", "function": {"name", "description",
"parameters"}}`). Records of one `instance_id` are the group a group-relative method
(GRPO-style) compares; `--attempts N` makes groups of N.

The reward is agent/batch/reward.py's: the fraction of FAIL_TO_PASS passing, else 1/0
from verification, else null.
"""
from __future__ import annotations

from typing import Any, Sequence

from agent.core.types import Message, ToolSpec


def chat_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """The conversation in OpenAI chat format (the wire format of agent/models/
    chat_completions.py, with text-only tool results and string contents)."""
    from agent.models.chat_completions import to_wire_messages
    wire = to_wire_messages(list(messages), images=False)
    for m in wire:
        if m.get("content") is None:
            m["content"] = ""
    return wire


def chat_tools(specs: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": s.name, "description": s.description,
                                              "parameters": dict(s.parameters)}}
            for s in specs]


def rollout_record(*, instance_id: str, attempt: int, session_id: str, model: str,
                   messages: Sequence[Message], tools: Sequence[ToolSpec],
                   reward: dict[str, Any] | None, result: dict[str, Any]) -> dict[str, Any]:
    """One attempt's record; `result` is its result object, `reward` its measurement."""
    verification = result.get("verification")
    return {
        "instance_id": instance_id, "attempt": attempt, "session_id": session_id, "model": model,
        "messages": chat_messages(messages), "tools": chat_tools(tools),
        "reward": reward["reward"] if reward else None,
        "reward_source": reward["source"] if reward else None,
        "tests_passed": reward["passed"] if reward else None,
        "tests_total": reward["total"] if reward else None,
        "verified": verification["passed"] if verification else None,
        "subtype": result["subtype"], "exit_code": result["exit_code"],
        "num_turns": result["num_turns"], "usage": result["usage"],
    }
