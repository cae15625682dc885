"""Hooks: the user's commands, run on agent events with Claude Code's contract.

    [[hooks.PreToolUse]]
    matcher = "shell|edit_file"    # a regex (or glob) over tool names; "" or "*": all
    command = '"$AMA_PROJECT_DIR"/.ama/hooks/check.sh'
    timeout = 30                   # seconds (default 60)
    on_failure = "warn"            # or "block": a crash, a timeout or bad output refuses

Each matching hook of an event runs in the order given (agent/core/hook_process.py),
with the event's JSON on stdin. Exit 0 goes on (stdout may hold a JSON decision);
exit 2 blocks, its stderr the reason; anything else is a failure: a warning, or a block
when the hook says `on_failure = "block"`. `HookRunner.run` folds what one event's
hooks said into a `Verdict` and emits a `HookRan` event per hook; what a verdict does
is the caller's — the loop's for tool calls, prompts and Stop (agent/core/loop.py), the
session's for SessionStart, SessionEnd and a manual PreCompact.
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping

from agent.core import events as ev
from agent.core.errors import AmaError, Interrupted
from agent.core.hook_process import Finished, run_hook
from tools import json_safe
from tools.sandbox.base import DEFAULT_PATH, ENV_ALLOWLIST

EVENTS = ("SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop",
          "SubagentStop", "PreCompact", "SessionEnd")
ON_FAILURE = ("warn", "block")
HOST_ENV = (*ENV_ALLOWLIST, "HOME", "USER")   # all a hook gets of ama's own environment
# ama's permission modes as Claude Code names them in `permission_mode`
_MODE_NAMES = {"default": "default", "plan": "plan", "bypass": "bypassPermissions"}
_DECISIONS = {"allow": "allow", "deny": "deny", "ask": "ask", "approve": "allow", "block": "deny"}
_SHOWN = 2_000           # characters of a reason or stderr kept in a HookRan event


class HookBlocked(AmaError):
    """A UserPromptSubmit hook refused the prompt."""
    exit_code = 4
    subtype = "error_permission_denied"


@dataclass(frozen=True)
class HookSpec:
    """One configured hook. `matcher` is tested against the tool name (PreToolUse,
    PostToolUse), the `source` (SessionStart), the `trigger` (PreCompact) or the
    `reason` (SessionEnd); other events ignore it. ValueError for a bad field."""
    event: str
    command: str
    matcher: str = ""
    timeout: float = 60.0
    on_failure: str = "warn"

    def __post_init__(self) -> None:
        if self.event not in EVENTS:
            raise ValueError(f"no hook event {self.event!r}; events: {', '.join(EVENTS)}")
        if not self.command.strip():
            raise ValueError("a hook needs a command")
        if self.on_failure not in ON_FAILURE:
            raise ValueError(f"on_failure {self.on_failure!r}: choose warn or block")
        if not self.timeout > 0:
            raise ValueError(f"timeout {self.timeout!r}: must be greater than 0")
        try:
            re.compile(self.matcher)
        except re.error as e:
            if not any(c in self.matcher for c in "*?["):   # not a glob either
                raise ValueError(f"matcher {self.matcher!r} is not a regex: {e}") from None

    def matches(self, target: str | None) -> bool:
        if self.matcher in ("", "*") or target is None:
            return True
        try:
            if re.fullmatch(self.matcher, target):
                return True
        except re.error:
            pass
        return fnmatch.fnmatchcase(target, self.matcher)


@dataclass
class Said:
    """What one hook's run said. outcome: ok | blocked | failed | timed_out; message:
    the reason, or what went wrong; decision: PreToolUse's permission decision."""
    outcome: str = "ok"
    message: str = ""
    blocks: bool = False
    decision: str | None = None
    updated_input: dict[str, Any] | None = None
    context: tuple[str, ...] = ()


@dataclass
class Verdict:
    """What the hooks of one event said, together.

    blocked:       one blocked (exit 2, `decision: block`, `permissionDecision: deny`,
                   or a failure of an `on_failure = "block"` hook); the later ones did not run.
    reason:        why (for the model), when blocked or asking.
    decision:      PreToolUse's permission decision: "allow" | "ask" | "deny" | None.
    updated_input: PreToolUse's rewritten tool input (the last hook's), or None.
    context:       additional context for the model, in order.
    """
    blocked: bool = False
    reason: str = ""
    decision: str | None = None
    updated_input: dict[str, Any] | None = None
    context: list[str] = field(default_factory=list)

    def add(self, said: Said) -> None:
        self.context += said.context
        if said.updated_input is not None:
            self.updated_input = said.updated_input
        rank = (None, "allow", "ask", "deny")   # the strictest decision stands
        if rank.index(said.decision) > rank.index(self.decision):
            self.decision, self.reason = said.decision, said.message
        if said.blocks or said.decision == "deny":
            self.blocked, self.reason = True, said.message


