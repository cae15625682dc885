"""The pinned tool lists of MCP servers: `AMA_HOME/mcp-pins.json`, the user's own.

The first time ama connects to a server (trust on first use) it records the hash of
each of its tools (tools/mcp/pins.py says what a hash covers); a later connection whose
tools differ, or that lists tools with no pin, has those withheld from the model until
the user approves them (`ama mcp approve NAME`, which calls `approve_pins`). A server
whose definition changed (the user edited it, or trusted a repository's new one) is a
new server: its tools are pinned afresh.

    {"user":  {"NAME": ENTRY},                       # servers of the user's config
     "repos": {"/abs/root": {"NAME": ENTRY}}}        # servers a repository defines
    ENTRY = {"definition": "<sha256>", "tools": {"TOOL": "<sha256>"}, "pinned": 1700000000.0}

Hashes only: no command line, env value, header or token is stored.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from agent.config.home import ama_home, unwritable
from agent.config.mcp import _REPO_SOURCES
from agent.core.errors import BadInput
from tools import json_safe
from tools.mcp.pins import definition_hash, unpinned
from tools.mcp.spec import ServerSpec

STORE = "mcp-pins.json"


@dataclass(frozen=True)
class PinCheck:
    """One server's tools against its pins.

    changed: its tools (server-side names) whose hash differs from the pin.
    new:     its tools that have no pin.
    pinned:  "" (compared with earlier pins), "first" (none were recorded) or
             "definition" (the server's definition changed): in the last two cases
             `check_pins` pinned every tool as it is now and nothing is withheld.
    """
    server: str
    changed: tuple[str, ...] = ()
    new: tuple[str, ...] = ()
    pinned: str = ""

    @property
    def withheld(self) -> tuple[str, ...]:
        return (*self.changed, *self.new)


def store_path() -> Path:
    return ama_home() / STORE


def defined_by_repo(spec: ServerSpec) -> bool:
    return spec.source.startswith(_REPO_SOURCES)


def compare_pins(root: Path, spec: ServerSpec, current: Mapping[str, str]) -> PinCheck:
    """`current` (tool -> hash, as listed now) against the pins of `spec`; writes
    nothing. `root`: the project root (the key of a repository's servers)."""
    return _compare(_entry(_load(), root, spec), spec, current)


def check_pins(root: Path, servers: Sequence[tuple[ServerSpec, Mapping[str, str]]]
               ) -> list[PinCheck]:
    """What a session does with the servers it connected to (each with its tools'
    hashes now): pin those with no pins or a changed definition, and say for the others
    which tools to withhold. One write, only when something was pinned. Raises BadInput
    for a damaged or unwritable store."""
    store = _load()
    checks = [_compare(_entry(store, root, spec), spec, current) for spec, current in servers]
    fresh = [(spec, current) for (spec, current), c in zip(servers, checks) if c.pinned]
    if fresh:
        for spec, current in fresh:
            _set(store, root, spec, current)
        _save(store)
    return checks


def approve_pins(root: Path, spec: ServerSpec, current: Mapping[str, str]) -> None:
    """Pin `spec`'s tools as they are now (`ama mcp approve`)."""
    store = _load()
    _set(store, root, spec, current)
    _save(store)


def _compare(entry: Mapping | None, spec: ServerSpec, current: Mapping[str, str]) -> PinCheck:
    if entry is None:
        return PinCheck(spec.name, pinned="first")
    if entry.get("definition") != definition_hash(spec):
        return PinCheck(spec.name, pinned="definition")
    changed, new = unpinned(entry.get("tools", {}), current)
    return PinCheck(spec.name, changed, new)


def _servers_of(store: dict, root: Path, spec: ServerSpec) -> dict:
    if defined_by_repo(spec):
        return store.setdefault("repos", {}).setdefault(str(Path(root).resolve()), {})
    return store.setdefault("user", {})


def _entry(store: dict, root: Path, spec: ServerSpec) -> dict | None:
    entry = _servers_of(store, root, spec).get(spec.name)
    return entry if isinstance(entry, dict) else None


def _set(store: dict, root: Path, spec: ServerSpec, current: Mapping[str, str]) -> None:
    _servers_of(store, root, spec)[spec.name] = {
        "definition": definition_hash(spec), "tools": dict(current), "pinned": time.time()}


def _load() -> dict:
    path = store_path()
    try:
        store = json_safe.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:   # JSONTextError is a ValueError
        raise _damaged(path, e) from None
    if not isinstance(store, dict) or not all(isinstance(store.get(k, {}), dict)
                                              for k in ("user", "repos")):
        raise _damaged(path, "not an object of the expected shape")
    return store


def _damaged(path: Path, why: object) -> BadInput:
    # Not read as "nothing pinned": that would accept whatever every server lists now.
    return BadInput(f"the MCP tool pins in {path} cannot be read ({why}); fix the file, or "
                    f"delete it to pin every server's tools afresh at its next connection")


def _save(store: dict) -> None:
    from tools.workspace.atomic_files import FileWrite, write_atomically
    path = store_path()
    data = json.dumps(store, indent=1, sort_keys=True).encode("utf-8")
    try:   # atomic: a crash leaves the old pins or the new, never half
        write_atomically(path.parent, [FileWrite(path.name, data)])
    except OSError as e:
        raise unwritable(path, e) from None
