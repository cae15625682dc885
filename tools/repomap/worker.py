"""Parse files in helper processes: the cold build's parallel path.

Plain subprocesses (`python -c ... worker.serve()`) rather than multiprocessing: a
spawned multiprocessing child re-imports the parent's `__main__`, which runs the
caller's script again when it lacks an `if __name__ == "__main__"` guard, and fork is
unsafe in a process that has threads. A worker imports only this package.

Protocol, all `marshal`:
    stdin:  (root, [(rel, lang), ...])
    stdout: frames of <8-byte little-endian length><marshal of [(rel, digest, tags), ...]>,
            one per batch, then a zero-length frame.
"""
from __future__ import annotations

import marshal
import os
import selectors
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

from tools.repomap.tags import Tags, extract_batch

_PKG_ROOT = str(Path(__file__).resolve().parents[2])  # the folder that holds `tools/`
_BATCH = 32


def serve() -> None:
    """Worker main: read the job from stdin, stream results to stdout."""
    root, items = marshal.loads(sys.stdin.buffer.read())
    out = sys.stdout.buffer
    for i in range(0, len(items), _BATCH):
        got = [g for g in extract_batch(root, items[i:i + _BATCH]) if g is not None]
        frame = marshal.dumps(got)
        out.write(len(frame).to_bytes(8, "little") + frame)
        out.flush()
    out.write((0).to_bytes(8, "little"))
    out.flush()


def parse_parallel(root: str, todo: list[tuple[str, str]], n: int,
                   cancel: threading.Event | None = None
                   ) -> Iterator[tuple[str, bytes, Tags]]:
    """Yield (rel, digest, tags) for the files of `todo`, parsed by `n` worker processes.

    Raises OSError when workers cannot be started or die (the caller parses the rest
    itself) and InterruptedError when `cancel` is set (the workers are killed).
    """
    shares = _split(root, todo, n)
    code = f"import sys; sys.path.insert(0, {_PKG_ROOT!r}); " \
           "from tools.repomap.worker import serve; serve()"
    procs = []
    try:
        for share in shares:
            proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            procs.append(proc)
            assert proc.stdin is not None
            proc.stdin.write(marshal.dumps((root, share)))
            proc.stdin.close()
        yield from _collect(procs, cancel)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


def _split(root: str, todo: list[tuple[str, str]], n: int) -> list[list[tuple[str, str]]]:
    """Deal files to `n` shares, largest first to the lightest share, to end together."""
    def size(item: tuple[str, str]) -> int:
        try:
            return os.path.getsize(os.path.join(root, item[0]))
        except OSError:
            return 0
    shares: list[list[tuple[str, str]]] = [[] for _ in range(n)]
    load = [0] * n
    for item in sorted(todo, key=size, reverse=True):
        i = load.index(min(load))
        shares[i].append(item)
        load[i] += size(item) + 2048  # per-file overhead, so tiny files spread too
    return [s for s in shares if s]


def _collect(procs: list[subprocess.Popen], cancel: threading.Event | None
             ) -> Iterator[tuple[str, bytes, Tags]]:
    sel = selectors.DefaultSelector()
    buffers: dict[int, bytearray] = {}
    for proc in procs:
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        sel.register(proc.stdout, selectors.EVENT_READ, proc)
        buffers[proc.stdout.fileno()] = bytearray()
    open_count = len(procs)
    while open_count:
        if cancel is not None and cancel.is_set():
            raise InterruptedError("repo map interrupted")
        for key, _ in sel.select(timeout=0.1):
            fd = key.fileobj.fileno()  # type: ignore[union-attr]
            chunk = os.read(fd, 1 << 20)
            buf = buffers[fd]
            if not chunk:
                raise OSError("a repo map worker exited before finishing")
            buf += chunk
            while len(buf) >= 8:
                length = int.from_bytes(buf[:8], "little")
                if length == 0:
                    sel.unregister(key.fileobj)
                    open_count -= 1
                    del buf[:8]
                    break
                if len(buf) < 8 + length:
                    break
                frame = bytes(buf[8:8 + length])
                del buf[:8 + length]
                yield from marshal.loads(frame)
    sel.close()
