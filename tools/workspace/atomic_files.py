"""Write a set of files into a tree all together: stage everything, then rename.

Used wherever a change set (or part of one) lands in a tree: the user's, when changes
are applied; the scratch copy, when rejected hunks are reverted.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FileWrite:
    path: str               # relative to the tree
    data: bytes | None      # None: remove the file
    mode: str = "100644"    # git mode: "100755" executable, "120000" data is a link target


def write_atomically(root: Path, writes: list[FileWrite]) -> None:
    """Stage every new file next to its destination, then remove and rename.

    If staging fails nothing was changed; the renames themselves cannot half-fail
    short of the disk going away.
    """
    staged: list[tuple[Path, Path | None, str | None]] = []
    try:
        for w in writes:
            if w.data is None:
                continue
            dest = root / w.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            if w.mode == "120000":
                staged.append((dest, None, os.fsdecode(w.data)))
                continue
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.ama-")
            with os.fdopen(fd, "wb") as out:
                out.write(w.data)
            os.chmod(tmp, 0o755 if w.mode == "100755" else 0o644)
            staged.append((dest, Path(tmp), None))
    except BaseException:
        for _, tmp, _ in staged:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        raise
    for w in writes:
        if w.data is None:
            p = root / w.path
            if p.is_symlink() or p.is_file():
                p.unlink()
    for dest, tmp, link in staged:
        if link is not None:
            if os.path.lexists(dest):
                dest.unlink()
            os.symlink(link, dest)
        else:
            if dest.is_symlink():
                dest.unlink()
            os.replace(tmp, dest)
