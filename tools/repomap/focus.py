"""Match what the conversation mentions to the files and identifiers of the map."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable

from tools.repomap.index import RepoIndex

SANDBOX_ROOT = "/workspace"  # as tools.paths (not imported: it pulls in pydantic)

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def match_files(index: RepoIndex, mentioned: Iterable[str]) -> tuple[str, ...]:
    """The mapped files that `mentioned` paths name: exact paths, folders (every file
    under them), absolute paths under the root or under the sandbox's `/workspace`;
    unknown paths are dropped."""
    known = index.tags
    out: set[str] = set()
    for raw in mentioned:
        p = raw.strip().replace(os.sep, "/")
        if p == SANDBOX_ROOT or p.startswith(SANDBOX_ROOT + "/"):
            p = p[len(SANDBOX_ROOT):].lstrip("/")
        if os.path.isabs(p):
            try:
                p = Path(os.path.realpath(p)).relative_to(index.root).as_posix()
            except ValueError:
                continue
        p = p.removeprefix("./").rstrip("/")
        if not p:
            continue
        if p in known:
            out.add(p)
        else:
            out.update(rel for rel in known if rel.startswith(p + "/"))
    return tuple(sorted(out))


def split_focus(index: RepoIndex, focus: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split a free-text focus ("query.py QuerySet.filter, db/models") into
    (files, identifiers).

    A word naming a mapped path (or folder, or a file by its bare name like
    `query.py`) is a file; every other identifier-like word (split on dots) is an
    identifier. `a.b` that is not a path counts as the identifiers `a` and `b`.
    """
    if not focus:
        return (), ()
    by_name: dict[str, list[str]] = {}
    for rel in index.tags:
        by_name.setdefault(rel.rsplit("/", 1)[-1], []).append(rel)
    files: set[str] = set()
    idents: set[str] = set()
    for word in re.split(r"[\s,;`'\"()]+", focus):
        word = word.strip().rstrip(":.")
        if not word:
            continue
        matched = match_files(index, [word]) or tuple(by_name.get(word, ()))
        if matched:
            files.update(matched)
        else:
            idents.update(_WORD.findall(word))
    return tuple(sorted(files)), tuple(sorted(idents))
