"""File-system operations inside the workspace that never follow a symlink.

`tools.paths.resolve` checks a path once; a process in the sandbox could swap a
directory for a symlink between that check and our open. So every open here walks
the resolved path one component at a time from the workspace root with
`O_NOFOLLOW`, and creates, renames and removes relative to the parent directory's
descriptor. A component that has become a symlink fails the call with a ToolError
instead of reaching outside the workspace.

All functions take `root` (the workspace) and `path`, a host path inside it as
returned by `resolve`.
"""
from __future__ import annotations

import errno
import os
import stat as stat_mod
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tools.base import ToolError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _parts(root: Path, path: Path) -> tuple[str, ...]:
    rel = Path(os.path.realpath(root))
    try:
        return Path(path).relative_to(rel).parts
    except ValueError:
        raise ToolError(f"{path}: outside the workspace; refused") from None


def _symlink_error(name: str) -> ToolError:
    return ToolError(f"{name}: is (or became) a symlink; refused")


@contextmanager
def parent_dir(root: Path, path: Path, *, create: bool = False) -> Iterator[tuple[int, str]]:
    """Open the parent directory of `path` without following symlinks.

    Yields (dir_fd, final_name). With `create`, missing parent directories are made.
    Raises ToolError if a component is a symlink or not a directory, or is missing
    (without `create`).
    """
    parts = _parts(root, path)
    if not parts:
        raise ToolError(".: is the workspace root, not a file")
    fd = os.open(os.path.realpath(root), _DIR_FLAGS)
    try:
        for name in parts[:-1]:
            nfd = _open_dir(fd, name, create, "/".join(parts))
            os.close(fd)
            fd = nfd
        yield fd, parts[-1]
    finally:
        os.close(fd)


def _open_dir(fd: int, name: str, create: bool, shown: str) -> int:
    """Open directory `name` under `fd` (making it with `create`), never via a symlink."""
    try:
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=fd)
        except FileNotFoundError:
            if not create:
                raise ToolError(f"{shown}: no such file or directory") from None
            try:
                os.mkdir(name, 0o777, dir_fd=fd)
            except FileExistsError:
                pass
            return os.open(name, _DIR_FLAGS, dir_fd=fd)
    except OSError as e:
        if e.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        if stat_mod.S_ISLNK(st.st_mode):
            raise _symlink_error(name) from None
        raise ToolError(f"{shown}: {name} is not a directory") from None


def lstat(root: Path, path: Path) -> os.stat_result | None:
    """The lstat of `path`, or None when nothing is there (or a parent is missing)."""
    try:
        with parent_dir(root, path) as (dfd, name):
            return os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    except ToolError:
        if not os.path.lexists(path):
            return None
        raise


@contextmanager
def open_read(root: Path, path: Path) -> Iterator["os.FileIO"]:
    """Open a regular file for reading in binary mode, never through a symlink."""
    with parent_dir(root, path) as (dfd, name):
        try:
            # O_NONBLOCK: opening a FIFO must not hang; it is refused just below
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
                         | getattr(os, "O_CLOEXEC", 0), dir_fd=dfd)
        except FileNotFoundError:
            raise ToolError(f"{path.name}: no such file") from None
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise _symlink_error(name) from None
            raise
    f = os.fdopen(fd, "rb")
    try:
        if not stat_mod.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ToolError(f"{name}: not a regular file")
        yield f
    finally:
        f.close()


def read_bytes(root: Path, path: Path) -> bytes:
    with open_read(root, path) as f:
        return f.read()


def atomic_write(root: Path, path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write `data` to `path` through a temp file and a rename, making parent dirs.

    `mode` is the permission bits to give the file; None keeps the mode of an
    existing file, or the umask default for a new one.
    """
    with parent_dir(root, path, create=True) as (dfd, name):
        try:
            old = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            old = None
        if old is not None and not stat_mod.S_ISREG(old.st_mode):
            kind = "a directory" if stat_mod.S_ISDIR(old.st_mode) else "not a regular file"
            raise ToolError(f"{name}: is {kind}; refused")
        if mode is None and old is not None:
            mode = stat_mod.S_IMODE(old.st_mode)
        tmp = f".{name}.ama-{os.getpid()}-{os.urandom(4).hex()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666,
                     dir_fd=dfd)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                if mode is not None:
                    os.fchmod(f.fileno(), mode)
                f.flush()
                _bump_mtime(f.fileno(), old)
                os.fsync(f.fileno())
            os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=dfd)
            except OSError:
                pass
            raise


def _bump_mtime(fd: int, old: os.stat_result | None) -> None:
    """Make sure a rewritten file's mtime moves to a later whole second.

    Python's .pyc check (and make) compare whole-second mtimes and sizes: an edit that
    keeps the size (`a - b` → `a + b`) within the second of the last compile would
    otherwise run the stale bytecode.
    """
    if old is None:
        return
    now = os.fstat(fd).st_mtime_ns
    if now // 1_000_000_000 <= old.st_mtime_ns // 1_000_000_000:
        bumped = (old.st_mtime_ns // 1_000_000_000 + 1) * 1_000_000_000
        os.utime(fd, ns=(bumped, bumped))


def remove(root: Path, path: Path) -> None:
    """Delete the file (or symlink itself) at `path`."""
    with parent_dir(root, path) as (dfd, name):
        st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        if stat_mod.S_ISDIR(st.st_mode):
            raise ToolError(f"{name}: is a directory; refused")
        os.unlink(name, dir_fd=dfd)
