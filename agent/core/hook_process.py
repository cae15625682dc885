"""One hook command, run on the host: `bash -c COMMAND` with the event's JSON on stdin,
in a process group of its own. At its timeout, or when the run is cancelled (Esc), the
whole group is killed, so a hook that hangs or leaves children behind cannot hold the
session.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Mapping

OUTPUT_LIMIT = 64_000    # characters kept of each of stdout and stderr
_POLL = 0.05             # seconds between looks at the cancel event


@dataclass(frozen=True)
class Finished:
    """What one hook process did.

    exit_code: its status (128+N when a signal N ended it); None when it did not end by
               itself: timed out, cancelled, or never started.
    stdout, stderr: what it wrote (decoded as UTF-8, replacing bad bytes; capped).
    duration:  seconds of wall time.
    timed_out / cancelled: why it was killed.
    error:     why it could not be started ("" when it was).
    """
    exit_code: int | None
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False
    cancelled: bool = False
    error: str = ""


def run_hook(command: str, stdin: str, *, env: Mapping[str, str], cwd: str, timeout: float,
             cancel: threading.Event | None = None) -> Finished:
    """Run `command` with bash in `cwd`, `stdin` as its input, only `env` as its
    environment; wait at most `timeout` seconds (and not past `cancel`)."""
    started = time.monotonic()
    try:
        proc = subprocess.Popen(["bash", "-c", command], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                                env=dict(env), start_new_session=True)
    except OSError as e:
        return Finished(None, "", "", 0.0, error=f"could not start it: {e.strerror or e}")
    data = stdin.encode("utf-8")
    deadline = started + timeout
    timed_out = cancelled = False
    while True:
        try:
            out, err = proc.communicate(data, timeout=max(0.0, min(_POLL, deadline - time.monotonic())))
            break
        except subprocess.TimeoutExpired:   # retrying communicate loses no output
            data = None                     # (and sends the input only once)
            timed_out = time.monotonic() >= deadline
            cancelled = cancel is not None and cancel.is_set()
            if timed_out or cancelled:
                out, err = _kill(proc)
                break
    code = proc.returncode
    if timed_out or cancelled:
        code = None
    elif code is not None and code < 0:
        code = 128 - code
    return Finished(code, _text(out), _text(err), time.monotonic() - started, timed_out, cancelled)


def _kill(proc: subprocess.Popen) -> tuple[bytes, bytes]:
    """Kill the hook's process group; what it wrote until then."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        return proc.communicate(timeout=2)
    except subprocess.TimeoutExpired:   # a child left the group and holds the pipes open
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.wait()
        return b"", b""


def _text(data: bytes | None) -> str:
    text = (data or b"").decode("utf-8", errors="replace")
    return text if len(text) <= OUTPUT_LIMIT else text[:OUTPUT_LIMIT] + "\n[… cut …]"
