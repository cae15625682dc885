"""A hook run on one line: `⚑ PreToolUse hook `check.sh`: blocked — no rm`, for the
REPL (rich) and the headless progress lines (plain text)."""
from __future__ import annotations

from rich.text import Text

from agent.core import events as ev

_WORDS = {"ok": "ok", "blocked": "blocked", "failed": "failed", "timed_out": "timed out"}


def hook_line(e: ev.HookRan) -> str:
    """`PreToolUse hook `cmd`: blocked (deny) — reason` as plain text."""
    command = " ".join(e.command.split())
    command = command if len(command) <= 50 else command[:50] + "…"
    what = _WORDS.get(e.outcome, e.outcome)
    if e.decision and e.decision != "block":
        what += f" ({e.decision})"
    if e.updated_input is not None:
        what += ", input rewritten"
    first = (e.message.strip().splitlines() or [""])[0][:160]
    return f"{e.event} hook `{command}`: {what}" + (f" — {first}" if first else "")


def render_hook(e: ev.HookRan) -> Text:
    """The REPL's line: dim when the hook just went on, yellow when it stopped or failed."""
    quiet = e.outcome == "ok" and e.decision in ("", "allow")
    return Text(f"  ⚑ {hook_line(e)}", style="dim" if quiet else "yellow")
