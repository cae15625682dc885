"""apply_patch: a multi-file patch, applied all or nothing."""
from __future__ import annotations

import stat as stat_mod
from dataclasses import dataclass, replace
from pathlib import Path

from pydantic import BaseModel, Field

from tools.base import BaseTool, ToolContext, ToolError, ToolResult
from tools.files import fsops
from tools.files.patch_apply import Plan, plan_patch
from tools.files.patch_ops import FilePatch
from tools.files.patch_parse import parse_patch
from tools.files.textio import (DEFAULT_FORMAT, TextFormat, binary_kind, decode, encode,
                                line_stats, plus_minus, to_lf, to_newline)
from tools.paths import relpath, resolve


class ApplyPatchParams(BaseModel):
    patch: str = Field(description="A unified diff, or a '*** Begin Patch' envelope.")


class ApplyPatch(BaseTool):
    name = "apply_patch"
    description = (
        "Apply a patch that may add, delete, move and change several files. Accepts a "
        "unified diff (--- a/path, +++ b/path, @@ hunks; /dev/null to add or delete) or "
        "the envelope: '*** Begin Patch', then '*** Add File: p' (lines prefixed +), "
        "'*** Delete File: p', or '*** Update File: p' [+ '*** Move to: q'] with hunks "
        "of ' ' context, '-' and '+' lines, each hunk opened by '@@' (optionally '@@ a "
        "line to anchor on'), then '*** End Patch'. Give ~3 lines of context around each "
        "change. All or nothing: if any hunk fails, no file is changed. Unlike Codex, a "
        "patch never overwrites an existing file by adding it or moving onto it: to "
        "replace a file, delete it earlier in the same patch."
    )
    params = ApplyPatchParams
    mutating = True

    def run(self, args: ApplyPatchParams, ctx: ToolContext) -> ToolResult:
        try:
            patches = [_canonical(ctx.root, fp) for fp in parse_patch(args.patch)]
            before = _read_all(ctx.root, patches)
            plan = plan_patch(patches, {p: (f.text if f else None) for p, f in before.items()})
            writes = _encode_all(plan, before)
        except ToolError as e:
            raise ToolError(f"{e.message}\nNo file was changed.") from None
        _commit(ctx.root, writes, before)
        return _report(plan, before)


@dataclass(frozen=True)
class _Existing:
    """A file as it was before the patch: LF text for planning, bytes for rollback."""

    text: str
    fmt: TextFormat
    data: bytes
    mode: int


def _canonical(root: Path, fp: FilePatch) -> FilePatch:
    """The patch with its paths refused or made canonical (workspace-relative)."""
    path = relpath(root, resolve(root, fp.path))
    move_to = relpath(root, resolve(root, fp.move_to)) if fp.move_to else None
    return replace(fp, path=path, move_to=move_to)


def _read_all(root: Path, patches: list[FilePatch]) -> dict[str, _Existing | None]:
    out: dict[str, _Existing | None] = {}
    for fp in patches:
        for rel in filter(None, (fp.path, fp.move_to)):
            if rel in out:
                continue
            host = resolve(root, rel)
            st = fsops.lstat(root, host)
            if st is None:
                out[rel] = None
                continue
            if stat_mod.S_ISDIR(st.st_mode):
                raise ToolError(f"{rel}: is a directory; a patch changes files")
            data = fsops.read_bytes(root, host)
            kind = binary_kind(data)
            if kind is not None:
                raise ToolError(f"{rel}: {kind}; apply_patch only changes text files")
            text, fmt = decode(data)
            out[rel] = _Existing(to_lf(text), fmt, data, stat_mod.S_IMODE(st.st_mode))
    return out


def _encode_all(plan: Plan, before: dict[str, _Existing | None]
                ) -> dict[str, tuple[bytes, int | None] | None]:
    """path -> (bytes, mode to set or None to keep/default), or None to delete."""
    writes: dict[str, tuple[bytes, int | None] | None] = {}
    for path, text in plan.final.items():
        if text is None:
            if before.get(path) is not None:
                writes[path] = None
            continue
        source = before.get(plan.origin.get(path, path))
        fmt = source.fmt if source else DEFAULT_FORMAT
        mode = plan.modes.get(path)
        if mode is None and path in plan.origin and source is not None:
            mode = source.mode
        data = encode(to_newline(text, fmt.newline), fmt, name=path)
        old = before.get(path)
        if old is not None and old.data == data and mode in (None, old.mode):
            continue  # unchanged: leave the file alone
        writes[path] = (data, mode)
    return writes


def _commit(root: Path, writes: dict[str, tuple[bytes, int | None] | None],
            before: dict[str, _Existing | None]) -> None:
    """Write and delete; if the file system fails midway, put back what was done."""
    done: list[str] = []
    try:
        for path, what in sorted(writes.items(), key=lambda kv: kv[1] is None):
            host = resolve(root, path)
            if what is None:
                fsops.remove(root, host)
            else:
                fsops.atomic_write(root, host, what[0], mode=what[1])
            done.append(path)
    except (OSError, ToolError) as e:
        for path in reversed(done):
            old = before.get(path)
            try:
                if old is None:
                    fsops.remove(root, resolve(root, path))
                else:
                    fsops.atomic_write(root, resolve(root, path), old.data, mode=old.mode)
            except (OSError, ToolError):
                pass
        msg = e.message if isinstance(e, ToolError) else f"{type(e).__name__}: {e}"
        raise ToolError(f"apply_patch failed while writing ({msg}); the files it had "
                        f"already changed were restored") from None


def _report(plan: Plan, before: dict[str, _Existing | None]) -> ToolResult:
    rows: list[str] = []
    files: list[dict] = []
    total_add = total_rm = 0
    moved_from = set(plan.origin.values())
    for path, text in plan.final.items():
        old = before.get(plan.origin.get(path, path))
        if text is None:
            if path in moved_from or before.get(path) is None:
                continue
            added, removed, status, label = 0, len(old.text.splitlines()), "D", path
        else:
            added, removed = line_stats(old.text if old else "", text)
            if path in plan.origin:
                status, label = "R", f"{plan.origin[path]} → {path}"
            else:
                status, label = ("M" if before.get(path) is not None else "A"), path
        total_add += added
        total_rm += removed
        rows.append(f"  {status} {label} ({plus_minus(added, removed)})")
        files.append({"path": path, "status": status, "added": added, "removed": removed,
                      "from": plan.origin.get(path)})
    n = len(rows)
    return ToolResult(
        output=f"Applied patch to {n} file{'s' if n != 1 else ''}:\n" + "\n".join(rows),
        summary=f"patched {n} file{'s' if n != 1 else ''} ({plus_minus(total_add, total_rm)})",
        data={"files": files})
