"""The `git` tool: git on the scratch repo, run host-side with hardened git.

Only a fixed set of subcommands, no global options, and no option that reads or
writes host files outside the workspace (`--output`, `--no-index`, `-F`, ...).
"""
from __future__ import annotations

import shlex
from typing import Union

from pydantic import BaseModel, Field

from tools.base import COMMAND_TIMEOUT, BaseTool, ToolContext, ToolError, ToolResult
from tools.output_cap import cap_output
from tools.workspace.git import commit_identity, host_git

READ_ONLY = {"status", "diff", "log", "show", "blame", "ls-files", "rev-parse", "shortlog",
             "describe"}
ALLOWED = READ_ONLY | {"add", "commit", "branch", "switch", "checkout", "restore", "stash",
                       "rm", "mv", "reset", "tag", "cherry-pick", "revert", "merge", "rebase"}
# Options that name files outside the repo, run programs, or change where git looks.
_REFUSED = ("--output", "--no-index", "-F", "--file", "--template", "-t", "--pathspec-from-file",
            "--exec", "-x", "--upload-pack", "--receive-pack", "--ext-diff", "--textconv",
            "--open-files-in-pager", "-O", "--git-dir", "--work-tree", "-c", "--config-env",
            "--exec-path", "--interactive", "-i", "--edit", "-e", "--patch", "-p")
_PATCH_OK = {"diff", "log", "show"}   # -p means "show patch" there, not interactive


class GitParams(BaseModel):
    args: Union[str, list[str]] = Field(
        description='Arguments after "git", e.g. "status" or ["commit", "-m", "fix parser"].')


class GitTool(BaseTool):
    name = "git"
    description = ("Run git on the workspace's repository: status, diff, log, show, blame, add, "
                   "commit, branch, switch/checkout, restore, stash, rm, mv, reset, tag. "
                   "No network operations. Commits stay in the private copy; the user reviews "
                   "the resulting file changes.")
    params = GitParams

    def is_mutating(self, args: GitParams) -> bool:
        argv = _argv(args.args)
        return not (argv and argv[0] in READ_ONLY)

    def run(self, args: GitParams, ctx: ToolContext) -> ToolResult:
        argv = _argv(args.args)
        if not argv:
            raise ToolError("give a git subcommand, e.g. \"status\"")
        sub = argv[0]
        if sub not in ALLOWED:
            raise ToolError(f"git {sub} is not available; allowed: {', '.join(sorted(ALLOWED))}")
        for a in argv[1:]:
            if a == "--":
                break
            name = a.split("=", 1)[0]
            if name in _REFUSED and not (name == "-p" and sub in _PATCH_OK):
                raise ToolError(f"git option {name} is not allowed here")
            if name.startswith("-") and not name.startswith("--") and len(name) > 2 \
                    and ("F" in name[1:] or "O" in name[1:]) and sub in {"commit", "grep", "tag"}:
                raise ToolError(f"git option {name} is not allowed here")
        if not (ctx.root / ".git").exists():
            raise ToolError("this workspace is not a git repository (the user's folder has no .git)")
        if sub in {"diff", "log", "show"}:
            argv = [sub, "--no-ext-diff", "--no-textconv", "--no-color"] + argv[1:]
        if sub == "commit":
            argv = [sub, "--no-verify"] + argv[1:]
        g = host_git(ctx.root)
        code, out, err = g.execute([g.GIT_PYTHON_GIT_EXECUTABLE, *argv], env=commit_identity(g),
                                   with_extended_output=True, with_exceptions=False,
                                   stdout_as_string=False, kill_after_timeout=COMMAND_TIMEOUT)
        # GitPython keeps undecodable stderr bytes as surrogates; the model gets U+FFFD.
        err = err.encode("utf-8", "surrogateescape")
        text = "\n".join(part.decode("utf-8", "replace").rstrip() for part in (out, err)
                          if part.strip())
        output, _ = cap_output(text or "(no output)")
        if code != 0:
            raise ToolError(f"git {sub} failed (exit {code}):\n{output}")
        return ToolResult(output=output, summary=f"git {sub}", data={"argv": argv})


def _argv(args: Union[str, list[str]]) -> list[str]:
    if isinstance(args, list):
        argv = [str(a) for a in args]
    else:
        try:
            argv = shlex.split(args)
        except ValueError as e:
            raise ToolError(f"could not split git arguments: {e}") from None
    if any("\0" in a for a in argv):   # no OS call takes one; the file tools refuse them too
        raise ToolError("git arguments cannot contain a NUL byte (\\0); send them again without it")
    if argv and argv[0] == "git":
        argv = argv[1:]
    return argv
