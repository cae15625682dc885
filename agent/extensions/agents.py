"""Agent definitions: Markdown files that define a subagent the `task` tool can start.

    .ama/agents/reviewer.md
    ---
    description: Reviews a diff for bugs and missing tests; read-only
    tools: read_file, grep, list_files, git
    model: anthropic:claude-haiku-4-5
    ---
    You review changes. Read the diff with `git diff`, then ...

`description` tells the model when to use it (listed in the `task` tool's description);
`tools` names the tools it gets (a YAML list or a comma string; ama's names or Claude
Code's, `Read`, `Grep`, `Bash`; omitted: the session's tools but `task`); `model` is
PROVIDER:MODEL (omitted or `inherit`: the session's); the body is its system prompt.
The name is the file's. Found in the places of agent/extensions/places.py. Here files are
only read; whether their tools and model exist is checked where the session's tools are
known (agent/session/subagent.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from agent.extensions.commands import CLAUDE_TOOLS
from agent.extensions.frontmatter import list_field, split, text_field
from agent.extensions.places import read_named
MAX_DESCRIPTION = 1024
BUILTIN = "explore"          # the built-in read-only agent: its name is taken


@dataclass(frozen=True)
class AgentDefinition:
    """name: the file's stem. tools: tool names in ama's form (None: the session's tools
    but `task`). model: PROVIDER:MODEL (None: the session's). prompt: the body. scope:
    "project" | "user"."""
    name: str
    description: str
    tools: tuple[str, ...] | None
    model: str | None
    prompt: str
    path: Path
    scope: str


def find_agents(user_root: Path | None, trusted: bool, env: Mapping[str, str] | None = None
                ) -> tuple[list[AgentDefinition], list[str]]:
    """(definitions, warnings). The first place that defines a name wins; a file that
    cannot be used is a warning naming it, never an error."""
    found, warnings = read_named("agents", "an agent", user_root, trusted, _read,
                                 {BUILTIN: f"{BUILTIN} is the built-in agent"}, env)
    return list(found.values()), warnings


def _read(path: Path, name: str, scope: str) -> AgentDefinition:
    fields, body = split(path.read_text(encoding="utf-8"))
    description = text_field(fields, "description")
    if not description:
        raise ValueError("no `description` in its front matter; the model would not know "
                         "when to use it")
    if not body.strip():
        raise ValueError("its body (the agent's instructions) is empty")
    model = text_field(fields, "model")
    tools = tuple(CLAUDE_TOOLS.get(t, t) for t in list_field(fields, "tools")) \
        if "tools" in fields else None
    return AgentDefinition(name=name, description=" ".join(description.split())[:MAX_DESCRIPTION],
                           tools=tuple(dict.fromkeys(tools)) if tools is not None else None,
                           model=None if model in ("", "inherit") else model,
                           prompt=body.strip(), path=path, scope=scope)
