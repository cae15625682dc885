"""Project memory: AGENTS.md files from the repo root down to the working directory.

CLAUDE.md is the fallback in a directory that has no AGENTS.md. Nearest comes last,
so the most specific instructions are read last.
"""
from __future__ import annotations

from pathlib import Path

NAMES = ("AGENTS.md", "CLAUDE.md")
MAX_CHARS = 20_000


def find_memory(root: Path, cwd: Path) -> list[dict[str, str]]:
    """[{path, text}] from `root` down to `cwd` (both inclusive), root first."""
    root, cwd = root.resolve(), cwd.resolve()
    chain = [cwd, *cwd.parents]
    dirs = list(reversed(chain[: chain.index(root) + 1])) if root in chain else [root]
    found = []
    for d in dirs:
        for name in NAMES:
            f = d / name
            if f.is_file():
                text = f.read_text(encoding="utf-8", errors="replace")[:MAX_CHARS]
                found.append({"path": f.relative_to(root).as_posix(), "text": text.strip()})
                break
    return found
