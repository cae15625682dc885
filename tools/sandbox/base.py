"""The sandbox seam: what a backend is, and what one command did."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Mapping, Protocol

# Environment variables a sandboxed command may see; nothing else from the host
# (API keys stay in the host process).
ENV_ALLOWLIST = ("PATH", "LANG", "LC_ALL", "TERM", "TZ")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class ExecResult:
    """What one command did.

    exit_code: the command's status (128+N when killed by signal N; -1 when unknown).
    output:    stdout and stderr interleaved, capped head + tail with a note of the cut
               (`tools.output_cap`).
    timed_out: the command ran past its timeout and its process group was killed.
    duration:  seconds of wall time.
    """

    exit_code: int
    output: str
    timed_out: bool = False
    duration: float = 0.0
    truncated: bool = False


class Sandbox(Protocol):
    """Runs shell commands against the workspace.

    `kind` names the backend ("local", "docker", "bwrap"); `workdir` is where the
    workspace appears to commands (e.g. "/workspace"). `cwd` is relative to it.
    """

    kind: str
    workdir: str

    def exec(self, command: str, *, cwd: str = ".", timeout: float,
             env: Mapping[str, str] = {}, cancel: "threading.Event | None" = None) -> ExecResult:
        """Run `command` with bash. `cancel` set → the command's process group is killed
        and the call returns promptly."""
        ...

    def close(self) -> None: ...

    # Optional (docker and bwrap; not local, which has no inside):
    #   stdio_argv(argv, *, cwd=".", env={}) -> (host argv, its environment): a command
    #   line that runs `argv` inside the sandbox with stdin/stdout as its own pipes (how a
    #   sandboxed stdio MCP server is started). Raises SandboxUnavailable if it cannot.
