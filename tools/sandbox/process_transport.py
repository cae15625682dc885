"""The transport for a driver bash that is a host subprocess (local and bwrap backends),
and a /proc helper to find a process's descendants."""
from __future__ import annotations

import os
import signal
import subprocess
from typing import Callable, Mapping


class ProcessTransport:
    """A driver bash that is a host subprocess (the local and bwrap backends).

    Args:
        argv:       the command line that ends in `bash --noprofile --norc -s`.
        env, cwd:   for the subprocess.
        kill_group: kills a process group given its id as the driver sees it; the
                    default (os.killpg) is right when the driver shares our pid
                    namespace.
    """

    def __init__(self, argv: list[str], *, env: Mapping[str, str], cwd: str | None = None,
                 kill_group: Callable[["ProcessTransport", int], None] | None = None):
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=dict(env), cwd=cwd,
            start_new_session=True, bufsize=0,
        )
        self._kill = kill_group

    def fileno(self) -> int:
        return self.proc.stdout.fileno()

    def read(self) -> bytes | None:
        data = os.read(self.fileno(), 65536)
        return data if data else None

    def write(self, data: bytes) -> None:
        try:
            self.proc.stdin.write(data)
        except (BrokenPipeError, ValueError, OSError):
            pass  # the driver is gone; the read side reports it

    def kill_group(self, pgid: int) -> None:
        if self._kill is not None:
            self._kill(self, pgid)
            return
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self) -> None:
        # The driver's own group, then any job groups it leaves (their pgids are the
        # pids of its children, which we find through /proc).
        for pid in [self.proc.pid, *descendants(self.proc.pid)]:
            try:
                os.killpg(os.getpgid(pid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except Exception:
            pass


def descendants(root: int) -> list[int]:
    """Host pids of all live descendants of `root` (read from /proc), children first."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # Fields after the command name, which may hold spaces and parentheses.
        fields = stat[stat.rindex(b")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(name))
    out: list[int] = []
    todo = [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out
