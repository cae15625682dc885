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

from agent.core.errors import BadInput
from agent.session.options import RunRequest, SessionOptions
from agent.session.result import RunResult

if TYPE_CHECKING:
    from tools.workspace.changeset import ChangeSet

# Files that configure ama itself (permissions, hooks, tool commands) or CI (which
# runs with the repository's secrets): a change to them would widen what the next
# run may do, so an untrusted run may not propose one.
PROTECTED = (".ama/*", ".github/workflows/*", ".github/actions/*", ".gitlab-ci.yml",
             ".gitlab/*", ".git/*", ".gitmodules")
APPLY_MODES = "patch or branch:NAME"
_WRITE_TOOLS = ("write_file", "edit_file")


def harden(options: SessionOptions, request: RunRequest) -> tuple[SessionOptions, RunRequest]:
    """Check an untrusted run's options; return them with the task wrapped and the deny
    rules added. Raises BadInput (exit 2) for anything it may not have."""
    from prompts import render

    if options.network:
        raise BadInput("--network cannot be used with --untrusted: an untrusted task never "
                       "gets network access")
    if options.permission_mode == "bypass":
        raise BadInput("--permission-mode bypass cannot be used with --untrusted")
    if (options.sandbox or os.environ.get("AMA_SANDBOX")) == "local":
        raise BadInput("--untrusted needs an isolating sandbox (docker or bwrap); the local "
                       "sandbox runs commands on this machine")
    if not (request.apply == "patch" or request.apply.startswith("branch:")):
        raise BadInput(f"--apply {request.apply} cannot be used with --untrusted: an untrusted "
                       f"run only proposes a change set (--apply {APPLY_MODES})")
    # The repository's own files (.ama/config.toml, AGENTS.md, hooks) may come from the
    # same author as the task: a trusted repo's config was read already, so refuse.
    if options.trusted and _steering_files(options.cwd):
        raise BadInput("--untrusted cannot run on a repository you trust (--trust, or trusted "
                       "before in this AMA_HOME): its own config would apply; use a fresh "
                       "AMA_HOME, as CI does")
    rules = tuple(f"{tool}({pattern})" for tool in _WRITE_TOOLS
                  for path in PROTECTED for pattern in (path, f"*/{path}"))
    # apply_patch is matched against the patch text: any mention of such a path.
    rules += tuple(f"apply_patch(*{path}*)" for path in PROTECTED)
    return (dataclasses.replace(options, deny=(*options.deny, *rules), network=False),
            dataclasses.replace(request, task=render("untrusted_task.md", task=request.task.strip())))


def _steering_files(cwd) -> dict:
    """The repo's files that steer ama (config, AGENTS.md, ...), as agent/config/trust.py sees them."""
    from agent.config.trust import project_root, trust_files
    return trust_files(project_root(cwd), cwd)


def protected_paths(cs: "ChangeSet") -> list[str]:
    """The paths of a change set that an untrusted run may not change."""
    paths = {p for f in cs.files for p in (f.path, f.old_path) if p}
    return sorted(p for p in paths if any(fnmatch.fnmatchcase(p, pat) for pat in PROTECTED))


def gate(result: RunResult) -> RunResult:
    """An untrusted run's record given its change set: a change to a protected path
    blocks it (exit 4, nothing applied), recorded among its denials. The same record
    when nothing protected changed."""
    bad = protected_paths(result.change_set) if result.change_set is not None else []
    if not bad:
        return result
    reason = (f"an untrusted run may not change {', '.join(bad)} (they configure ama or CI); "
              f"nothing was applied")
    denial = {"tool_name": "change_set", "tool_use_id": None, "tool_input": {"paths": bad},
              "reason": reason}
    return dataclasses.replace(result, subtype="error_permission_denied", result=reason,
                               error=None, denials=(*result.denials, denial))
