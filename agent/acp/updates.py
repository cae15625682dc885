"""A turn's events as ACP session updates.

    TextDelta / ThinkingDelta      agent_message_chunk / agent_thought_chunk
    ToolCallProposed               tool_call (kind, title, locations, raw input)
    ToolFinished                   tool_call_update: status, the output (a denied call's
                                   says why), and for an edit the diff of each file it
                                   changed (ACP diff content)
    todo_write's result            plan
    Verification{Started,Finished} a tool call of kind execute (`verify: CMD`)
    Notice (warning) / ErrorEvent  agent_thought_chunk / agent_message_chunk

An edit's diff comes from the scratch copy: the files a call names are read when it is
proposed (before it runs) and again when it finishes. Paths shown to the editor are
absolute paths in the user's tree, where the editor has the files open.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from acp import (plan_entry, start_tool_call, text_block, tool_content, tool_diff_content,
                 update_agent_message_text, update_agent_thought_text, update_plan,
                 update_tool_call)
from acp.schema import ToolCallLocation

from agent.core import events as ev
from agent.core.permissions import NETWORK_TOOLS

KINDS = {"read_file": "read", "list_files": "read", "skill": "read",
         "edit_file": "edit", "write_file": "edit", "apply_patch": "edit",
         "shell": "execute", "git": "execute",
         "grep": "search", "find_symbol": "search", "repo_map": "search",
         "todo_write": "think"}
EDIT_TOOLS = ("edit_file", "write_file", "apply_patch")
OUTPUT_LIMIT = 8000    # characters of a tool's output shown in the editor
TITLE_LIMIT = 120
# How a run that ended in error says so in the thread (a cancel says it with its stop reason).
SHOWN_ERRORS = ("error_max_turns", "error_max_cost", "error_max_time",
                "error_verification_failed", "error_permission_denied")


def tool_kind(name: str) -> str:
    """The ACP ToolKind of one of ama's tools: read, edit, execute, search, think,
    fetch (the network tools), other (MCP tools and the rest)."""
    if name in KINDS:
        return KINDS[name]
    if name in NETWORK_TOOLS:
        return "fetch"
    return "other"


def tool_title(name: str, arguments: Mapping[str, Any]) -> str:
    """`shell pytest -q`, `read_file calc.py`, `mcp__github__search`: one line."""
    for key in ("command", "path", "pattern", "args", "query", "url", "name"):
        value = arguments.get(key)
        if value:
            value = " ".join(map(str, value)) if isinstance(value, list) else str(value)
            line = " ".join(value.strip().split("\n")[0].split())
            return f"{name} {line}"[:TITLE_LIMIT]
    return name


class TurnUpdates:
    """An EventSink for one turn: each event as the session updates it makes, handed
    to `send`. `tree`: the scratch copy; `user_root`: the user's tree; `turn`: the
    turn's number in the session (for ids of calls that are not the model's)."""

    def __init__(self, send: Callable[[Any], None], tree: Path, user_root: Path, turn: int = 0):
        self.send, self.tree, self.user_root, self.turn = send, tree, user_root, turn
        self._before: dict[str, dict[str, str | None]] = {}   # call id -> path -> text
        self._verify = ""                                      # the running check's call id

    def __call__(self, e: ev.Event) -> None:
        if isinstance(e, ev.TextDelta):
            self.send(update_agent_message_text(e.text))
        elif isinstance(e, ev.ThinkingDelta):
            self.send(update_agent_thought_text(e.text))
        elif isinstance(e, ev.ToolCallProposed):
            self._proposed(e)
        elif isinstance(e, ev.ToolFinished):
            self._finished(e)
        elif isinstance(e, ev.VerificationStarted):
            self._verify = f"verify-{self.turn}-{e.attempt}"
            self.send(start_tool_call(self._verify, f"verify: {e.command}"[:TITLE_LIMIT],
                                      kind="execute", status="in_progress",
                                      raw_input={"command": e.command}))
        elif isinstance(e, ev.VerificationFinished) and self._verify:
            self.send(update_tool_call(
                self._verify, status="completed" if e.passed else "failed",
                content=[tool_content(text_block(_capped(e.output_tail) or
                                                 f"exit code {e.exit_code}"))],
                raw_output={"passed": e.passed, "exit_code": e.exit_code}))
        elif isinstance(e, ev.Notice) and e.level == "warning":
            self.send(update_agent_thought_text(f"\n{e.message}\n"))
        elif isinstance(e, ev.ErrorEvent) and e.subtype in SHOWN_ERRORS:
            self.send(update_agent_message_text(f"\n\n{e.message}\n"))

    def _proposed(self, e: ev.ToolCallProposed) -> None:
        paths = [p for p in map(self._canonical, edited_paths(e.name, e.arguments)) if p]
        if paths:
            self._before[e.call_id] = {p: self._read(p) for p in paths}
        self.send(start_tool_call(
            e.call_id, tool_title(e.name, e.arguments), kind=tool_kind(e.name),
            status="in_progress", raw_input=dict(e.arguments),
            locations=[ToolCallLocation(path=str(self.user_root / p)) for p in paths]
            or self._location(e.arguments)))

    def _finished(self, e: ev.ToolFinished) -> None:
        content = [tool_content(text_block(_capped(e.output)))] if e.output else []
        before = self._before.pop(e.call_id, {})
        if e.name in EDIT_TOOLS and not e.is_error:
            content += self._diffs(e.name, e.data, before)
        self.send(update_tool_call(e.call_id, status="failed" if e.is_error else "completed",
                                   content=content, raw_output=dict(e.data) or None))
        if e.name == "todo_write" and not e.is_error:
            self.send(update_plan(plan_entry(str(t.get("content", "")), status=t.get(
                "status", "pending")) for t in e.data.get("todos", ())))

    def _diffs(self, name: str, data: Mapping[str, Any], before: dict[str, str | None]):
        """ACP diff content for each file the call changed: (path, old text, new text)."""
        if name == "apply_patch":
            changed = [(f["path"], f.get("from") or f["path"]) for f in data.get("files", ())]
        else:
            changed = [(data["path"], data["path"])] if data.get("path") else []
        out = []
        for path, origin in changed:
            if origin not in before:   # not named when proposed: no "before" to show
                continue
            old, new = before[origin], self._read(path)
            if old is False or new is False or old == new:   # binary, unreadable, or unchanged
                continue
            out.append(tool_diff_content(str(self.user_root / path), new or "", old))
        return out

    def _canonical(self, rel: str) -> str | None:
        """`rel` as the tools report paths (relative to the workspace root), or None
        when it is no path inside the workspace."""
        from tools.base import ToolError
        from tools.paths import relpath, resolve
        try:
            return relpath(self.tree, resolve(self.tree, rel))
        except (ToolError, OSError, ValueError):
            return None

    def _read(self, rel: str) -> str | None | bool:
        """The scratch copy's text of `rel`: None when there is no such file, False when
        it cannot be shown as text (binary, outside the workspace, unreadable)."""
        from tools.base import ToolError
        from tools.files import fsops
        from tools.paths import resolve
        try:
            path = resolve(self.tree, rel)
            if not path.exists():
                return None
            data = fsops.read_bytes(self.tree, path)
            return False if b"\0" in data[:8000] else data.decode("utf-8")
        except (ToolError, OSError, UnicodeDecodeError, ValueError):
            return False

    def _location(self, arguments: Mapping[str, Any]) -> list[ToolCallLocation] | None:
        path = arguments.get("path")
        if isinstance(path, str) and path and not path.startswith("/"):
            return [ToolCallLocation(path=str(self.user_root / path))]
        return None


def edited_paths(name: str, arguments: Mapping[str, Any]) -> list[str]:
    """The workspace-relative files an edit call will write (for its diff), [] for other
    calls or arguments that do not say."""
    if name in ("edit_file", "write_file"):
        path = arguments.get("path")
        return [path] if isinstance(path, str) and path.strip() else []
    if name == "apply_patch" and isinstance(arguments.get("patch"), str):
        from tools.files.patch_ops import PatchError
        from tools.files.patch_parse import parse_patch
        try:
            patches = parse_patch(arguments["patch"])
        except PatchError:
            return []   # the tool will say what is wrong with it
        return list(dict.fromkeys(p for fp in patches for p in (fp.path, fp.move_to) if p))
    return []


def _capped(text: str) -> str:
    if len(text) <= OUTPUT_LIMIT:
        return text
    return text[:OUTPUT_LIMIT] + f"\n… ({len(text) - OUTPUT_LIMIT} more characters)"
