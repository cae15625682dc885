"""`ama acp`: ama as an Agent Client Protocol agent on stdin/stdout.

`AmaAgent` answers the editor's requests (the `acp` package does the JSON-RPC): it
opens sessions (`session/new`, `session/load`), runs prompts in worker threads and
answers with their stop reason, and passes cancel, mode and model changes to the
session's named operations. A request ama cannot take gets a JSON-RPC error that says
why (invalid params for bad input); nothing a request does ends the process.

stdout is the protocol's alone: `serve` keeps the real stdout for the connection and
points file descriptor 1 at stderr, so a stray print or a child process cannot write
into the channel.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator

from acp import PROTOCOL_VERSION, RequestError, run_agent
from acp.schema import (AgentCapabilities, Implementation, InitializeResponse,
                        LoadSessionResponse, McpCapabilities, NewSessionResponse,
                        PromptCapabilities, PromptResponse, SessionConfigOptionSelect,
                        SessionConfigSelectOption, SessionMode, SessionModeState,
                        SetSessionConfigOptionResponse, SetSessionModeResponse)

from agent.acp.channel import ClientLink, Outbox
from agent.acp.requests import editor_servers, prompt_message, with_servers
from agent.acp.session import AcpSession, stop_reason
from agent.core.errors import AmaError, BadInput
from agent.session.options import Mode

log = logging.getLogger("ama.acp")
STDIO_LIMIT = 50 * 1024 * 1024   # bytes in one message (a prompt with files attached)
MODES = {Mode.REVIEW: ("Review", "each turn's changes are offered file by file"),
         Mode.AUTO_ACCEPT: ("Auto-accept", "each turn's changes are applied to your tree"),
         Mode.PLAN: ("Plan", "read-only: the model investigates and proposes a plan")}


@dataclass(frozen=True)
class AcpSettings:
    """What `ama acp` was started with; every session the editor opens uses it.
    Each field is the `ama acp` flag of the same name; None: config decides."""
    model: str | None = None
    sandbox: str | None = None
    sandbox_image: str | None = None
    network: bool | None = None
    config: tuple[str, ...] = ()
    trust: bool = False
    mode: Mode = Mode.REVIEW


class AmaAgent:
    """The ACP Agent: one per connection, holding the sessions it opened."""

    def __init__(self, settings: AcpSettings):
        self.settings = settings
        self.sessions: dict[str, AcpSession] = {}
        self.client: Any = None
        self.can_write = False

    def on_connect(self, conn: Any) -> None:
        self.client = conn

    async def initialize(self, protocol_version: int, client_capabilities: Any = None,
                         client_info: Any = None, **_: Any) -> InitializeResponse:
        fs = client_capabilities.fs if client_capabilities is not None else None
        self.can_write = bool(fs and fs.write_text_file)
        from importlib.metadata import PackageNotFoundError, version
        try:
            ours = version("amanuensis")
        except PackageNotFoundError:
            ours = "0"
        return InitializeResponse(
            protocol_version=PROTOCOL_VERSION, auth_methods=[],
            agent_capabilities=AgentCapabilities(
                load_session=True, prompt_capabilities=PromptCapabilities(embedded_context=True),
                mcp_capabilities=McpCapabilities(http=True)),
            agent_info=Implementation(name="ama", title="amanuensis", version=ours))

    async def authenticate(self, method_id: str, **_: Any) -> None:
        return None   # nothing to authenticate: providers' keys come from the environment

    async def new_session(self, cwd: str, mcp_servers: list | None = None, **_: Any
                          ) -> NewSessionResponse:
        from agent.session.log import new_session_id
        session = await self._open(cwd, mcp_servers, new_session_id(), resume=False)
        return NewSessionResponse(session_id=session.id, modes=_modes(session),
                                  config_options=_config_options(session))

    async def load_session(self, cwd: str, session_id: str, mcp_servers: list | None = None,
                           **_: Any) -> LoadSessionResponse:
        session = self.sessions.get(session_id) or await self._open(
            cwd, mcp_servers, session_id, resume=True)
        for update in session.history():
            session.link.update(update)
        await session.link.outbox.drain()
        return LoadSessionResponse(modes=_modes(session), config_options=_config_options(session))

    async def prompt(self, session_id: str, prompt: list, **_: Any) -> PromptResponse:
        session = self._session(session_id)
        with _as_request_errors():
            message = prompt_message(prompt, session.session.workspace.user_root)
        if session.busy:
            raise RequestError.invalid_request({"message": "a prompt is already running in "
                                                           "this session; cancel it first"})
        session.busy = True
        session.begin()
        try:
            result = await asyncio.to_thread(session.turn, message)
        finally:
            session.busy = False
        await session.link.outbox.drain()
        reason = stop_reason(result, cancelled=session.cancel.is_set())
        if reason is None:   # a provider, sandbox or tool failure: the turn failed
            raise RequestError(-32603, result.result, {"subtype": result.subtype})
        return PromptResponse(stop_reason=reason)

    async def cancel(self, session_id: str, **_: Any) -> None:
        session = self.sessions.get(session_id)
        if session is not None:
            session.interrupt()

    async def set_session_mode(self, session_id: str, mode_id: str, **_: Any
                               ) -> SetSessionModeResponse:
        self._session(session_id).set_mode(_mode(mode_id))
        return SetSessionModeResponse()

    async def set_config_option(self, config_id: str, session_id: str, value: Any, **_: Any
                                ) -> SetSessionConfigOptionResponse:
        session = self._session(session_id)
        if not isinstance(value, str):
            raise _invalid(f"{config_id} takes a value from its list, not {value!r}")
        if config_id == "mode":
            session.set_mode(_mode(value))
        elif config_id == "model":
            with _as_request_errors():
                await asyncio.to_thread(session.set_model, value)
        else:
            raise _invalid(f"no config option {config_id!r}; ama has mode and model")
        return SetSessionConfigOptionResponse(config_options=_config_options(session))

    # ---- sessions -----------------------------------------------------------------------

    async def _open(self, cwd: str, servers: list | None, session_id: str, resume: bool
                    ) -> AcpSession:
        if not os.path.isabs(cwd):
            raise _invalid(f"cwd {cwd!r} must be an absolute path")
        link = ClientLink(self.client, session_id, Outbox(), can_write=self.can_write)
        try:
            with _as_request_errors():
                options = await asyncio.to_thread(self._options, Path(cwd), servers,
                                                  session_id if resume else None)
                session = await asyncio.to_thread(AcpSession, options, link, self.settings.mode)
        except BaseException:
            await link.outbox.close()
            raise
        self.sessions[session.id] = session
        return session

    def _options(self, cwd: Path, servers: list | None, resume: str | None):
        from agent.session.settle import Flags, settle
        s = self.settings
        flags = Flags(cwd=cwd, model=s.model, sandbox=s.sandbox, sandbox_image=s.sandbox_image,
                      network=s.network, config=s.config, trust=s.trust, resume=resume)
        options, _ = settle(flags, headless=False)
        editor = editor_servers(servers)
        return replace(options, mcp_servers=with_servers(options.mcp_servers, editor)) \
            if editor else options

    def _session(self, session_id: str) -> AcpSession:
        session = self.sessions.get(session_id)
        if session is None:
            raise _invalid(f"no session {session_id!r} in this connection; open one with "
                           f"session/new or session/load")
        return session

    async def close(self) -> None:
        """The editor went away: stop every turn, close every session."""
        for session in list(self.sessions.values()):
            session.interrupt()
            await session.link.outbox.close()
        for session in list(self.sessions.values()):
            try:
                await asyncio.to_thread(session.close)
            except Exception as e:   # one that cannot close must not keep the others open
                log.warning("closing session %s: %s: %s", session.id, type(e).__name__, e)
        self.sessions.clear()


def _modes(session: AcpSession) -> SessionModeState:
    return SessionModeState(current_mode_id=session.mode.value, available_modes=[
        SessionMode(id=m.value, name=name, description=about)
        for m, (name, about) in MODES.items()])


def _config_options(session: AcpSession) -> list[SessionConfigOptionSelect]:
    return [
        SessionConfigOptionSelect(type="select", id="mode", name="Mode", category="mode",
                                  current_value=session.mode.value,
                                  options=[SessionConfigSelectOption(value=m.value, name=name)
                                           for m, (name, _) in MODES.items()]),
        SessionConfigOptionSelect(type="select", id="model", name="Model", category="model",
                                  description="PROVIDER:MODEL; any model ama knows may be set",
                                  current_value=session.session.model,
                                  options=[SessionConfigSelectOption(value=m, name=m)
                                           for m in session.models])]


def _mode(mode_id: str) -> Mode:
    try:
        return Mode(mode_id)
    except ValueError:
        raise _invalid(f"no mode {mode_id!r}; choose {', '.join(m.value for m in Mode)}") from None


def _invalid(message: str) -> RequestError:
    return RequestError.invalid_params({"message": message})


@contextmanager
def _as_request_errors() -> Iterator[None]:
    """AmaError as the JSON-RPC error an editor shows: bad input is invalid params,
    anything else (no sandbox, a provider) an internal error carrying the message."""
    try:
        yield
    except BadInput as e:
        raise _invalid(e.message) from None
    except AmaError as e:
        raise RequestError(-32603, e.message, {"subtype": e.subtype}) from None


# ---- stdio ----------------------------------------------------------------------------

def serve(settings: AcpSettings) -> int:
    """Speak ACP on stdin/stdout until the editor closes stdin. Returns the exit code."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="ama acp: %(levelname)s: %(message)s")
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())   # fd 1 is stderr from here on
    try:
        asyncio.run(_serve(settings, channel))
    except KeyboardInterrupt:
        pass
    return 0


async def _serve(settings: AcpSettings, channel) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=STDIO_LIMIT)
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin,
                                                            channel)
    except ValueError:   # a regular file: asyncio streams only pipes, sockets and terminals
        raise BadInput("`ama acp` talks over pipes: stdin and stdout must be pipes (an editor "
                       "starts it and speaks ACP to it), not files") from None
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    agent = AmaAgent(settings)
    try:
        await run_agent(agent, writer, reader)
    finally:
        await agent.close()
