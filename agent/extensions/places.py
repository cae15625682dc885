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
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

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
