"""A persistent bash driven over a byte stream: shell state between commands, fast.

Every backend (local, bwrap, docker) keeps one bash running and writes each command
to its stdin. Starting a process per command costs 1.7 ms locally and ~290 ms for a
`docker run`; writing a line to a shell that is already running costs well under that.

How one command runs (see `_command_script`, and the driver's helpers in `driver.sh`):
  * The driver bash runs with job control (`set -m`), so the command runs as a
    background job in a subshell with **its own process group**; a timeout or a cancel
    kills that group (through the transport, from outside) and the driver lives on.
  * The subshell first prints `<nonce>P<pid>` (its pid is its process group id), then
    evals the command with stdin from /dev/null and stderr merged into stdout.
  * An EXIT trap in the subshell saves its working directory and exported environment
    to two state files; the driver loads them after the job, so `cd` and `export`
    hold for the next command as in a terminal. A per-call `env` is not kept.
  * When the job ends the driver kills what is left of its group (background
    processes do not outlive their command, so they cannot write into the next one's
    output) and prints `<nonce>D<exit code>`.
  * If the driver dies, the next command starts a new one, which loads the state files.

The transport is what differs per backend: a host subprocess's pipes, or a docker
exec's attached socket. Its `kill_group(pgid)` knows how to reach a process group
inside the sandbox's pid namespace.
"""
from __future__ import annotations

import functools
import importlib.resources
import re
import secrets
import select
import threading
import time
from typing import Callable, Mapping, Protocol

from tools.output_cap import HeadTail
from tools.sandbox.base import ExecResult
from tools.sandbox.errors import SandboxUnavailable

# How long to wait for the driver to come back after its job's group was killed,
# before we declare the shell wedged and restart it.
KILL_GRACE = 5.0
POLL = 0.05  # seconds between checks of the cancel flag while a command runs

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLACEHOLDER = re.compile(r"@([A-Z_]+)@")  # in driver.sh: @WORKDIR@ and the like


@functools.cache
def _driver_template() -> str:
    return importlib.resources.files("tools.sandbox").joinpath("driver.sh").read_text()


class Transport(Protocol):
    """A running driver bash: its stdin, its stdout, and a way to kill inside it."""

    def fileno(self) -> int:
        """A file descriptor that `select` reports readable when output may be there."""
        ...

    def read(self) -> bytes | None:
        """Stdout bytes available now (b"" when none yet), None at end of stream."""
        ...

    def write(self, data: bytes) -> None: ...

    def kill_group(self, pgid: int) -> None:
        """SIGKILL process group `pgid` (as the driver sees pids) inside the sandbox,
        directly or by sending USR1 to the driver, whose trap kills its running job."""
        ...

    def close(self) -> None:
        """Stop the driver and everything it started."""
        ...