@dataclass(frozen=True)
class HookRunner:
    """The hooks of one session, and what every hook of it is told.

    hooks:           every configured hook, in order (user config first).
    session_id, transcript_path: the session and its log (`transcript_path`).
    project_dir:     the user's repository: AMA_PROJECT_DIR and CLAUDE_PROJECT_DIR, where
                     hook scripts live (the model never writes there).
    cwd:             the scratch workspace the tools work on: the hooks' working
                     directory and `cwd`, so a hook sees the files as the tools left them.
    max_stop_returns: how often Stop hooks may send the model back in one run.
    """
    hooks: tuple[HookSpec, ...]
    session_id: str
    transcript_path: str
    project_dir: str
    cwd: str
    max_stop_returns: int = 3

    def run(self, event: str, fields: Mapping[str, Any], *, emit: ev.EventSink,
            mode: str = "default", target: str | None = None,
            cancel: threading.Event | None = None, call_id: str = "") -> Verdict:
        """Run `event`'s hooks that match `target`; `fields` are the event's own keys of
        the stdin JSON. A later PreToolUse hook sees an earlier one's rewritten input."""
        verdict = Verdict()
        for spec in (h for h in self.hooks if h.event == event and h.matches(target)):
            payload = {"session_id": self.session_id, "transcript_path": self.transcript_path,
                       "cwd": self.cwd, "hook_event_name": event,
                       "permission_mode": _MODE_NAMES.get(mode, mode), **fields}
            if verdict.updated_input is not None:
                payload["tool_input"] = verdict.updated_input
            done = run_hook(spec.command, json.dumps(payload, ensure_ascii=False, default=str),
                            env=self._env(), cwd=self.cwd, timeout=spec.timeout, cancel=cancel)
            if done.cancelled:
                raise Interrupted("interrupted by the user")
            said = _read(event, spec, done)
            verdict.add(said)
            emit(ev.HookRan(event, spec.command, said.outcome, done.exit_code,
                            round(done.duration, 3),
                            said.decision or ("block" if said.blocks else ""),
                            said.message[:_SHOWN], call_id, said.updated_input))
            if verdict.blocked:
                break
        return verdict

    def _env(self) -> dict[str, str]:
        env = {k: os.environ[k] for k in HOST_ENV if k in os.environ}
        env.setdefault("PATH", DEFAULT_PATH)
        env.update(AMA_PROJECT_DIR=self.project_dir, CLAUDE_PROJECT_DIR=self.project_dir,
                   AMA_WORKSPACE_DIR=self.cwd, AMA_SESSION_ID=self.session_id)
        return env


def _read(event: str, spec: HookSpec, done: Finished) -> Said:
    """What one hook's run said, by Claude Code's rules."""
    who = f"{event} hook `{_short(spec.command)}`"
    if done.error or done.timed_out or done.exit_code not in (0, 2):
        why = (done.error or (f"timed out after {spec.timeout:g}s" if done.timed_out else
                              f"exit code {done.exit_code}"))
        stderr = _short(done.stderr, 500)
        return _failed(spec, f"{who} failed: {why}" + (f": {stderr}" if stderr else ""),
                       "timed_out" if done.timed_out else "failed")
    if done.exit_code == 2:
        return Said("blocked", done.stderr.strip() or f"blocked by {who}", blocks=True)
    text = done.stdout.strip()
    if not text.startswith("{"):   # plain text: context where Claude Code makes it so
        plain = event in ("UserPromptSubmit", "SessionStart") and bool(text)
        return Said(context=(text,) if plain else ())
    try:
        answer = json_safe.loads(text)
        if not isinstance(answer, dict):
            raise ValueError("not a JSON object")
        return _decide(event, answer)
    except ValueError as e:   # JSONTextError included
        return _failed(spec, f"{who} wrote output ama cannot read ({e}): {_short(text, 200)}",
                       "failed")


def _decide(event: str, answer: dict[str, Any]) -> Said:
    """A JSON answer (Claude Code's fields); ValueError when malformed."""
    specific = answer.get("hookSpecificOutput") or {}
    if not isinstance(specific, dict):
        raise ValueError("hookSpecificOutput is not an object")
    extra = specific.get("additionalContext")
    context = (extra.strip(),) if isinstance(extra, str) and extra.strip() else ()
    reason = str(specific.get("permissionDecisionReason") or answer.get("reason") or "")
    note = str(answer.get("systemMessage") or "")
    if event == "PreToolUse":
        raw = specific.get("permissionDecision", answer.get("decision"))
        if raw is not None and raw not in _DECISIONS:
            raise ValueError(f"permissionDecision {raw!r} is not allow, deny or ask")
        updated = specific.get("updatedInput")
        if updated is not None and not isinstance(updated, dict):
            raise ValueError("updatedInput is not an object")
        decision = _DECISIONS.get(raw) if raw is not None else None
        return Said("blocked" if decision == "deny" else "ok", reason or note,
                    decision=decision, updated_input=updated, context=context)
    if answer.get("decision") == "block":
        return Said("blocked", reason or f"blocked by a {event} hook", blocks=True,
                    context=context)
    return Said("ok", note, context=context)


def _failed(spec: HookSpec, message: str, outcome: str) -> Said:
    """A hook that failed: a warning, or a block with `on_failure = "block"`."""
    return Said(outcome, message, blocks=spec.on_failure == "block")


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
