"""Custom slash commands: Markdown files whose body becomes the user's message.

    .ama/commands/fix-issue.md          /fix-issue 42
    ---
    description: Fix a GitHub issue
    argument-hint: [issue-number]
    allowed-tools: Bash(gh issue view:*), edit_file
    model: anthropic:claude-sonnet-4-5
    ---
    Fix issue #$1. Its text:
    !`gh issue view $1`

`$ARGUMENTS` is everything after the name, `$1`..`$9` its words (shell quoting
honoured); inside `!`…`` they are shell-quoted, so an argument cannot add a command. Each
`!`cmd`` runs in the session's sandbox and is replaced by what it printed; `@path`
mentions attach files as in a typed message. `allowed-tools` are permission rules (in
ama's form, `shell(git add*)`, or Claude Code's, `Bash(git add:*)`) that allow those
calls for the one turn; `model` runs the turn on that model. Found in the places of
agent/extensions/places.py; subfolders only sort them (the name is the file's).
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from agent.extensions.frontmatter import list_field, split, text_field
from agent.extensions.places import read_named
_ARG = re.compile(r"\$(ARGUMENTS|[1-9])")
_PARTS = re.compile(r"!`([^`\n]+)`|\$(ARGUMENTS|[1-9])")   # one pass: output is not re-read
CLAUDE_TOOLS = {"Bash": "shell", "Read": "read_file", "Write": "write_file", "Edit": "edit_file",
                "MultiEdit": "edit_file", "Grep": "grep", "Glob": "list_files", "LS": "list_files",
                "TodoWrite": "todo_write"}


@dataclass(frozen=True)
class CustomCommand:
    name: str
    description: str
    argument_hint: str
    allowed_tools: tuple[str, ...]   # permission rules, in ama's form
    model: str | None
    body: str
    path: Path
    scope: str                       # "project" | "user"


@dataclass(frozen=True)
class Expansion:
    """A command's turn: the message, and what holds for that turn only."""
    text: str
    allow: tuple[str, ...] = ()
    model: str | None = None


def find_commands(user_root: Path | None, trusted: bool, reserved: tuple[str, ...] = (),
                  env: Mapping[str, str] | None = None
                  ) -> tuple[dict[str, CustomCommand], list[str]]:
    """(name -> command, warnings). Built-in names in `reserved` are never shadowed; a file
    that cannot be read is a warning naming it, never an error."""
    return read_named("commands", "a command", user_root, trusted, _read,
                      {n: f"/{n} is a built-in command" for n in reserved}, env)


def _read(path: Path, name: str, scope: str) -> CustomCommand:
    fields, body = split(path.read_text(encoding="utf-8"))
    first = next((line.strip() for line in body.splitlines() if line.strip()), "")
    return CustomCommand(
        name=name, description=text_field(fields, "description") or first[:80],
        argument_hint=text_field(fields, "argument-hint"),
        allowed_tools=tuple(ama_rule(r) for r in list_field(fields, "allowed-tools")),
        model=text_field(fields, "model") or None, body=body.strip(), path=path, scope=scope)


def ama_rule(rule: str) -> str:
    """A Claude Code permission rule in ama's form: `Bash(git add:*)` -> `shell(git add*)`,
    `Read` -> `read_file`; ama's own rules pass through."""
    m = re.match(r"^([A-Za-z_]+)(?:\((.*)\))?$", rule.strip())
    if not m or m.group(1) not in CLAUDE_TOOLS:
        return rule.strip()
    tool, pattern = CLAUDE_TOOLS[m.group(1)], m.group(2)
    if pattern is None:
        return tool
    return f"{tool}({pattern[:-2] + '*' if pattern.endswith(':*') else pattern})"


def parse_invocation(text: str, commands: Mapping[str, CustomCommand]
                     ) -> tuple[CustomCommand, str] | None:
    """(command, its arguments) if `text` is `/name args` naming one of `commands`."""
    if not text.startswith("/"):
        return None
    name, _, args = text[1:].strip().partition(" ")
    name = name.split("\n", 1)[0]
    command = commands.get(name)
    return (command, text.strip()[len(name) + 1:].strip()) if command else None


def expand(command: CustomCommand, args: str, shell: Callable[[str], str]) -> Expansion:
    """The command's turn for `args`; `shell(cmd)` runs one `!`cmd`` (in the sandbox) and
    returns what it printed."""
    try:
        words = shlex.split(args)
    except ValueError:      # an unbalanced quote: plain words then
        words = args.split()

    def value(key: str) -> str:
        return args if key == "ARGUMENTS" else (words[int(key) - 1] if int(key) <= len(words) else "")

    def run(match: re.Match) -> str:
        line = _ARG.sub(lambda m: shlex.quote(value(m.group(1))), match.group(1))
        return shell(line).rstrip("\n")

    text = _PARTS.sub(lambda m: run(m) if m.group(1) else value(m.group(2)), command.body)
    if args and not _ARG.search(command.body):
        text = f"{text}\n\nARGUMENTS: {args}"   # as Claude Code does for a body without $…
    return Expansion(text, command.allowed_tools, command.model)
