"""Permission rules: `allow` / `ask` / `deny`, each `tool(pattern)` or a bare `tool`.

Evaluated deny first, then ask, then allow; a call no rule names gets the default
for its kind (reads and edits allowed: they land in the scratch copy and go through
review; shell allowed inside a sandbox). A shell pattern must match every part of a
compound command (`a && b; c | d`), so `shell(ls*)` does not allow `ls && curl x`.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

Action = Literal["allow", "ask", "deny"]
_RULE = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*(?:\((.*)\))?\s*$", re.S)
# The argument a pattern is matched against, per tool.
_KEY_ARG = {"shell": "command", "read_file": "path", "write_file": "path", "edit_file": "path",
            "list_files": "path", "grep": "pattern", "git": "args", "apply_patch": "patch"}


@dataclass(frozen=True)
class Rule:
    tool: str
    pattern: str | None = None

    @classmethod
    def parse(cls, text: str) -> "Rule":
        m = _RULE.match(text)
        if not m:
            raise ValueError(f"bad permission rule {text!r}; write TOOL or TOOL(PATTERN), "
                             f"e.g. shell(npm test*)")
        return cls(m.group(1), m.group(2))

    def matches(self, tool: str, args: Mapping[str, Any]) -> bool:
        if not fnmatch.fnmatchcase(tool, self.tool):
            return False
        if self.pattern is None:
            return True
        value = args.get(_KEY_ARG.get(tool, ""), "")
        if isinstance(value, list):
            value = " ".join(map(str, value))
        value = str(value)
        if tool == "shell":
            return all(fnmatch.fnmatchcase(part, self.pattern) for part in split_compound(value))
        return fnmatch.fnmatchcase(value, self.pattern)


def split_compound(command: str) -> list[str]:
    """The simple commands of a compound shell command (split on ; && || | & newlines,
    $( ) and backticks, subshell parentheses). Quoted text is kept whole."""
    parts, buf, quote, i = [], [], None, 0
    while i < len(command):
        ch = command[i]
        if quote:
            buf.append(ch)
            if ch == quote:
                quote = None
            elif ch == "\\" and quote == '"' and i + 1 < len(command):
                buf.append(command[i + 1])
                i += 1
        elif ch in "'\"":
            quote = ch
            buf.append(ch)
        elif ch == "\\" and i + 1 < len(command):
            buf.append(command[i:i + 2])
            i += 1
        elif ch in ";|&\n()`" or command.startswith("$(", i):
            parts.append("".join(buf))
            buf = []
            if command.startswith("$(", i):
                i += 1
        else:
            buf.append(ch)
        i += 1
    parts.append("".join(buf))
    return [p.strip() for p in parts if p.strip()]


@dataclass
class Permissions:
    allow: list[Rule] = field(default_factory=list)
    ask: list[Rule] = field(default_factory=list)
    deny: list[Rule] = field(default_factory=list)
    mode: str = "default"   # default | plan (mutating tools refused) | bypass

    @classmethod
    def from_lists(cls, allow=(), ask=(), deny=(), mode: str = "default") -> "Permissions":
        return cls([Rule.parse(r) for r in allow], [Rule.parse(r) for r in ask],
                   [Rule.parse(r) for r in deny], mode)

    def decide(self, tool: str, args: Mapping[str, Any], mutating: bool) -> tuple[Action, str]:
        """(action, reason) for one call."""
        for rule in self.deny:
            if rule.matches(tool, args):
                return "deny", f"denied by rule {_show(rule)}"
        if self.mode == "plan" and mutating:
            return "deny", "plan mode is read-only"
        for rule in self.ask:
            if rule.matches(tool, args):
                return "ask", f"rule {_show(rule)} asks for approval"
        if self.allow and tool in {r.tool for r in self.allow}:
            # The user listed patterns for this tool: calls outside them are asked.
            if any(r.matches(tool, args) for r in self.allow):
                return "allow", "allowed by rule"
            return "ask", f"no allow rule for {tool} matches"
        return "allow", "default"


def _show(rule: Rule) -> str:
    return rule.tool if rule.pattern is None else f"{rule.tool}({rule.pattern})"
