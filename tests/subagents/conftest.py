"""Fixtures for the subagent tests: an isolated home (AMA_HOME, XDG_CONFIG_HOME, HOME under
tmp), a git repo, `script:` files, hooks (tests/hooks' scripted hook), agent definitions
written where ama reads them, and helpers to pick a run's events apart."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.hooks.conftest import (ama, events, home, record, records, repo,  # noqa: F401
                                  script, shell, toml_hooks)

# fixtures and helpers of tests/hooks, used here as they are
__all__ = ["ama", "events", "home", "record", "records", "repo", "script", "shell"]

DONE = {"text": "Done."}


def task(description: str, prompt: str, agent: str | None = None, text: str = "delegating") -> dict:
    """A scripted parent turn that calls the `task` tool once."""
    return {"text": text, "tool_calls": [task_call(description, prompt, agent)]}


def task_call(description: str, prompt: str, agent: str | None = None) -> dict:
    args = {"description": description, "prompt": prompt, **({"agent": agent} if agent else {})}
    return {"name": "task", "arguments": args}


def call(name: str, text: str = "", usage: dict | None = None, **arguments) -> dict:
    """A scripted turn that calls tool `name` with `arguments`."""
    return {"text": text or f"calling {name}", "tool_calls": [{"name": name, "arguments": arguments}],
            **({"usage": usage} if usage else {})}


def define_agent(folder: Path, name: str, *, description: str = "finds things",
                 tools: str | None = None, model: str | None = None,
                 body: str = "Find what you are asked to find.") -> Path:
    """Write `folder/NAME.md`, an agent definition."""
    folder.mkdir(parents=True, exist_ok=True)
    front = [f"description: {description}", *([f"tools: {tools}"] if tools is not None else []),
             *([f"model: {model}"] if model is not None else [])]
    path = folder / f"{name}.md"
    path.write_text("---\n" + "\n".join(front) + "\n---\n" + body + "\n")
    return path


@pytest.fixture
def user_agents(home) -> Path:
    """The user's agent folder (~/.config/amanuensis/agents)."""
    return home / "xdg" / "amanuensis" / "agents"


@pytest.fixture
def user_config(home, record):
    """user_config(text="", hooks=()) writes the user config: `text`, then the hooks
    (tests/hooks' (event, behaviour[, fields]) tuples, recording into `record`)."""
    def write(text: str = "", hooks: tuple = ()) -> Path:
        path = home / "xdg" / "amanuensis" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + (toml_hooks(record, *hooks) if hooks else ""))
        return path
    return write


def top_level(lines: list[dict]) -> list[dict]:
    return [e for e in lines if "parent_call_id" not in e]


def nested(lines: list[dict], parent: str) -> list[dict]:
    return [e for e in lines if e.get("parent_call_id") == parent]


def results_of(lines: list[dict], name: str) -> list[dict]:
    return [e for e in lines if e["type"] == "tool_result" and e["name"] == name]
