"""The `local` backend: a plain bash on the host, in the scratch copy. No isolation.

Only used when asked for by name (`--sandbox local`). Commands go through a
persistent shell (`shell_session.py`), so `cd` and `export` hold between commands;
each command runs in its own process group, so a timeout or a cancel kills the whole
group and the shell lives on.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Mapping

from tools.sandbox.base import DEFAULT_PATH, ENV_ALLOWLIST, ExecResult
from tools.sandbox.process_transport import ProcessTransport
from tools.sandbox.shell_session import ShellSession


class LocalSandbox:
    """A shell on the host, rooted at `root`.

    Args:
        root: the host directory commands run in (`workdir` is its path).
        env:  extra environment for every command, on top of the allow-listed host
              variables (PATH, LANG, ...), HOME=root and AMA_SANDBOX=local.
    """

    kind = "local"

    def __init__(self, root: Path, *, env: Mapping[str, str] | None = None):
        self.root = Path(root)
        self.workdir = str(self.root)
        base = {k: os.environ[k] for k in ENV_ALLOWLIST if k in os.environ}
        base.setdefault("PATH", DEFAULT_PATH)
        base["HOME"] = str(self.root)
        base["AMA_SANDBOX"] = "local"
        self._env = {**base, **(env or {})}
        # The shell state is rewritten after every command: keep it in memory.
        shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        self._state = tempfile.mkdtemp(prefix="ama-shell-", dir=shm)
        self._shell = ShellSession(self._start, state_dir=self._state, workdir=self.workdir)

    def _start(self) -> ProcessTransport:
        return ProcessTransport(["bash", "--noprofile", "--norc", "-s"],
                                env=self._env, cwd=self.workdir)

    def exec(self, command: str, *, cwd: str = ".", timeout: float,
             env: Mapping[str, str] = {}, cancel: threading.Event | None = None) -> ExecResult:
        """Run `command` with bash; `cwd` relative to the root (or absolute)."""
        return self._shell.run(command, cwd=cwd, timeout=timeout, env=env, cancel=cancel)

    def close(self) -> None:
        self._shell.close()
        shutil.rmtree(self._state, ignore_errors=True)
