"""Resolve a path the model gave us to a host path inside the workspace, or refuse.

Every file tool goes through `resolve`. It refuses NUL bytes, absolute paths outside
the workspace, `..` that climbs out, and any symlink (at any component) whose
target lies outside the workspace. The check is done on the real, fully resolved
path, so a sibling directory sharing the workspace's prefix (`/ws-evil` next to
`/ws`) is outside too.
"""
from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from tools.base import ToolError

SANDBOX_ROOT = "/workspace"


def resolve(root: Path, path: str, *, must_exist: bool = False) -> Path:
    """Map `path` (relative to the workspace, or absolute under it) to a host path.

    Args:
        root: host path of the workspace (the scratch copy).
        path: what the model wrote; `/workspace/...` is accepted as the sandbox's view.
        must_exist: raise a ToolError if nothing is there.
    Returns:
        An absolute host path inside `root`. Symlinks inside the workspace that point
        inside it are allowed; the returned path is the one to open.
    """
    if not isinstance(path, str) or path.strip() == "":
        raise ToolError("path is empty; give a path relative to the workspace root")
    if "\x00" in path:
        raise ToolError("path contains a NUL byte; refused")
    root = Path(os.path.realpath(root))
    p = PurePosixPath(path)
    if p.is_absolute():
        for prefix in (PurePosixPath(SANDBOX_ROOT), PurePosixPath(str(root))):
            try:
                p = p.relative_to(prefix)
                break
            except ValueError:
                continue
        else:
            raise ToolError(f"{path}: absolute path outside the workspace; refused "
                            f"(paths are relative to the workspace root)")
    candidate = root.joinpath(*p.parts) if p.parts else root
    real = Path(os.path.realpath(candidate))
    if real != root and root not in real.parents:
        raise ToolError(f"{path}: resolves outside the workspace; refused")
    if must_exist and not os.path.lexists(candidate):
        raise ToolError(f"{path}: no such file or directory")
    return real


def relpath(root: Path, host_path: Path) -> str:
    """The workspace-relative POSIX path of a host path inside the workspace."""
    rel = Path(os.path.realpath(host_path)).relative_to(os.path.realpath(root))
    return rel.as_posix() or "."
