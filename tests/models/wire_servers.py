"""A scripted HTTP server on 127.0.0.1 that speaks the providers' wire protocols.

Each test gives the server a list of `Reply`s, one per request it will receive, and
points the real SDK at `server.url`. Replies stream Server-Sent Events with chunked
transfer encoding, so a reply can also stall before its first byte, trickle events,
or drop the connection in the middle of an event (the client then sees an incomplete
chunked body, as with a real network cut).

Builders make the event lists: `anthropic_turn` (Messages API SSE) and `openai_turn`
(Chat Completions chunks); `anthropic_error` / `openai_error` make error replies.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted response.

    status, headers:   the status line and extra headers.
    body:              a JSON body (for errors); when None the reply streams `frames`.
    frames:            SSE frames, written one chunk each.
    first_byte_delay:  seconds to wait before sending anything.
    frame_delay:       seconds to wait between frames.
    cut_after:         send this many frames, then half of the next, then drop the connection.
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    frames: list[bytes] = field(default_factory=list)
    first_byte_delay: float = 0.0
    frame_delay: float = 0.0
    cut_after: int | None = None


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    json: Any


class ScriptedServer:
    """Serves `replies` in order, one per request; records every request in `requests`.

    Past the end of the script it answers 500 "script exhausted" (and tests that count
    requests notice). `disconnected` is set when a client goes away mid-stream.
    """

    def __init__(self, replies: list[Reply]):
        self.replies = list(replies)
        self.requests: list[Request] = []
        self.disconnected = threading.Event()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "ScriptedServer":
        self._thread.start()
        return self

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "ScriptedServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _next(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self.replies:
                return self.replies.pop(0)
        return Reply(status=500, body={"error": {"type": "api_error", "message": "script exhausted"}})


def _handler_for(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:   # keep test output clean
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            reply = server._next(Request(self.path, {k.lower(): v for k, v in self.headers.items()},
                                         json.loads(raw) if raw else None))
            self.close_connection = True
            try:
                self._send(reply)
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
                server.disconnected.set()

        do_GET = do_POST

        def _send(self, reply: Reply) -> None:
            time.sleep(reply.first_byte_delay)
            self.send_response(reply.status)
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.send_header("connection", "close")
            if reply.body is not None:
                data = json.dumps(reply.body).encode()
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            for i, frame in enumerate(reply.frames):
                if reply.cut_after is not None and i == reply.cut_after:
                    self._chunk(frame[: len(frame) // 2])
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if i and reply.frame_delay:
                    time.sleep(reply.frame_delay)
                self._chunk(frame)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    return Handler


# ---- Anthropic Messages API ------------------------------------------------------

def sse(event: str | None, data: Any) -> bytes:
    head = f"event: {event}\n" if event else ""
    body = data if isinstance(data, str) else json.dumps(data)
    return f"{head}data: {body}\n\n".encode()


def anthropic_turn(*, text: list[str] = (), tool_calls: list[tuple[str, str, list[str]]] = (),
                   thinking: list[str] = (), signature: str | None = None,
                   redacted: str | None = None, stop_reason: str | None = None,
                   input_tokens: int = 10, output_tokens: int = 5, cache_read: int = 0,
                   cache_write: int = 0, model: str = "claude-test") -> list[bytes]:
    """SSE frames of one Messages API response.

    text:       text deltas of one text block.
    tool_calls: (id, name, [partial_json pieces]) per tool_use block.
    thinking:   thinking deltas of one thinking block (first), closed by `signature`.
    """
    frames = [sse("message_start", {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": 1,
                  "cache_read_input_tokens": cache_read, "cache_creation_input_tokens": cache_write}}}),
        sse("ping", {"type": "ping"})]
    index = 0

    def block(start: dict, deltas: list[dict]) -> None:
        nonlocal index
        frames.append(sse("content_block_start", {"type": "content_block_start", "index": index,
                                                  "content_block": start}))
        for d in deltas:
            frames.append(sse("content_block_delta", {"type": "content_block_delta",
                                                      "index": index, "delta": d}))
        frames.append(sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1

    if redacted is not None:
        block({"type": "redacted_thinking", "data": redacted}, [])
    if thinking:
        deltas = [{"type": "thinking_delta", "thinking": t} for t in thinking]
        if signature:
            deltas.append({"type": "signature_delta", "signature": signature})
        block({"type": "thinking", "thinking": "", "signature": ""}, deltas)
    if text:
        block({"type": "text", "text": ""}, [{"type": "text_delta", "text": t} for t in text])
    for call_id, name, pieces in tool_calls:
        block({"type": "tool_use", "id": call_id, "name": name, "input": {}},
              [{"type": "input_json_delta", "partial_json": p} for p in pieces])
    stop = stop_reason or ("tool_use" if tool_calls else "end_turn")
    frames.append(sse("message_delta", {"type": "message_delta",
                                        "delta": {"stop_reason": stop, "stop_sequence": None},
                                        "usage": {"output_tokens": output_tokens}}))
    frames.append(sse("message_stop", {"type": "message_stop"}))
    return frames


def anthropic_error(status: int, kind: str, message: str, headers: dict | None = None) -> Reply:
    return Reply(status=status, headers=headers or {},
                 body={"type": "error", "error": {"type": kind, "message": message}})


# ---- OpenAI Chat Completions -------------------------------------------------------

def _chunk(delta: dict | None, finish: str | None = None, usage: dict | None = None,
           model: str = "gpt-test") -> bytes:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish,
                                         "logprobs": None}]
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
            "model": model, "choices": choices, "usage": usage}
    return sse(None, body)


def openai_turn(*, text: list[str] = (), tool_calls: list[tuple[str, str, list[str]]] = (),
                reasoning: list[str] = (), finish: str | None = None, prompt_tokens: int = 10,
                completion_tokens: int = 5, cached_tokens: int = 0, usage: bool = True,
                interleave: bool = False) -> list[bytes]:
    """SSE frames of one streamed chat completion.

    tool_calls: (id, name, [argument pieces]); each piece goes in its own chunk.
    interleave: send the calls' pieces round-robin (parallel calls streamed together).
    usage:      send the usage chunk after the finish chunk (stream_options.include_usage).
    """
    frames = [_chunk({"role": "assistant", "content": ""})]
    frames += [_chunk({"reasoning_content": r}) for r in reasoning]
    frames += [_chunk({"content": t}) for t in text]
    heads = [_chunk({"tool_calls": [{"index": i, "id": cid, "type": "function",
                                     "function": {"name": name, "arguments": ""}}]})
             for i, (cid, name, _) in enumerate(tool_calls)]
    pieces = [[_chunk({"tool_calls": [{"index": i, "function": {"arguments": p}}]}) for p in ps]
              for i, (_, _, ps) in enumerate(tool_calls)]
    if interleave:
        frames += heads
        for row in range(max((len(p) for p in pieces), default=0)):
            frames += [p[row] for p in pieces if row < len(p)]
    else:
        for head, ps in zip(heads, pieces):
            frames += [head, *ps]
    frames.append(_chunk({}, finish or ("tool_calls" if tool_calls else "stop")))
    if usage:
        frames.append(_chunk(None, usage={
            "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached_tokens}}))
    frames.append(sse(None, "[DONE]"))
    return frames


def openai_error(status: int, message: str, code: str | None = None, kind: str = "invalid_request_error",
                 headers: dict | None = None) -> Reply:
    return Reply(status=status, headers=headers or {},
                 body={"error": {"message": message, "type": kind, "code": code, "param": None}})
