"""The on-disk tag cache: a folder per workspace holding SHARDS compact files.

The warm path reads every entry, and one `marshal.loads` of plain tuples per shard is
the fastest load Python has. Entries are spread over a fixed number of shards by a
hash of the path so that editing one file rewrites one small shard, not the whole
cache (a full dump of Django's 2,800 files takes longer than the rest of an update).
Writes go to a temporary file that replaces the old one, so a reader never sees half
a shard, and a crash loses nothing but the update.

Besides the shards, `ranks.marshal` keeps the unfocused PageRank of the last state
mapped from scratch (keyed by a digest of every path and content hash), so a new
process mapping an unchanged repository skips the iteration.

Shard layout (marshal): (MAGIC, fingerprint, scanned_at_ns, entries)
    entries:    dict relative path -> (size, mtime_ns, digest, tags)
    digest:     blake2b-128 of the content (the key that decides a hit)
    tags:       see `tags.Tags`
    scanned_at: when the scan that wrote this shard began (see index.RACY_NS)

The cache lives under the user's own state folder (`AMA_HOME/cache/repomap`), never
inside the repository, so a repository cannot plant one (marshal is not meant for
untrusted input). A shard that does not load, or was written by another schema,
grammar pack or Python version, counts as empty.
"""
from __future__ import annotations

import hashlib
import marshal
import os
import sys
import threading
import zlib
from pathlib import Path
from typing import Iterable

from tools.repomap.tags import Tags

Entry = tuple[int, int, bytes, Tags]

SCHEMA = 3
SHARDS = 16
MAGIC = f"ama-repomap-{SCHEMA}-py{sys.version_info[0]}.{sys.version_info[1]}"


def cache_folder(cache_dir: Path, key: str) -> Path:
    """The cache folder for a workspace named by `key` (usually its real path)."""
    name = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:20]
    return cache_dir / f"{name}.v{SCHEMA}"


def shard_of(rel: str) -> int:
    """Which shard holds the entry of `rel` (stable across processes)."""
    return zlib.crc32(rel.encode("utf-8", "surrogateescape")) % SHARDS


def load(folder: Path | None, fingerprint: str) -> tuple[dict[str, Entry], list[int]]:
    """(entries, scanned_at_ns of each shard); a missing or stale shard gives no
    entries and time 0."""
    entries: dict[str, Entry] = {}
    scanned = [0] * SHARDS
    if folder is None:
        return entries, scanned
    for k in range(SHARDS):
        try:
            magic, fp, at, part = marshal.loads((folder / f"{k:02d}.marshal").read_bytes())
        except (OSError, ValueError, EOFError, TypeError):
            continue
        if magic == MAGIC and fp == fingerprint and isinstance(part, dict):
            entries.update(part)
            scanned[k] = at
    return entries, scanned


def save(folder: Path | None, fingerprint: str, scanned_at: int,
         entries: dict[str, Entry], shards: Iterable[int] | None = None) -> None:
    """Write the given shards (default: all) from `entries`, each atomically.

    Failing to write is not an error: the map still works, only slower next time.
    """
    if folder is None:
        return
    wanted = set(range(SHARDS) if shards is None else shards)
    parts: dict[int, dict[str, Entry]] = {k: {} for k in wanted}
    for rel, entry in entries.items():
        part = parts.get(shard_of(rel))
        if part is not None:
            part[rel] = entry
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    for k, part in parts.items():
        _write_atomic(folder / f"{k:02d}.marshal",
                      marshal.dumps((MAGIC, fingerprint, scanned_at, part)))


def state_key(entries: dict[str, Entry]) -> bytes:
    """A digest of which files there are and what is in them (the graph's input)."""
    h = hashlib.blake2b(digest_size=16)
    for rel, entry in sorted(entries.items()):
        h.update(rel.encode("utf-8", "surrogateescape"))
        h.update(entry[2])
    return h.digest()


def load_ranks(folder: Path | None, fingerprint: str, state: bytes
               ) -> dict[str, float] | None:
    """The unfocused file ranks saved for exactly this `state`, or None."""
    if folder is None:
        return None
    try:
        magic, fp, saved_state, ranks = marshal.loads((folder / "ranks.marshal").read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if magic != MAGIC or fp != fingerprint or saved_state != state or \
            not isinstance(ranks, dict):
        return None
    return ranks


def save_ranks(folder: Path | None, fingerprint: str, state: bytes,
               ranks: dict[str, float]) -> None:
    """Keep the unfocused file ranks of `state` (PageRank from scratch, so a later
    process that finds them renders exactly the map it would have computed)."""
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    _write_atomic(folder / "ranks.marshal", marshal.dumps((MAGIC, fingerprint, state, ranks)))


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".tmp-{os.getpid()}-{threading.get_ident()}-{path.name}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
