"""Path escapes, for every file tool: refused, and nothing outside read or written.

Layout: tmp/ws is the workspace; tmp/outside and tmp/ws-evil (a sibling sharing the
workspace's name as a prefix) hold canaries. Inside ws, symlinks point out.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tools.base import ToolContext, ToolError
from tools.files import FILE_TOOLS, fsops
from tools.sandbox.local import LocalSandbox

SECRET = "TOP-SECRET-CANARY"


@pytest.fixture
def world(tmp_path):
    ws = tmp_path / "ws"
    outside = tmp_path / "outside"
    evil = tmp_path / "ws-evil"
    for d in (ws, outside, evil):
        d.mkdir()
    (outside / "secret.txt").write_text(SECRET + "\n")
    (evil / "canary.txt").write_text(SECRET + "\n")
    (ws / "ok.txt").write_text("fine\n")
    os.symlink(outside / "secret.txt", ws / "link_file")
    os.symlink(outside, ws / "link_dir")
    os.symlink("../outside/secret.txt", ws / "rel_link")
    ctx = ToolContext(root=ws, sandbox=LocalSandbox(ws))
    return ctx, tmp_path


def snapshot_outside(tmp: Path) -> dict:
    ws = tmp / "ws"
    out = {}
    for dirpath, dirnames, filenames in os.walk(tmp):
        if Path(dirpath) == ws or ws in Path(dirpath).parents:
            continue
        for name in filenames + dirnames:
            p = Path(dirpath) / name
            out[str(p)] = p.read_bytes() if p.is_file() and not p.is_symlink() else "dir"
    return out


def evil_paths(tmp: Path) -> list[str]:
    return [
        "link_file", "rel_link", "link_dir/secret.txt", "link_dir/new.txt",
        "../outside/secret.txt", "../../etc/passwd", "../ws-evil/canary.txt",
        str(tmp / "outside/secret.txt"), "/etc/passwd", "/workspace/../etc/passwd",
        "/workspace/../../outside/secret.txt", str(tmp / "ws-evil/canary.txt"),
        str(tmp / "ws") + "/../ws-evil/canary.txt", "ok.txt\x00../../etc/passwd",
    ]


def tool(name):
    return next(t for t in FILE_TOOLS if t.name == name)


def call(ctx, name, **args):
    t = tool(name)
    return t.run(t.params(**args), ctx)


def refused(ctx, name, **args) -> str:
    with pytest.raises(ToolError) as e:
        call(ctx, name, **args)
    return e.value.message


def test_read_file_refuses_every_escape(world):
    ctx, tmp = world
    for p in evil_paths(tmp):
        msg = refused(ctx, "read_file", path=p)
        assert SECRET not in msg, p


def test_write_file_refuses_every_escape(world):
    ctx, tmp = world
    before = snapshot_outside(tmp)
    for p in evil_paths(tmp):
        refused(ctx, "write_file", path=p, content="pwned\n")
    assert snapshot_outside(tmp) == before


def test_edit_file_refuses_every_escape(world):
    ctx, tmp = world
    before = snapshot_outside(tmp)
    for p in evil_paths(tmp):
        refused(ctx, "edit_file", path=p, old_string=SECRET, new_string="pwned")
        refused(ctx, "edit_file", path=p, old_string="", new_string="pwned")
    assert snapshot_outside(tmp) == before


def test_apply_patch_refuses_every_escape(world):
    ctx, tmp = world
    before = snapshot_outside(tmp)
    for p in evil_paths(tmp):
        if "\x00" in p:
            continue  # NUL in a patch path: tested below
        envelopes = [
            f"*** Begin Patch\n*** Update File: {p}\n@@\n-{SECRET}\n+pwned\n*** End Patch\n",
            f"*** Begin Patch\n*** Add File: {p}\n+pwned\n*** End Patch\n",
            f"*** Begin Patch\n*** Delete File: {p}\n*** End Patch\n",
            f"*** Begin Patch\n*** Update File: ok.txt\n*** Move to: {p}\n*** End Patch\n",
            f"--- a/{p}\n+++ b/{p}\n@@ -1 +1 @@\n-{SECRET}\n+pwned\n",
            f"--- /dev/null\n+++ {p}\n@@ -0,0 +1 @@\n+pwned\n",
            f"--- {p}\n+++ /dev/null\n@@ -1 +0,0 @@\n-{SECRET}\n",
        ]
        for text in envelopes:
            msg = refused(ctx, "apply_patch", patch=text)
            assert SECRET not in msg.replace(f"-{SECRET}", ""), (p, msg)
    refused(ctx, "apply_patch",
            patch="*** Begin Patch\n*** Add File: ok\x00.txt\n+x\n*** End Patch\n")
    refused(ctx, "apply_patch", patch="diff --git a/ok.txt b/../outside/x\n"
                                      "rename from ok.txt\nrename to ../outside/x\n")
    assert snapshot_outside(tmp) == before
    assert (tmp / "ws/ok.txt").read_text() == "fine\n"


def test_patch_with_one_bad_path_changes_nothing_inside_either(world):
    ctx, tmp = world
    refused(ctx, "apply_patch", patch="*** Begin Patch\n*** Update File: ok.txt\n@@\n-fine\n"
                                      "+changed\n*** Add File: ../outside/x\n+x\n*** End Patch\n")
    assert (tmp / "ws/ok.txt").read_text() == "fine\n"


def test_list_files_refuses_escapes(world):
    ctx, tmp = world
    for p in ["link_dir", "../outside", "/etc", str(tmp / "ws-evil"), "../ws-evil",
              "/workspace/../", str(tmp / "outside"), "link_dir/..", "a\x00b"]:
        refused(ctx, "list_files", path=p)


def test_grep_refuses_escapes(world):
    ctx, tmp = world
    for p in ["link_dir", "link_file", "../outside", "/etc", str(tmp / "ws-evil"),
              "../ws-evil/canary.txt", "/workspace/../", "a\x00b"]:
        refused(ctx, "grep", pattern=SECRET, path=p)


def test_grep_and_list_do_not_follow_symlinks_out(world):
    ctx, tmp = world
    assert call(ctx, "grep", pattern=SECRET).output == "no matches"
    assert SECRET not in call(ctx, "grep", pattern=".", path=".").output
    listed = call(ctx, "list_files").output.splitlines()
    assert listed == ["ok.txt"]


def test_sandbox_view_and_inside_symlinks_still_work(world):
    ctx, tmp = world
    (tmp / "ws/sub").mkdir()
    (tmp / "ws/sub/a.txt").write_text("inside\n")
    os.symlink("sub", tmp / "ws/inner_link")
    assert "inside" in call(ctx, "read_file", path="/workspace/sub/a.txt").output
    assert "inside" in call(ctx, "read_file", path=str(tmp / "ws/sub/a.txt")).output
    assert "inside" in call(ctx, "read_file", path="inner_link/a.txt").output
    call(ctx, "edit_file", path="inner_link/a.txt", old_string="inside", new_string="edited")
    assert (tmp / "ws/sub/a.txt").read_text() == "edited\n"


def test_fsops_refuses_a_directory_swapped_for_a_symlink_after_resolve(world):
    # resolve() saw a real dir; by the time we open, it is a symlink out. The
    # component-by-component O_NOFOLLOW walk must refuse rather than follow it.
    ctx, tmp = world
    ws = tmp / "ws"
    (ws / "d").mkdir()
    target = ws / "d" / "secret.txt"
    (ws / "d").rmdir()
    os.symlink(tmp / "outside", ws / "d")
    before = snapshot_outside(tmp)
    with pytest.raises(ToolError, match="symlink"):
        fsops.read_bytes(ws, target)
    with pytest.raises(ToolError, match="symlink"):
        fsops.atomic_write(ws, target, b"pwned")
    with pytest.raises(ToolError, match="symlink"):
        fsops.atomic_write(ws, ws / "d" / "deeper" / "x.txt", b"pwned")
    with pytest.raises(ToolError, match="symlink"):
        fsops.remove(ws, target)
    with pytest.raises(ToolError, match="symlink"):
        fsops.read_bytes(ws, ws / "link_file")  # the final component itself
    assert snapshot_outside(tmp) == before