class ShellSession:
    """One persistent shell; `run` executes a command in it and returns an ExecResult.

    Args:
        start:     starts a driver bash and returns its Transport. Called again when
                   the driver died.
        state_dir: a directory inside the sandbox (as the shell sees it) for the
                   state files (environment, directory); made if missing. Best on a
                   tmpfs of its own, so that a full /tmp cannot break the shell.
        workdir:   where the workspace is, as the shell sees it; relative `cwd`s are
                   taken from here and a fresh shell starts here.
    """

    def __init__(self, start: Callable[[], Transport], *, state_dir: str, workdir: str):
        self._start = start
        self._state_dir = state_dir
        self._workdir = workdir
        self._transport: Transport | None = None
        self._lock = threading.Lock()  # one command at a time per shell
        self._closed = False

    # -- public -------------------------------------------------------------------

    def run(self, command: str, *, cwd: str = ".", timeout: float,
            env: Mapping[str, str] = {}, cancel: threading.Event | None = None) -> ExecResult:
        """Run `command` in the persistent shell.

        Returns the exit code (128+N when killed by signal N, -1 when the shell died),
        the capped interleaved output, and whether the timeout fired.
        """
        if "\x00" in command:
            return ExecResult(exit_code=2, output="command contains a NUL byte; refused")
        for key in env:
            if not _NAME.match(key):
                return ExecResult(exit_code=2, output=f"invalid environment variable name {key!r}")
        with self._lock:
            if self._closed:
                raise SandboxUnavailable("the sandbox is closed")
            start = time.monotonic()
            for attempt in (1, 2):
                transport = self._ensure()
                nonce = "__AMA_" + secrets.token_hex(8)
                transport.write(self._command_script(nonce, command, cwd, env).encode())
                result, started = self._collect(transport, nonce, start, timeout, cancel)
                # A driver that had died since the last command never started this one:
                # run it once more in a fresh shell.
                if started or self._transport is not None or self._closed:
                    return result
            return result

    def close(self) -> None:
        """Stop the shell. Safe to call twice, and from another thread mid-command."""
        self._closed = True
        t, self._transport = self._transport, None
        if t is not None:
            t.close()

    # -- internals ----------------------------------------------------------------

    def _ensure(self) -> Transport:
        if self._transport is None:
            try:
                t = self._start()
            except SandboxUnavailable:
                raise
            except Exception as e:  # the engine went away, the container was removed...
                raise SandboxUnavailable(f"the sandbox shell could not be started: {e}") from e
            t.write(self._init_script().encode())
            self._transport = t
        return self._transport

    def _restart_needed(self) -> None:
        t, self._transport = self._transport, None
        if t is not None:
            t.close()

    def _init_script(self) -> str:
        """The driver (`driver.sh`): the helpers every command uses, and the saved
        state loaded. Each value goes in as one quoted bash word."""
        env_file, cwd_file = self._state_files()
        values = {"STATE_DIR": self._state_dir, "NAMES_FILE": f"{self._state_dir}/names",
                  "ENV_FILE": env_file, "CWD_FILE": cwd_file, "WORKDIR": self._workdir}
        return _PLACEHOLDER.sub(lambda m: q(values[m.group(1)]), _driver_template())

    def _state_files(self) -> tuple[str, str]:
        return f"{self._state_dir}/env.sh", f"{self._state_dir}/cwd"

    def _command_script(self, nonce: str, command: str, cwd: str,
                        env: Mapping[str, str]) -> str:
        """The bytes sent for one command (helpers from `_init_script`).

        An explicit `cwd` and a per-call `env` apply to this command only: the state
        is saved only when the command itself changed directory, and the per-call
        variables are unset before the environment is saved.
        """
        pre = ""
        if cwd not in ("", "."):
            target = cwd if cwd.startswith("/") else f"{self._workdir}/{cwd}"
            pre += f"cd -- {q(target)} || exit 1; "
        for k, v in env.items():
            pre += f"export {k}={q(v)}; "
        return (f"__ama_hit=; ( {pre}__ama_begin {nonce} {q(' '.join(env))}; "
                f"eval {q(command)}\n"
                f") </dev/null 2>&1 &\n"
                f"__ama_wait && . \"$__ama_env\" 2>/dev/null; __ama_end {nonce}\n")

    def _collect(self, transport: Transport, nonce: str, start: float, timeout: float,
                 cancel: threading.Event | None) -> tuple[ExecResult, bool]:
        """Read until the end sentinel (killing the job on timeout or cancel).

        Returns the result and whether the command had started (its pid line came)."""
        out = _Capture(nonce)
        deadline = start + timeout
        timed_out = cancelled = died = False
        give_up: float | None = None  # set once a kill is due
        killed_at: float | None = None
        fd = transport.fileno()
        while not out.done:
            now = time.monotonic()
            if give_up is None:
                if now >= deadline:
                    timed_out = True
                elif cancel is not None and cancel.is_set():
                    cancelled = True
                if timed_out or cancelled:
                    give_up = now + KILL_GRACE
            if give_up is not None:
                if now >= give_up:
                    died = True  # the driver did not come back; start afresh next time
                    break
                # The kill needs the job's pid (it may not have come yet); it is sent
                # again each second in case the first one fell between two jobs.
                if out.pid is not None and (killed_at is None or now - killed_at >= 1.0):
                    transport.kill_group(out.pid)
                    killed_at = now
            wait = POLL if give_up is not None else min(POLL, max(0.0, deadline - now))
            try:
                ready, _, _ = select.select([fd], [], [], wait)
            except (OSError, ValueError):
                died = True
                break
            if not ready:
                continue
            data = transport.read()
            if data is None:
                died = True
                break
            out.feed(data)
        if died:
            self._restart_needed()
        text, truncated = out.text()
        if timed_out:
            text += f"\n[command timed out after {timeout:g}s; its process group was killed]"
        elif cancelled:
            text += "\n[command interrupted by the user; its process group was killed]"
        elif died:
            text += "\n[the sandbox shell exited; a new one starts with the next command]"
        if out.exit_code is not None:
            code = out.exit_code
        elif timed_out or cancelled:
            code = 137
        else:
            code = -1
        return ExecResult(exit_code=code, output=text, timed_out=timed_out,
                          duration=time.monotonic() - start,
                          truncated=truncated), out.pid is not None


def q(s: str) -> str:
    """Quote `s` as one bash word (single quotes; newlines are kept literally)."""
    return "'" + s.replace("'", "'\\''") + "'"


class _Capture:
    """Collects one command's output: strips the pid line, finds the end sentinel,
    and keeps only a head and a tail of very long output (memory stays bounded)."""

    def __init__(self, nonce: str):
        self._pid_re = re.compile(re.escape(nonce.encode()) + rb"P(\d+)\n")
        self._done_re = re.compile(re.escape(nonce.encode()) + rb"D(-?\d+)\n")
        self._window = len(nonce) + 24  # bytes that may hold a sentinel cut in two
        self._pending = bytearray()
        self._kept = HeadTail()
        self.pid: int | None = None
        self.exit_code: int | None = None
        self.done = False

    def feed(self, data: bytes) -> None:
        self._pending += data
        if self.pid is None:
            m = self._pid_re.search(self._pending)
            if m:
                self.pid = int(m.group(1))
                del self._pending[m.start():m.end()]
        m = self._done_re.search(self._pending)
        if m:
            self.exit_code = int(m.group(1))
            self.done = True
            self._kept.feed(bytes(self._pending[:m.start()]))
            self._pending.clear()
            return
        if len(self._pending) > self._window and self.pid is not None:
            cut = len(self._pending) - self._window
            self._kept.feed(bytes(self._pending[:cut]))
            del self._pending[:cut]

    def text(self) -> tuple[str, bool]:
        """(the output, capped head + tail; whether anything was cut)."""
        self._kept.feed(bytes(self._pending))
        self._pending.clear()
        return self._kept.text()
