"""The interactive review: summary, then per file and per hunk a coloured diff and a
choice. Used at the end of a REPL turn, by /review, and by `ama review`.

`ask(prompt) -> str` reads one answer (the REPL passes a prompt-toolkit prompt; tests
pass the same over a pipe). Ctrl-C / Ctrl-D while asked stop the review; what is not
decided stays pending.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from rich.console import Console
from rich.text import Text

from agent.ui.diff import render_file_header, render_hunk, render_summary
from tools.workspace.hunks import compute_hunks, edit_hunk, split_hunk
from tools.workspace.review import FileItem, take_applied_by_hand

HUNK_HELP = """\
y - accept this hunk           n - reject this hunk
e - edit this hunk in $EDITOR  s - split this hunk into smaller ones
a - accept the rest of this file
d - reject the rest of this file
A - accept everything left     f - reject with feedback for the model
q - stop; what is left stays pending (/review, `ama review`)"""


@dataclass
class ReviewResult:
    feedback: list[dict] = field(default_factory=list)   # {path, hunk, text}
    stopped: bool = False


def _preview_added(cs_blob: Callable[[str], bytes], item: FileItem, console: Console) -> None:
    """Show a new text file's first lines as an all-'+' hunk."""
    c = item.change
    if c.binary or not c.new_blob or c.new_mode == "120000":
        return
    data = cs_blob(c.new_blob)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    lines = text.splitlines(keepends=True)
    shown = "".join(lines[:40])
    for h in compute_hunks("", shown):
        console.print(render_hunk(h))
    if len(lines) > 40:
        console.print(Text(f"… {len(lines) - 40} more lines", style="dim"))


def run_review(items: list[FileItem], console: Console, ask: Callable[[str], str], *,
               blob: Callable[[str], bytes], allow_feedback: bool = True,
               editor: str | None = None) -> ReviewResult:
    """Fill in `item.decisions` for each item by asking; returns feedback and whether
    the user stopped early."""
    result = ReviewResult()
    console.print(render_summary(items))
    accept_all = False
    choices = "y,n,e,s,a,d,A" + (",f" if allow_feedback else "") + ",q,?"
    for item in items:
        console.print()
        console.print(render_file_header(item))
        i = -1
        while i + 1 < len(item.decisions):  # a split adds hunks as it goes
            i += 1
            if item.decisions[i] is not None:
                continue
            if accept_all:
                item.decisions[i] = "accept"
                continue
            if item.whole_file:
                if item.change.status == "added":
                    _preview_added(blob, item, console)
                label = f"{item.path}: {item.describe()}"
            else:
                console.print(render_hunk(item.hunks[i], f"hunk {i + 1}/{len(item.hunks)}"))
                label = f"hunk {i + 1}/{len(item.hunks)} of {item.path}"
            while True:
                try:
                    answer = ask(f"{label} — accept? [{choices}] ").strip()
                except (EOFError, KeyboardInterrupt):
                    answer = "q"
                if answer in ("y", "yes"):
                    item.decisions[i] = "accept"
                elif answer in ("n", "no"):
                    item.decisions[i] = "reject"
                elif answer == "a":
                    item.decisions[i:] = ["accept"] * (len(item.decisions) - i)
                elif answer == "d":
                    item.decisions[i:] = ["reject"] * (len(item.decisions) - i)
                elif answer == "A":
                    accept_all = True
                    item.decisions[i:] = ["accept"] * (len(item.decisions) - i)
                elif answer == "s" and not item.whole_file:
                    parts = split_hunk(item.hunks[i])
                    if len(parts) == 1:
                        console.print(Text("this hunk has one run of changes: it cannot be split", style="dim"))
                        continue
                    item.hunks[i:i + 1] = parts
                    item.decisions[i:i + 1] = [None] * len(parts)
                    console.print(Text(f"split into {len(parts)} hunks", style="dim"))
                    i -= 1  # ask again, from the first part
                elif answer == "e" and not item.whole_file:
                    try:
                        edited = edit_hunk(item.hunks[i], editor)
                    except (ValueError, OSError) as e:
                        console.print(Text(f"edit not used: {e}", style="yellow"))
                        continue
                    except Exception as e:  # the editor failed to start or exited non-zero
                        console.print(Text(f"the editor failed: {e}", style="yellow"))
                        continue
                    if edited is None:
                        console.print(Text("empty edit: hunk left undecided", style="dim"))
                        break
                    item.hunks[i] = edited
                    console.print(render_hunk(edited, "edited"))
                    item.decisions[i] = "accept"
                elif answer == "f" and allow_feedback:
                    try:
                        text = ask("feedback for the model: ").strip()
                    except (EOFError, KeyboardInterrupt):
                        continue
                    item.decisions[i] = "reject"
                    if text:
                        result.feedback.append({"path": item.path, "text": text,
                                                "hunk": "" if item.whole_file else
                                                item.hunks[i].header})
                elif answer == "q":
                    result.stopped = True
                    return result
                else:
                    console.print(Text(HUNK_HELP, style="dim"))
                    continue
                break
    return result


def settle_applied_by_hand(items: list[FileItem], user_root, console: Console) -> list[FileItem]:
    """Accept, without asking, the files the user's copy already holds as the change set
    leaves them (a patch applied by hand); say so; return the items still to review."""
    done, rest = take_applied_by_hand(items, user_root)
    for item in done:
        console.print(Text(f"✓ {item.path}: already so in your copy (applied by hand); recorded", style="dim"))
    return rest


def print_report(rep, console: Console) -> None:
    """One or two lines: what was applied, reverted, left pending, and any conflicts."""
    parts = []
    if rep.accepted_hunks:
        parts.append(f"applied {rep.accepted_hunks} change{'s' if rep.accepted_hunks != 1 else ''} "
                     f"to {len(rep.applied)} file{'s' if len(rep.applied) != 1 else ''}")
    if rep.rejected_hunks:
        parts.append(f"rejected {rep.rejected_hunks} (reverted in the scratch copy)")
    if rep.pending_hunks:
        parts.append(f"{rep.pending_hunks} left pending (/review)")
    if parts:
        console.print(Text("✓ " + "; ".join(parts), style="green"))
    for path, why in rep.conflicts.items():
        console.print(Text(f"✗ {path} not applied: {why}. Your file and the scratch copy are "
                           f"both left as they are; the change stays pending.", style="yellow"))


def review_change_set(ws, cs, console: Console, ask: Callable[[str], str], *, auto: bool = False,
                      allow_feedback: bool = True, editor: str | None = None):
    """The whole review of a change set, for the REPL and `ama review`: files already
    applied by hand are recorded, the rest accepted (`auto`) or asked about hunk by hunk,
    then what was decided is applied to the user's tree and reported. Returns
    (ReviewReport, ReviewResult or None when nothing was asked)."""
    from tools.workspace.review import apply_review, decide_all, split_change_set
    items = split_change_set(cs)
    to_review = settle_applied_by_hand(items, ws.user_root, console)
    result = None
    if auto:
        decide_all(to_review, "accept")
    elif to_review:
        result = run_review(to_review, console, ask, blob=cs.blob, allow_feedback=allow_feedback,
                            editor=editor)
    report = apply_review(ws, cs, items)
    print_report(report, console)
    return report, result
