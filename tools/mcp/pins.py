"""Pinned tool lists: a server's tools and its definition as hashes, so a change shows.

A server that was trusted with one set of tools can later describe them differently (a
"rug pull": a harmless tool's description turns into instructions for the model, or a
tool starts calling itself read-only). `tool_hash` covers everything the model is told
about a tool and everything that decides how ama treats it: name, title, description,
inputSchema and annotations (`readOnlyHint` lets a tool run without asking).
`definition_hash` covers how the server is reached (command, args, env, cwd, url,
headers): values that may be secrets (a token in env or headers) go into the hash, and
only the hash is ever stored.

`unpinned(pins, current)` says which tools differ from their pins or have none. The
store of pins is the caller's (agent/config/mcp_pins.py); this module is pure.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

from tools.mcp.spec import ServerSpec

TOOL_FIELDS = ("name", "title", "description", "inputSchema", "annotations")


def tool_hash(tool: Any) -> str:
    """SHA-256 of the canonical JSON of an `mcp.types.Tool`'s TOOL_FIELDS. Unset and
    empty ones are left out (no description and "" read the same to the model), so an
    SDK that fills in a default does not change every hash."""
    data = tool.model_dump(by_alias=True, exclude_none=True, mode="json")
    return _sha256({"v": 1, **{k: data[k] for k in TOOL_FIELDS
                               if data.get(k) not in (None, "", {})}})


def definition_hash(spec: ServerSpec) -> str:
    """SHA-256 of how `spec` is reached; its limits and tool filters are not part of it."""
    return _sha256({"v": 1, "command": spec.command, "args": list(spec.args),
                    "env": dict(spec.env), "cwd": spec.cwd, "url": spec.url,
                    "headers": dict(spec.headers)})


def unpinned(pins: Mapping[str, str], current: Mapping[str, str]
             ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(changed, new): the tools of `current` (name -> hash) whose hash is not their pin,
    and those with no pin at all, each sorted. Tools that are gone are neither."""
    changed = tuple(sorted(n for n, h in current.items() if n in pins and pins[n] != h))
    new = tuple(sorted(n for n in current if n not in pins))
    return changed, new


def _sha256(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
