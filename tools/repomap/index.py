"""Bring the tags of every source file in a workspace up to date, using the cache.

A file's cached tags are reused when its size and mtime match the cache and it was
last changed well before the cache was written (so a same-size edit within the
clock's granularity cannot hide: the "racily clean" rule git uses for its index).
Otherwise the file is read and hashed; the same content hash is still a hit. Only
files whose content changed are parsed, in worker processes when there are many.
"""
from __future__ import annotations

import gc
import os
import stat
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from tools.repomap import cache as tag_cache
from tools.repomap.files import list_source_files
from tools.repomap.languages import fingerprint, language_for
from tools.repomap.tags import MAX_FILE_BYTES, Tags, digest, extract_batch
from tools.repomap.worker import parse_parallel

RACY_NS = 2_000_000_000  # mtime granularity margin (FAT has 2 s)
POOL_MIN_FILES = 200     # below this, starting workers costs more than it saves


@dataclass
class ScanStats:
    """What a scan did: how many files, and how each one's tags were obtained.

    files:     source files in the map
    stat_hits: reused from the cache on size + mtime alone (not read)
    hash_hits: read and hashed; same content as cached
    parsed:    run through tree-sitter
    workers:   processes used for parsing (0: parsed in this process or nothing parsed)
    unchanged: no file was added, changed or removed since the entries scanned against
    seconds:   wall time of the scan
    """

    files: int = 0
    stat_hits: int = 0
    hash_hits: int = 0
    parsed: int = 0
    workers: int = 0
    unchanged: bool = False
    seconds: float = 0.0


@dataclass
class RepoIndex:
    """Tags of every mapped file of one workspace: relative path -> `tags.Tags`."""

    root: Path
    tags: dict[str, Tags] = field(default_factory=dict)


def scan(root: Path, *, cache_dir: Path | None = None, cache_key: str | None = None,
         cancel: threading.Event | None = None, workers: int | None = None
         ) -> tuple[RepoIndex, ScanStats]:
    """Tags for every source file under `root`, from the cache where it is still valid.

    Args:
        root: the workspace (its real path is used).
        cache_dir: where cache folders live; None: no disk cache.
        cache_key: names this workspace's cache folder; default: the real path of `root`.
            Pass the user's repository path when mapping a scratch copy of it, so
            copies share one cache (entries are checked by content hash anyway).
        cancel: set to stop early; what was parsed so far is still cached.
        workers: parser processes; default: the CPU count (at most 8).
    Returns:
        (index, stats). Raises InterruptedError when `cancel` was set.
    """
    root = Path(os.path.realpath(root))
    store = TagStore(root, cache_dir, cache_key)
    with gc_paused():
        entries, scanned_at = store.load()
        delta = refresh(root, entries, scanned_at, store=store, cancel=cancel,
                        workers=workers)
    return RepoIndex(root, {rel: e[3] for rel, e in delta.entries.items()}), delta.stats


@dataclass
class TagStore:
    """Where one workspace's tag cache lives (or nowhere, when cache_dir is None)."""

    root: Path
    cache_dir: Path | None
    cache_key: str | None = None
    background: bool = False  # write in a thread (a session's updates); see save
    _pending: threading.Thread | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.fingerprint = fingerprint()
        self.folder = None if self.cache_dir is None else tag_cache.cache_folder(
            Path(self.cache_dir), self.cache_key or str(self.root))

    def load(self) -> tuple[dict[str, tag_cache.Entry], list[int]]:
        """(entries, scan time of each shard)."""
        return tag_cache.load(self.folder, self.fingerprint)

    def save(self, scanned_at: int, entries: dict[str, tag_cache.Entry],
             shards: Iterable[int] | None = None) -> None:
        """Write the shards; in a background thread when `background` is set.

        A session's update need not wait for the disk (renaming a file can take tens
        of milliseconds on a busy machine). Writes stay in order (each waits for the
        one before), the thread is not a daemon so the process finishes it before
        exiting, and `entries` is never mutated after it is handed over.
        """
        self._write(self.background, tag_cache.save, self.folder, self.fingerprint,
                    scanned_at, entries, None if shards is None else set(shards))

    def load_ranks(self, state: bytes) -> dict[str, float] | None:
        return tag_cache.load_ranks(self.folder, self.fingerprint, state)

    def save_ranks(self, state: bytes, ranks: dict[str, float]) -> None:
        """Always behind: the map in hand does not depend on it."""
        self._write(True, tag_cache.save_ranks, self.folder, self.fingerprint, state, ranks)

    def _write(self, background: bool, fn: Callable[..., None], *args: object) -> None:
        self.flush()
        if self.folder is None:
            return
        if not background:
            fn(*args)
            return
        self._pending = threading.Thread(target=fn, args=args, name="repomap-cache-save")
        self._pending.start()

    def flush(self) -> None:
        """Wait for a background write to finish."""
        if self._pending is not None:
            self._pending.join()
            self._pending = None


