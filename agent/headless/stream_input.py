"""`--input-format stream-json`: user turns as JSON lines on stdin, the way Claude Code
(and its Agent SDK) writes them:

    {"type": "user", "message": {"role": "user", "content": "fix the test"}}
    {"type": "user", "message": {"role": "user", "content": [{"type": "text", "text": "…"}]}}

`parent_tool_use_id` and `session_id` may be there and are ignored. A line that is not
such a message is a `BadInput` saying why (the session goes on with the next line);
a `control_request` (the SDK's control protocol, which ama does not speak) is answered
with a `control_response` error, so the client says so instead of waiting.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, BinaryIO, Iterator

from agent.core.errors import BadInput
from agent.session.options import TASK_FILE_LIMIT, check_task_text
from tools import json_safe

EXAMPLE = '{"type": "user", "message": {"role": "user", "content": "TEXT"}}'


@dataclass(frozen=True)
class ControlRequest:
    """A control request the client sent; `refusal()` is the line to answer it with."""
    request_id: str
    subtype: str

    def refusal(self) -> dict[str, Any]:
        return {"type": "control_response", "response": {
            "subtype": "error", "request_id": self.request_id,
            "error": f"ama does not take control requests ({self.subtype or 'no subtype'}); "
                     f"send user messages only, one JSON line per turn"}}


def read_turns(stdin: BinaryIO) -> Iterator[str | BadInput | ControlRequest]:
    """Each line of `stdin` as it arrives: the text of a user turn, a BadInput for a
    line that is not one, or a ControlRequest. Blank lines are skipped."""
    number = 0
    while line := stdin.readline():
        number += 1
        if line.strip():
            try:
                yield parse_line(line, f"stdin line {number}")
            except BadInput as e:
                yield e


def parse_line(line: bytes, where: str) -> str | ControlRequest:
    """One stdin line: the user turn's text, or a ControlRequest. BadInput otherwise."""
    try:
        data = json_safe.loads(line.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise BadInput(f"{where}: not UTF-8 text (byte {e.start}); write one JSON user "
                       f"message a line, like {EXAMPLE}") from None
    except json_safe.JSONTextError as e:
        raise BadInput(f"{where}: {e}; write one JSON user message a line, like {EXAMPLE}") from None
    if not isinstance(data, dict):
        raise BadInput(f"{where}: a line must be a JSON object like {EXAMPLE}, not "
                       f"{type(data).__name__}")
    if data.get("type") == "control_request":
        request = data.get("request")
        return ControlRequest(str(data.get("request_id", "")),
                              str(request.get("subtype", "")) if isinstance(request, dict) else "")
    if data.get("type") != "user":
        raise BadInput(f"{where}: type {data.get('type')!r} is not a turn; only user messages "
                       f"are read, like {EXAMPLE}")
    message = data.get("message")
    if not isinstance(message, dict) or message.get("role", "user") != "user":
        raise BadInput(f"{where}: \"message\" must be an object with role \"user\" and its "
                       f"content, like {EXAMPLE}")
    text = check_task_text(_content_text(message.get("content"), where), where)
    if not text.strip():
        raise BadInput(f"{where}: the message has no text; give the turn's instruction as "
                       f"its content")
    if len(text) > TASK_FILE_LIMIT:
        raise BadInput(f"{where}: {len(text)} characters is more than the {TASK_FILE_LIMIT} "
                       f"a turn may have")
    return text


def _content_text(content: Any, where: str) -> str:
    """A message's content as text: a string, or text blocks joined by blank lines."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise BadInput(f"{where}: \"content\" must be a string or a list of text blocks")
    texts = []
    for i, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind != "text" or not isinstance(block.get("text"), str):
            raise BadInput(f"{where}: content[{i}] is {kind or type(block).__name__!r}; only "
                           f"text blocks ({{\"type\": \"text\", \"text\": \"...\"}}) are taken")
        texts.append(block["text"])
    return "\n\n".join(texts)
