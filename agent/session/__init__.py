"""The session API: the one way any front end — the REPL, `ama -p`, `--attempts`,
`ama init`, and a program embedding ama — opens a session, runs tasks and reads how
they went.

    from agent.session import SessionOptions, open_session, run_session
    from agent.session.log import SessionLog, new_session_id

    options = SessionOptions(model="anthropic:claude-sonnet-4-6", cwd=repo)  # validated here
    log = SessionLog(new_session_id())       # any EventSink will do; the log makes it resumable
    session = open_session(options, log, session_id=log.session_id, focus=task)
    try:
        result = run_session(session, task)  # a frozen RunResult; never raises for the outcome
        print(result.subtype, result.exit_code, result.changes["patch"])
    finally:
        session.close()
        log.close()

Modules: `options` (SessionOptions, RunRequest, Mode), `settle` (flags + config →
options), `open` (open_session), `session` (Session and its named operations),
`run` (run_session), `result` (RunResult, exit codes, the result object), `apply`
(--apply), `log` (the JSONL session log), `store` (finding and resuming sessions),
`memory` (AGENTS.md / CLAUDE.md).

The names above are loaded on first use, so importing one module of this package
does not load the others.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {"SessionOptions": "options", "RunRequest": "options", "Mode": "options",
            "open_session": "open", "Session": "session", "run_session": "run",
            "RunResult": "result"}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from agent.session.open import open_session
    from agent.session.options import Mode, RunRequest, SessionOptions
    from agent.session.result import RunResult
    from agent.session.run import run_session
    from agent.session.session import Session


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'agent.session' has no attribute {name!r}")
    return getattr(importlib.import_module(f"agent.session.{_EXPORTS[name]}"), name)
