"""`--untrusted`: task text from an issue or a PR comment, which anyone may have written.

Such a run can only propose a change set. Before it starts, `harden` refuses every
flag that would widen what it may do (`--network`, `--permission-mode bypass`, the
unisolated `local` sandbox, `--apply tree|commit`, a repository whose own config
is trusted), wraps the task in `prompts/untrusted_task.md` and adds deny rules for
the files that grant permissions or run code in later runs. After it ends, `gate` refuses a change set that touches
those files however it was made (an edit tool, a shell command, git), so it can
never be applied or pushed.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import os
from typing import TYPE_CHECKING

from agent.errors import BadInput
from agent.loop import Outcome

if TYPE_CHECKING:
    from agent.headless import RunOptions
    from tools.workspace.changeset import ChangeSet

# Files that configure ama itself (permissions, hooks, tool commands) or CI (which
# runs with the repository's secrets): a change to them would widen what the next
# run may do, so an untrusted run may not propose one.
PROTECTED = (".ama/*", ".github/workflows/*", ".github/actions/*", ".gitlab-ci.yml",
             ".gitlab/*", ".git/*", ".gitmodules")
APPLY_MODES = "patch or branch:NAME"
_WRITE_TOOLS = ("write_file", "edit_file")


def harden(opts: "RunOptions") -> "RunOptions":
    """Check an untrusted run's flags and return its options with the task wrapped and
    the deny rules added. Raises BadInput (exit 2) for a flag it may not have."""
    from prompts import render

    if opts.network:
        raise BadInput("--network cannot be used with --untrusted: an untrusted task never "
                       "gets network access")
    if opts.permission_mode == "bypass":
        raise BadInput("--permission-mode bypass cannot be used with --untrusted")
    if (opts.sandbox or os.environ.get("AMA_SANDBOX")) == "local":
        raise BadInput("--untrusted needs an isolating sandbox (docker or bwrap); the local "
                       "sandbox runs commands on this machine")
    if not (opts.apply == "patch" or opts.apply.startswith("branch:")):
        raise BadInput(f"--apply {opts.apply} cannot be used with --untrusted: an untrusted "
                       f"run only proposes a change set (--apply {APPLY_MODES})")
    # The repository's own files (.ama/config.toml, AGENTS.md, hooks) may come from the
    # same author as the task: a trusted repo's config was read already, so refuse.
    if getattr(opts, "trusted", False) and _steering_files(opts.cwd):
        raise BadInput("--untrusted cannot run on a repository you trust (--trust, or trusted "
                       "before in this AMA_HOME): its own config would apply; use a fresh "
                       "AMA_HOME, as CI does")
    rules = tuple(f"{tool}({pattern})" for tool in _WRITE_TOOLS
                  for path in PROTECTED for pattern in (path, f"*/{path}"))
    # apply_patch is matched against the patch text: any mention of such a path.
    rules += tuple(f"apply_patch(*{path}*)" for path in PROTECTED)
    return dataclasses.replace(opts, task=render("untrusted_task.md", task=opts.task.strip()),
                               disallowed_tools=(*opts.disallowed_tools, *rules), network=False)


def _steering_files(cwd) -> dict:
    """The repo's files that steer ama (config, AGENTS.md, ...), as agent/trust.py sees them."""
    from agent.trust import project_root, trust_files
    return trust_files(project_root(cwd), cwd)


def protected_paths(cs: "ChangeSet") -> list[str]:
    """The paths of a change set that an untrusted run may not change."""
    paths = {p for f in cs.files for p in (f.path, f.old_path) if p}
    return sorted(p for p in paths if any(fnmatch.fnmatchcase(p, pat) for pat in PROTECTED))


def gate(outcome: Outcome, cs: "ChangeSet", denials: list[dict]) -> Outcome:
    """The outcome of an untrusted run given its change set: a change to a protected
    path blocks it (exit 4, nothing applied) and is recorded in `denials`."""
    bad = protected_paths(cs)
    if not bad:
        return outcome
    reason = (f"an untrusted run may not change {', '.join(bad)} (they configure ama or CI); "
              f"nothing was applied")
    denials.append({"tool_name": "change_set", "tool_use_id": None,
                    "tool_input": {"paths": bad}, "reason": reason})
    return Outcome("error_permission_denied", reason, outcome.num_turns)
