"""An OpenAI-compatible HTTP server over the engine (FastAPI + uvicorn).

    python -m local_model serve --model PATH [--host 127.0.0.1] [--port 8000] [--device cuda] [--dtype bfloat16]
                                [--quantize int8|int4]

Endpoints: GET /v1/models, POST /v1/chat/completions (stream or not; tools, tool_choice,
max_tokens / max_completion_tokens, temperature, top_p, stop, seed, stream_options).

A reasoning model's `<think>` block (Qwen3, DeepSeek-R1; local_model/reasoning.py) comes
back as the message's `reasoning_content` (streamed: `delta.reasoning_content`), apart from
its `content`; `chat_template_kwargs` (as vLLM takes it) passes template variables, e.g.
`{"enable_thinking": false}` for Qwen3's answer without reasoning.

Usage: a non-streamed response always carries `usage`. A stream always ends with usage
too: as OpenAI does, in an extra chunk with empty `choices` when the request sets
`stream_options.include_usage`; otherwise on the chunk that carries `finish_reason`
(clients that do not look for it ignore it).

Defaults where the request is silent: temperature 1, top_p 1, max_tokens = what is left of
the sequence's room (`--max-len` minus the prompt). The `model` field is not checked (any
name is this model). The body is checked against a schema of every field read
(local_model/request.py) before anything else sees it; a bad one gets an OpenAI-shaped
error, `{"error": {"message", "type": "invalid_request_error", "param", "code"}}` with
status 400, `param` the path of the field (`messages[1].tool_calls[0].function`) and the
message what it should be (404 for an unknown path). A streaming client that disconnects
frees its batch slot.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException

from .chat import OutputAssembler, dumps, prepare_chat, tool_call_json
from .engine import Engine, PromptTooLong
from .reasoning import Reasoning
from .request import BadRequest
from .sampling import SamplingParams
from .scheduler import Sequence
from .tokenizer import ChatTokenizer
from .tool_calls import ParsedToolCall, ToolCallDelta
from .untrusted_json import MAX_SIZE
from .xml_calls import Types


def _error(status: int, message: str, param: str | None = None, code: str | None = None,
           kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code}},
                        status_code=status)


def create_app(engine: Engine, tokenizer: ChatTokenizer, model_name: str, family: str) -> FastAPI:
    """The ASGI app. The engine must be started; the app never stops it."""
    app = FastAPI(title="local_model", docs_url=None, redoc_url=None)
    created = int(time.time())

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return _error(exc.status_code, str(exc.detail), kind=kind)

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": model_name, "object": "model", "created": created,
                                            "owned_by": "local_model"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        try:  # the body is read and checked here, not by FastAPI: no malformed field gets further
            prepared = prepare_chat(tokenizer, family, await _body(request))
        except BadRequest as exc:
            return _error(400, str(exc), exc.param, exc.code)
        req = prepared.request
        sampling = SamplingParams(temperature=1.0 if req.temperature is None else req.temperature,
                                  top_p=1.0 if req.top_p is None else req.top_p, seed=req.seed)
        limit = req.max_completion_tokens or req.max_tokens or engine.config.max_len
        run = _Run(engine, tokenizer, prepared.prompt, limit, sampling, req.stops, prepared.parse_tools,
                   prepared.types, deltas=bool(req.stream), reasoning=prepared.reasoning)
        try:
            run.start()
        except PromptTooLong as exc:
            return _error(400, str(exc), "messages", "context_length_exceeded")
        meta = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": req.model or model_name}
        if req.stream:
            include_usage = req.stream_options is not None and req.stream_options.include_usage
            return StreamingResponse(_sse(run, meta, include_usage), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        watcher = asyncio.create_task(_cancel_on_disconnect(request, run))
        try:
            text, calls, thought = [], [], []
            async for item in run.items():  # (no deltas: this run was made without them)
                if isinstance(item, Reasoning):
                    thought.append(item.text)
                else:
                    (calls if isinstance(item, ParsedToolCall) else text).append(item)
        except RuntimeError as exc:  # the engine failed this sequence
            return _error(500, str(exc), kind="server_error")
        finally:
            watcher.cancel()
            run.cancel()
        message: dict[str, Any] = {"role": "assistant", "content": "".join(text) or (None if calls else "")}
        if thought:
            message["reasoning_content"] = "".join(thought)
        if calls:
            message["tool_calls"] = [tool_call_json(c, i, run.call_id(c.id, i)) for i, c in enumerate(calls)]
            for entry in message["tool_calls"]:
                del entry["index"]
        return {**meta, "object": "chat.completion", "choices": [
            {"index": 0, "message": message, "finish_reason": run.finish_reason, "logprobs": None}],
            "usage": run.usage()}

    return app


async def _body(request: Request) -> bytes:
    """The request body, read no further than one byte past untrusted_json.MAX_SIZE (the parser
    then refuses it), whatever Content-Length says: a huge body is never held in memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_SIZE:
        raise BadRequest(f"the request body is not accepted as JSON: it is longer than {MAX_SIZE} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_SIZE:
            break
    return b"".join(chunks)[: MAX_SIZE + 1]


async def _cancel_on_disconnect(request: Request, run: "_Run") -> None:
    """A non-streamed request whose client went away stops generating (and frees its slot)."""
    while run.reason is None:
        if await request.is_disconnected():
            run.cancel()
            return
        await asyncio.sleep(0.25)


class _Run:
    """One request's generation, bridged from the engine thread to the event loop."""

    def __init__(self, engine: Engine, tokenizer: ChatTokenizer, prompt: list[int], max_tokens: int,
                 sampling: SamplingParams, stop: list[str], parse_tools: bool, types: Types | None = None,
                 deltas: bool = False, reasoning: bool | None = None):
        self.engine, self.prompt = engine, prompt
        self.assembler = OutputAssembler(tokenizer, stop, parse_tools, types, deltas, reasoning)
        self.queue: asyncio.Queue = asyncio.Queue()
        loop = asyncio.get_running_loop()
        put = lambda item: loop.call_soon_threadsafe(self.queue.put_nowait, item)  # noqa: E731
        self.seq = Sequence(prompt, max_tokens, sampling, tokenizer.stop_token_ids,
                            emit=put, done=lambda reason: put(_Done(reason)))
        self.reason: str | None = None

    def start(self) -> None:
        self.engine.submit(self.seq)

    def cancel(self) -> None:
        if self.reason is None:
            self.engine.cancel(self.seq)

    async def items(self):
        """Text pieces, reasoning, tool calls and (made with deltas) tool-call deltas, as they come; ends when
        generation does."""
        while True:
            item = await self.queue.get()
            if isinstance(item, _Done):
                self.reason = item.reason
                for out in self.assembler.finish():
                    yield out
                if self.reason.startswith("error"):
                    raise RuntimeError(self.reason)
                return
            for out in self.assembler.push(item):
                yield out
            if self.assembler.stopped:
                self.engine.cancel(self.seq)  # a stop string: no need to generate further

    @property
    def finish_reason(self) -> str:
        if self.assembler.calls:
            return "tool_calls"
        return "length" if self.reason == "length" and not self.assembler.stopped else "stop"

    def call_id(self, own: str | None, index: int) -> str:
        """The id of this run's call number `index`: the model's own where its format has one."""
        return own or f"call_{self.seq_id}_{index}"

    @property
    def seq_id(self) -> str:
        return f"{id(self.seq):x}"

    def usage(self) -> dict[str, int]:
        done = len(self.seq.generated)
        return {"prompt_tokens": len(self.prompt), "completion_tokens": done, "total_tokens": len(self.prompt) + done}


class _Done:
    def __init__(self, reason: str):
        self.reason = reason


async def _sse(run: _Run, meta: Mapping[str, Any], include_usage: bool):
    """Server-sent events for one streamed completion; cancels generation if the client leaves."""

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        body = {**meta, "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
        return f"data: {dumps(body)}\n\n"

    try:
        yield chunk({"role": "assistant", "content": ""})
        n_calls = 0
        streamed: dict[int, str] = {}  # call number -> the arguments its deltas sent
        try:
            async for item in run.items():
                if isinstance(item, ToolCallDelta):  # a call being written: its name first, then its arguments
                    if item.call not in streamed:
                        entry = tool_call_json(ParsedToolCall(item.name or "", item.arguments), item.call,
                                               run.call_id(None, item.call))
                        streamed[item.call] = item.arguments
                    else:
                        entry = {"index": item.call, "function": {"arguments": item.arguments}}
                        streamed[item.call] += item.arguments
                    yield chunk({"tool_calls": [entry]})
                elif isinstance(item, ParsedToolCall):
                    if n_calls in streamed:  # the rest of a streamed call's arguments (they began with what was sent)
                        rest = item.arguments[len(streamed[n_calls]):]
                        if rest:
                            yield chunk({"tool_calls": [{"index": n_calls, "function": {"arguments": rest}}]})
                    else:
                        yield chunk({"tool_calls": [tool_call_json(item, n_calls, run.call_id(item.id, n_calls))]})
                    n_calls += 1
                elif isinstance(item, Reasoning):
                    yield chunk({"reasoning_content": item.text})
                else:
                    yield chunk({"content": item})
        except RuntimeError as exc:  # the engine failed this sequence: say so in-band, then end
            yield f"data: {dumps({'error': {'message': str(exc), 'type': 'server_error', 'param': None, 'code': None}})}\n\n"
            return
        if include_usage:
            yield chunk({}, run.finish_reason)
            yield f"data: {dumps({**meta, 'object': 'chat.completion.chunk', 'choices': [], 'usage': run.usage()})}\n\n"
        else:
            yield chunk({}, run.finish_reason, usage=run.usage())
        yield "data: [DONE]\n\n"
    finally:
        run.cancel()  # the client went away mid-stream (or we are done): free the slot


# ---- running it ------------------------------------------------------------------------------

def load_app(model_path: str | Path, device: str = "cpu", dtype: Any = None, max_batch: int = 8,
             max_len: int = 8192, served_name: str | None = None, cuda_graphs: bool = True,
             quantize: str | None = None):
    """Load checkpoint, tokenizer and engine; return (app, engine). The engine is started.
    quantize: None, "int8" or "int4" (see local_model.load_model)."""
    from . import load_model, load_tokenizer
    from .engine import EngineConfig
    from .tool_calls import detect_family

    tokenizer = load_tokenizer(model_path)
    model = load_model(model_path, device=device, dtype=dtype, quantize=quantize)
    engine = Engine(model, EngineConfig(max_batch=max_batch, max_len=max_len, cuda_graphs=cuda_graphs)).start()
    source = tokenizer.chat_template if isinstance(tokenizer.chat_template, str) else "\n".join(
        (tokenizer.chat_template or {}).values())
    vocabulary = [t.content for t in tokenizer.tokenizer.get_added_tokens_decoder().values()]
    family = detect_family(source, vocabulary)
    name = served_name or Path(model_path).resolve().name
    return create_app(engine, tokenizer, name, family), engine


def start_in_thread(app, host: str = "127.0.0.1", port: int = 0):
    """Serve `app` from a daemon thread; return (uvicorn.Server, base URL) once it listens."""
    import socket
    import threading

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="local_model-http")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    if not server.started:
        raise RuntimeError("the local_model HTTP server did not start")
    return server, f"http://{host}:{sock.getsockname()[1]}/v1"


def serve(model_path: str | Path, host: str = "127.0.0.1", port: int = 8000, **kwargs) -> None:
    """Load and serve until interrupted."""
    import uvicorn

    app, engine = load_app(model_path, **kwargs)
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        engine.stop()
