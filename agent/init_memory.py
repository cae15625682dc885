"""`ama init` / `/init`: the model looks at the repo and writes a first AGENTS.md.

`init_instruction(root)` is the instruction (prompts/init_agents.md with a short
overview of the repo); the REPL sends it as a user message, so the new file lands in
the scratch copy and goes through review like any change. `run_init(opts)` does it
headless for `ama init`: one session, then only AGENTS.md is copied to the user's tree.
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TextIO

from agent.errors import AmaError, BadInput, RuntimeFailure

MANIFESTS = ("pyproject.toml", "setup.py", "setup.cfg", "requirements.txt", "package.json",
             "Cargo.toml", "go.mod", "pom.xml", "build.gradle", "Gemfile", "Makefile",
             "CMakeLists.txt", "tox.ini", "noxfile.py", "justfile", ".pre-commit-config.yaml",
             ".github/workflows", ".gitlab-ci.yml", "Dockerfile")
TARGET = "AGENTS.md"


def init_instruction(root: Path) -> str:
    """The instruction that asks the model to write AGENTS.md for the repo at `root`."""
    from prompts import render
    root = Path(root)
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir()
                     if p.name not in (".git", ".ama") and not p.name.startswith(".ama-"))
    existing = root / TARGET
    return render("init_agents.md", entries=entries[:60],
                  manifests=[m for m in MANIFESTS if (root / m).exists()],
                  existing=existing.read_text(encoding="utf-8", errors="replace")[:20_000]
                  if existing.is_file() else "")


def run_init(opts, *, force: bool = False, err: TextIO = sys.stderr) -> Path:
    """Run the init session headless; write AGENTS.md into the user's repo. Returns its path.

    `opts`: RunOptions (its `task` is replaced). Raises BadInput when AGENTS.md exists
    and `force` is false, RuntimeFailure when the model wrote no AGENTS.md.
    """
    import dataclasses
    from agent import events as ev
    from agent.headless import progress_printer
    from agent.session import SessionLog, new_session_id
    from agent.setup import open_session
    from agent.trust import check_trust, grant_trust, project_root

    root = project_root(Path(opts.cwd))
    target = root / TARGET
    if target.exists() and not force:
        raise BadInput(f"{target} exists; pass --force to let the model rewrite it")
    opts = dataclasses.replace(opts, task=init_instruction(root))
    session_id = new_session_id()
    log = SessionLog(session_id)
    emit = ev.fan_out(log, progress_printer(err))
    setup = open_session(opts, session_id, emit, threading.Event())
    try:
        outcome = setup.agent.run(opts.task)
        if outcome.is_error and outcome.error is not None:
            raise outcome.error
        written = setup.workspace.tree / TARGET
        if not written.is_file():
            raise RuntimeFailure(f"the model did not write {TARGET} (it said: "
                                 f"{(outcome.result or '')[:200]!r})")
        text = written.read_text(encoding="utf-8")
        was_trusted = check_trust(root, Path(opts.cwd)).trusted
        target.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        if was_trusted:  # the user asked for this file: it does not need trusting again
            grant_trust(root, Path(opts.cwd))
    except AmaError as e:
        emit(ev.ErrorEvent(e.message, e.subtype))
        raise
    finally:
        setup.close()
        log.close()
    return target
