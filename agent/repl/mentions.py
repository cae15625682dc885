"""`@path` mentions: completion of the repo's files (gitignore-aware) and attaching
the mentioned files' contents to the message. `@server:URI`, where `server` is a
connected MCP server's name, mentions that server's resource instead."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Collection, Iterable

from prompt_toolkit.completion import Completer, Completion

MAX_FILES = 20_000
MAX_ATTACH_BYTES = 200_000
_MENTION = re.compile(r"(?<![\w@])@([^\s@]+)")
_TRAILING = ".,;:!?)]}'\""
_RESOURCE = re.compile(r"(?<![\w@])@([^\s@:]+):(\S+)")


def list_files(root: Path) -> list[str]:
    """Files under `root`: tracked + untracked, minus what .gitignore excludes.

    Hardened git where `root` is in a repo; a plain walk (skipping dot-dirs) otherwise.
    """
    from tools.workspace.git import host_git, repo_top
    if repo_top(root) is not None:
        code, out, _ = host_git(root).ls_files("-co", "--exclude-standard", "-z",
                                               with_extended_output=True, with_exceptions=False,
                                               stdout_as_string=False)
        if code == 0:
            files = [os.fsdecode(p) for p in out.split(b"\0") if p]
            return sorted(set(files))[:MAX_FILES]
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel = os.path.relpath(dirpath, root)
        out += [f if rel == "." else f"{rel}/{f}" for f in sorted(filenames)]
        if len(out) >= MAX_FILES:
            break
    return out[:MAX_FILES]


def rank(files: Iterable[str], fragment: str) -> list[str]:
    """Files matching `fragment`: path prefix first, then basename prefix, then substring."""
    frag = fragment.lower()
    scored = []
    for f in files:
        low = f.lower()
        base = low.rsplit("/", 1)[-1]
        if low.startswith(frag):
            scored.append((0, len(f), f))
        elif base.startswith(frag):
            scored.append((1, len(f), f))
        elif frag in low:
            scored.append((2, len(f), f))
    return [f for _, _, f in sorted(scored)]


class MentionCompleter(Completer):
    """Completes `@frag` with repo files. The file list is read once per prompt."""

    def __init__(self, root: Path, limit: int = 50):
        self.root = root
        self.limit = limit
        self._files: list[str] | None = None

    def refresh(self) -> None:
        self._files = None

    def get_completions(self, document, complete_event):
        m = re.search(r"(?<![\w@])@([^\s@]*)$", document.text_before_cursor)
        if not m:
            return
        if self._files is None:
            self._files = list_files(self.root)
        frag = m.group(1)
        for path in rank(self._files, frag)[:self.limit]:
            yield Completion("@" + path, start_position=-len(frag) - 1, display=path)


def find_resource_mentions(text: str, servers: Collection[str]) -> list[tuple[str, str]]:
    """(server, URI) of each `@server:URI` whose server is one of `servers`, in order."""
    found: list[tuple[str, str]] = []
    for m in _RESOURCE.finditer(text):
        mention = (m.group(1), m.group(2).rstrip(_TRAILING))
        if mention[0] in servers and mention[1] and mention not in found:
            found.append(mention)
    return found


def find_mentions(text: str, root: Path, servers: Collection[str] = ()) -> list[str]:
    """The mentioned paths that are files inside `root` (no escaping it), in order;
    `@server:...` of one of `servers` is a resource, not a path."""
    found: list[str] = []
    real_root = root.resolve()
    for m in _MENTION.finditer(text):
        rel = m.group(1).rstrip(_TRAILING)
        if rel.partition(":")[0] in servers and ":" in rel:
            continue
        path = (root / rel)
        try:
            resolved = path.resolve()
        except OSError:
            continue
        if not resolved.is_relative_to(real_root) or not resolved.is_file():
            continue
        if rel not in found:
            found.append(rel)
    return found


def attachments(text: str, root: Path, servers: Collection[str] = ()) -> list[dict[str, str]]:
    """[{path, content}] for each mentioned file (binary or huge files are described)."""
    out = []
    for rel in find_mentions(text, root, servers):
        data = (root / rel).read_bytes()
        if b"\0" in data[:8000]:
            content = f"(binary file, {len(data)} bytes; not attached)"
        elif len(data) > MAX_ATTACH_BYTES:
            content = data[:MAX_ATTACH_BYTES].decode("utf-8", "replace") + \
                f"\n… (cut: the file has {len(data)} bytes; read the rest with read_file)"
        else:
            content = data.decode("utf-8", "replace")
        out.append({"path": rel, "content": content})
    return out
