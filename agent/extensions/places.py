"""Where commands, skills and agent definitions are found, most specific first.

    commands   <repo>/.ama/commands   <repo>/.claude/commands   <config>/commands   ~/.claude/commands
    skills     <repo>/.agents/skills  <repo>/.claude/skills     <config>/skills     ~/.claude/skills
    agents     <repo>/.ama/agents     <repo>/.claude/agents     <config>/agents     ~/.claude/agents

`<config>` is the folder of the user config (`~/.config/amanuensis`). The `.claude`
folders are read as a fallback, as CLAUDE.md is, so files written for Claude Code work.
A repository's folders count only once the user trusts it (their files are in its trust
hash: agent/config/trust.py), and the first place that defines a name wins.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, TypeVar

from agent.extensions.frontmatter import FrontMatterError

from agent.config.trust import EXTENSION_DIRS as REPO_DIRS



@dataclass(frozen=True)
class Place:
    path: Path
    scope: str       # "project" or "user", for /help and messages


def places(kind: str, user_root: Path | None, trusted: bool,
           env: Mapping[str, str] | None = None) -> list[Place]:
    """The folders to read `kind` ("commands", "skills", "agents") from, first wins."""
    from agent.config.load import user_config_path
    env = os.environ if env is None else env
    out: list[Place] = []
    if user_root is not None and trusted:
        out += [Place(Path(user_root) / d, "project") for d in REPO_DIRS[kind]]
    out.append(Place(user_config_path(env).parent / kind, "user"))
    home = env.get("HOME")
    if home:
        out.append(Place(Path(home) / ".claude" / kind, "user"))
    return out


NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")   # a command's or an agent's
MAX_FILE_BYTES = 200_000
T = TypeVar("T")


def read_named(kind: str, what: str, user_root: Path | None, trusted: bool,
               read: Callable[[Path, str, str], T], reserved: Mapping[str, str] = {},
               env: Mapping[str, str] | None = None) -> tuple[dict[str, T], list[str]]:
    """Every `*.md` of `kind`'s places (subfolders only sort them: the name is the
    file's), read with `read(path, name, scope)`; the first place that defines a name
    wins. (name -> what was read, warnings): a bad name, one of `reserved` (name ->
    why), a file too large or that `read` refuses (ValueError, FrontMatterError) is a
    warning naming the file, never an error. `what` names the kind in warnings."""
    found: dict[str, T] = {}
    warnings: list[str] = []
    for place in places(kind, user_root, trusted, env):
        if not place.path.is_dir():
            continue
        for path in sorted(place.path.rglob("*.md")):
            name = path.stem
            if name in found or not path.is_file():
                continue
            if not NAME.match(name):
                warnings.append(f"{path}: not {what} name (letters, digits, . _ : -); not used")
            elif name in reserved:
                warnings.append(f"{path}: {reserved[name]}; rename the file")
            else:
                try:
                    if path.stat().st_size > MAX_FILE_BYTES:
                        raise ValueError(f"larger than {MAX_FILE_BYTES} bytes")
                    found[name] = read(path, name, place.scope)
                except (OSError, UnicodeDecodeError, FrontMatterError, ValueError) as e:
                    warnings.append(f"{path}: not used: {e}")
    return found, warnings