@dataclass
class Delta:
    """The result of `refresh`: all entries now, and which files changed since `old`.

    entries:   relative path -> (size, mtime_ns, digest, tags), sorted by path
    changed:   files whose tags are new (added or content changed)
    removed:   files that were in `old` and are gone (or no longer mapped)
    scanned_at: time.time_ns() taken before the first stat (the racy-clean reference)
    """

    entries: dict[str, tag_cache.Entry]
    changed: list[str]
    removed: list[str]
    scanned_at: int
    stats: ScanStats


def refresh(root: Path, old: dict[str, tag_cache.Entry], old_scanned_at: int | list[int], *,
            store: TagStore | None = None, cancel: threading.Event | None = None,
            workers: int | None = None) -> Delta:
    """Bring `old` entries up to date with the files under `root` (a real path).

    Reuses an entry on size + mtime when the file was last changed at least RACY_NS
    before the scan that recorded it (`old_scanned_at`: one time, or one per cache
    shard), else on the content hash; parses the rest. Saves the shards that changed
    to `store` (also when interrupted, so the next scan resumes).
    """
    t0 = time.perf_counter()
    scanned_at = time.time_ns()
    if isinstance(old_scanned_at, int):
        old_scanned_at = [old_scanned_at] * tag_cache.SHARDS
    trusted_before = [at - RACY_NS for at in old_scanned_at]
    shard_of = tag_cache.shard_of
    dirty: set[str] = set()  # files whose cache entry must be written

    stats = ScanStats()
    entries: dict[str, tag_cache.Entry] = {}
    todo: list[tuple[str, str]] = []
    stat_of: dict[str, tuple[int, int]] = {}
    for rel in list_source_files(root):
        full = os.path.join(root, rel)
        try:
            st = os.lstat(full)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_FILE_BYTES:
            continue  # symlinks (may point outside), devices, generated giants
        stats.files += 1
        size, mtime = st.st_size, st.st_mtime_ns
        hit = old.get(rel)
        if hit is not None and hit[0] == size and hit[1] == mtime and \
                mtime < trusted_before[shard_of(rel)]:
            entries[rel] = hit
            stats.stat_hits += 1
            continue
        if hit is not None:
            try:
                with open(full, "rb") as f:
                    same = digest(f.read()) == hit[2]
            except OSError:
                continue
            if same:
                entries[rel] = (size, mtime, hit[2], hit[3])
                dirty.add(rel)  # new stat, and a newer scan time to trust it by
                stats.hash_hits += 1
                continue
        todo.append((rel, language_for(rel) or ""))
        stat_of[rel] = (size, mtime)

    changed: list[str] = []
    try:
        for rel, dig, tags in _parse(str(root), todo, cancel, workers, stats):
            size, mtime = stat_of[rel]
            entries[rel] = (size, mtime, dig, tags)
            changed.append(rel)
            stats.parsed += 1
    finally:
        entries = dict(sorted(entries.items()))
        removed = sorted(old.keys() - entries.keys())
        dirty.update(changed, removed)
        if store is not None and dirty:
            store.save(scanned_at, entries, {shard_of(rel) for rel in dirty})
    stats.unchanged = not changed and not removed
    stats.seconds = time.perf_counter() - t0
    return Delta(entries, sorted(changed), removed, scanned_at, stats)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a bulk build.

    Loading the cache and building the graph allocate about a million small tuples
    that are never cyclic garbage; each automatic collection would walk all of them
    again (it more than doubles the warm build). Reference counting still frees
    everything; the collector is switched back on as it was.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _parse(root: str, todo: list[tuple[str, str]], cancel: threading.Event | None,
           workers: int | None, stats: ScanStats) -> Iterator[tuple[str, bytes, Tags]]:
    """Yield (rel, digest, tags) for each file of `todo` that could be read."""
    n = workers if workers is not None else min(os.cpu_count() or 1, 8)
    if n > 1 and len(todo) >= POOL_MIN_FILES:
        done: set[str] = set()
        stats.workers = n
        try:
            for got in parse_parallel(root, todo, n, cancel):
                done.add(got[0])
                yield got
            return
        except InterruptedError:
            raise
        except OSError:
            # Workers could not start or died (a sandbox forbidding it, memory):
            # parse the rest in this process.
            stats.workers = 0
            todo = [item for item in todo if item[0] not in done]
    for i in range(0, len(todo), 32):
        if cancel is not None and cancel.is_set():
            raise InterruptedError("repo map interrupted")
        for got in extract_batch(root, todo[i:i + 32]):
            if got is not None:
                yield got
