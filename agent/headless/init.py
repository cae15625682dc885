"""`ama init`: the model looks at the repo and writes a first AGENTS.md, headless.

One session runs the instruction of `agent.session.memory.init_instruction`; then only
AGENTS.md is copied to the user's tree. (The REPL's `/init` sends the same instruction
as a message, so the file goes through review like any change.)
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TextIO

from agent.core import events as ev
from agent.core.errors import AmaError, BadInput, RuntimeFailure
from agent.session.log import SessionLog, new_session_id
from agent.session.memory import INIT_TARGET, init_instruction
from agent.session.open import open_session
from agent.session.options import SessionOptions
from agent.session.run import run_session
from agent.ui.progress import progress_printer


def run_init(options: SessionOptions, *, force: bool = False, err: TextIO = sys.stderr) -> Path:
    """Run the init session; write AGENTS.md into the user's repo. Returns its path.

    Raises BadInput when AGENTS.md exists and `force` is false, RuntimeFailure when the
    model wrote none, and the run's own error when it failed.
    """
    from agent.config.trust import check_trust, grant_trust, project_root

    root = project_root(options.cwd)
    target = root / INIT_TARGET
    if target.exists() and not force:
        raise BadInput(f"{target} exists; pass --force to let the model rewrite it")
    options = dataclasses.replace(options, verify=None)  # `verify` is about code, not this file
    task = init_instruction(root)
    log = SessionLog(new_session_id())
    sink = ev.fan_out(log, progress_printer(err))
    try:
        session = open_session(options, sink, session_id=log.session_id, focus=task)
    except AmaError:
        log.close()
        raise
    try:
        result = run_session(session, task)
        log.write(result.to_dict())
        if result.error is not None:
            raise result.error
        written = session.workspace.tree / INIT_TARGET
        if not written.is_file():
            raise RuntimeFailure(f"the model did not write {INIT_TARGET} (it said: "
                                 f"{(result.result or '')[:200]!r})")
        text = written.read_text(encoding="utf-8")
        was_trusted = check_trust(root, options.cwd).trusted
        target.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        if was_trusted:  # the user asked for this file: it does not need trusting again
            grant_trust(root, options.cwd)
    finally:
        session.close()
        log.close()
    return target
