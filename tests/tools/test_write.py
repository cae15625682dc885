"""write_file: create, overwrite, parents, atomicity, mode and format kept."""
from __future__ import annotations

import os
import stat

import pytest

from tools.base import ToolContext, ToolError
from tools.files.write import WriteFile
from tools.sandbox.local import LocalSandbox


@pytest.fixture
def ctx(tmp_path):
    return ToolContext(root=tmp_path, sandbox=LocalSandbox(tmp_path))


def write(ctx, **args):
    tool = WriteFile()
    return tool.run(tool.params(**args), ctx)


def test_creates_file_and_parents(ctx, tmp_path):
    res = write(ctx, path="src/pkg/new.py", content="a = 1\nb = 2\n")
    assert (tmp_path / "src/pkg/new.py").read_text() == "a = 1\nb = 2\n"
    assert res.data["created"] is True
    assert res.summary == "created src/pkg/new.py (+2 −0)"


def test_overwrite_reports_plus_minus(ctx, tmp_path):
    (tmp_path / "f.txt").write_text("one\ntwo\nthree\n")
    res = write(ctx, path="f.txt", content="one\nTWO\nthree\nfour\n")
    assert (tmp_path / "f.txt").read_text() == "one\nTWO\nthree\nfour\n"
    assert res.summary == "wrote f.txt (+2 −1)"


def test_keeps_mode_of_existing_file(ctx, tmp_path):
    f = tmp_path / "run.sh"
    f.write_text("#!/bin/sh\n")
    f.chmod(0o751)
    write(ctx, path="run.sh", content="#!/bin/sh\necho hi\n")
    assert stat.S_IMODE(f.stat().st_mode) == 0o751


def test_atomic_replace_makes_a_new_inode_and_leaves_no_temp(ctx, tmp_path):
    f = tmp_path / "f.txt"
    f.write_text("old\n")
    before = f.stat().st_ino
    write(ctx, path="f.txt", content="new\n")
    assert f.stat().st_ino != before  # renamed into place, not rewritten in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


def test_crlf_file_stays_crlf_and_bom_kept(ctx, tmp_path):
    (tmp_path / "w.txt").write_bytes(b"\xef\xbb\xbfa\r\nb\r\n")
    write(ctx, path="w.txt", content="x\ny\n")
    assert (tmp_path / "w.txt").read_bytes() == b"\xef\xbb\xbfx\r\ny\r\n"


def test_latin1_file_kept_when_possible_else_utf8(ctx, tmp_path):
    f = tmp_path / "l.txt"
    f.write_bytes("café\n".encode("latin-1"))
    write(ctx, path="l.txt", content="thé\n")
    assert f.read_bytes() == "thé\n".encode("latin-1")
    write(ctx, path="l.txt", content="→ arrow\n")
    assert f.read_bytes() == "→ arrow\n".encode("utf-8")


def test_content_written_exactly_no_newline_added(ctx, tmp_path):
    write(ctx, path="n.txt", content="no newline")
    assert (tmp_path / "n.txt").read_bytes() == b"no newline"


def test_directory_refused(ctx, tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(ToolError, match="directory"):
        write(ctx, path="d", content="x")
    assert (tmp_path / "d").is_dir()


def test_parent_is_a_file(ctx, tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ToolError, match="not a directory"):
        write(ctx, path="f/child.txt", content="x")


def test_symlink_inside_workspace_writes_through_to_target(ctx, tmp_path):
    (tmp_path / "real.txt").write_text("old\n")
    os.symlink("real.txt", tmp_path / "alias.txt")
    write(ctx, path="alias.txt", content="new\n")
    assert (tmp_path / "real.txt").read_text() == "new\n"
    assert (tmp_path / "alias.txt").is_symlink()


def test_mutating():
    assert WriteFile().is_mutating(WriteFile.params(path="x", content="")) is True
