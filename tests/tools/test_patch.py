"""apply_patch as a tool: real files, all or nothing, formats and modes kept."""
from __future__ import annotations

import stat

import pytest

from tools.base import ToolContext, ToolError
from tools.files.patch_tool import ApplyPatch
from tools.sandbox.local import LocalSandbox


@pytest.fixture
def ctx(tmp_path):
    return ToolContext(root=tmp_path, sandbox=LocalSandbox(tmp_path))


def patch(ctx, text):
    tool = ApplyPatch()
    return tool.run(tool.params(patch=text), ctx)


def snapshot(root):
    return {p.relative_to(root).as_posix(): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
            for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.parts}


def test_unified_multi_file(ctx, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src/a.py").write_text("import os\n\ndef main():\n    return 1\n")
    (tmp_path / "old.txt").write_text("bye\n")
    res = patch(ctx, """\
diff --git a/src/a.py b/src/a.py
--- a/src/a.py
+++ b/src/a.py
@@ -1,4 +1,5 @@
 import os
+import sys
 
 def main():
-    return 1
+    return 0
diff --git a/new/n.txt b/new/n.txt
new file mode 100755
--- /dev/null
+++ b/new/n.txt
@@ -0,0 +1 @@
+hello
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
""")
    assert (tmp_path / "src/a.py").read_text() == ("import os\nimport sys\n\ndef main():\n"
                                                   "    return 0\n")
    assert (tmp_path / "new/n.txt").read_text() == "hello\n"
    assert stat.S_IMODE((tmp_path / "new/n.txt").stat().st_mode) == 0o755
    assert not (tmp_path / "old.txt").exists()
    assert res.output.splitlines() == ["Applied patch to 3 files:", "  M src/a.py (+2 −1)",
                                       "  A new/n.txt (+1 −0)", "  D old.txt (+0 −1)"]
    assert res.summary == "patched 3 files (+3 −2)"


def test_envelope_move_keeps_mode_and_crlf(ctx, tmp_path):
    f = tmp_path / "tool.sh"
    f.write_bytes(b"#!/bin/sh\r\necho one\r\n")
    f.chmod(0o755)
    res = patch(ctx, "*** Begin Patch\n*** Update File: tool.sh\n*** Move to: bin/tool.sh\n"
                     "@@\n #!/bin/sh\n-echo one\n+echo two\n*** End Patch\n")
    moved = tmp_path / "bin/tool.sh"
    assert not f.exists()
    assert moved.read_bytes() == b"#!/bin/sh\r\necho two\r\n"
    assert stat.S_IMODE(moved.stat().st_mode) == 0o755
    assert "R tool.sh → bin/tool.sh" in res.output


def test_git_rename_without_hunks(ctx, tmp_path):
    (tmp_path / "a b.txt").write_text("same\n")
    patch(ctx, "diff --git a/a b.txt b/c d.txt\nsimilarity index 100%\n"
               "rename from a b.txt\nrename to c d.txt\n")
    assert (tmp_path / "c d.txt").read_text() == "same\n" and not (tmp_path / "a b.txt").exists()


def test_mode_change_only(ctx, tmp_path):
    (tmp_path / "s.sh").write_text("x\n")
    (tmp_path / "s.sh").chmod(0o644)
    patch(ctx, "diff --git a/s.sh b/s.sh\nold mode 100644\nnew mode 100755\n")
    assert stat.S_IMODE((tmp_path / "s.sh").stat().st_mode) == 0o755


def test_failing_hunk_in_second_file_touches_nothing(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("one\ntwo\n")
    (tmp_path / "b.txt").write_text("three\nfour\n")
    (tmp_path / "gone.txt").write_text("keep me\n")
    before = snapshot(tmp_path)
    with pytest.raises(ToolError) as e:
        patch(ctx, "*** Begin Patch\n*** Update File: a.txt\n@@\n-one\n+ONE\n"
                   "*** Delete File: gone.txt\n*** Add File: added.txt\n+x\n"
                   "*** Update File: b.txt\n@@\n three\n-FIVE\n+5\n*** End Patch\n")
    assert e.value.message.startswith("b.txt: hunk 1 (@@) does not apply")
    assert e.value.message.endswith("No file was changed.")
    assert "Expected:\n  three\n  FIVE" in e.value.message
    assert snapshot(tmp_path) == before


def test_write_failure_midway_rolls_back(ctx, tmp_path):
    # `blocker` is a file, so creating blocker/child.txt fails after a.txt was written
    (tmp_path / "a.txt").write_text("one\n")
    (tmp_path / "blocker").write_text("i am a file\n")
    before = snapshot(tmp_path)
    with pytest.raises(ToolError, match="restored"):
        patch(ctx, "*** Begin Patch\n*** Update File: a.txt\n@@\n-one\n+ONE\n"
                   "*** Add File: blocker/child.txt\n+x\n*** End Patch\n")
    assert snapshot(tmp_path) == before


def test_unencodable_text_refused_before_any_write(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("one\n")
    (tmp_path / "l.txt").write_bytes("café\n".encode("latin-1"))
    before = snapshot(tmp_path)
    with pytest.raises(ToolError, match="latin-1"):
        patch(ctx, "*** Begin Patch\n*** Update File: a.txt\n@@\n-one\n+ONE\n"
                   "*** Update File: l.txt\n@@\n-café\n+→\n*** End Patch\n")
    assert snapshot(tmp_path) == before


def test_latin1_and_bom_preserved(ctx, tmp_path):
    (tmp_path / "l.txt").write_bytes("café\n".encode("latin-1"))
    (tmp_path / "b.txt").write_bytes(b"\xef\xbb\xbfx\n")
    patch(ctx, "--- a/l.txt\n+++ b/l.txt\n@@ -1 +1 @@\n-café\n+thé\n"
               "--- a/b.txt\n+++ b/b.txt\n@@ -1 +1 @@\n-x\n+y\n")
    assert (tmp_path / "l.txt").read_bytes() == "thé\n".encode("latin-1")
    assert (tmp_path / "b.txt").read_bytes() == b"\xef\xbb\xbfy\n"


def test_add_existing_and_update_missing_refused(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("x\n")
    with pytest.raises(ToolError, match="already exists"):
        patch(ctx, "*** Begin Patch\n*** Add File: a.txt\n+y\n*** End Patch\n")
    with pytest.raises(ToolError, match="no such file"):
        patch(ctx, "--- a/missing.txt\n+++ b/missing.txt\n@@ -1 +1 @@\n-a\n+b\n")
    assert (tmp_path / "a.txt").read_text() == "x\n"


def test_binary_target_and_directory_refused(ctx, tmp_path):
    (tmp_path / "i.bin").write_bytes(b"\x00\x01\x02")
    (tmp_path / "d").mkdir()
    with pytest.raises(ToolError, match="text files"):
        patch(ctx, "--- a/i.bin\n+++ b/i.bin\n@@ -1 +1 @@\n-a\n+b\n")
    with pytest.raises(ToolError, match="directory"):
        patch(ctx, "*** Begin Patch\n*** Delete File: d\n*** End Patch\n")


def test_same_file_by_two_spellings_is_one_file(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("x\n")
    patch(ctx, "--- a/a.txt\n+++ b/a.txt\n@@\n-x\n+y\n--- a/./a.txt\n+++ b/./a.txt\n@@\n-y\n+z\n")
    assert (tmp_path / "a.txt").read_text() == "z\n"


def test_parse_error_reaches_the_model_as_tool_error(ctx):
    with pytest.raises(ToolError, match="unrecognized patch"):
        patch(ctx, "just words")


def test_round_trip_of_a_real_git_diff(ctx, tmp_path):
    """What `git diff` writes, apply_patch applies: the tree ends as git's did."""
    import subprocess

    def git(*args):
        return subprocess.run(["git", "-c", "core.autocrlf=false", *args], cwd=tmp_path,
                              check=True, capture_output=True, text=True).stdout

    git("init", "-q")
    files = {
        "src/app.py": "".join(f"def f{i}():\n    return {i}\n\n" for i in range(40)),
        "win.txt": "".join(f"row {i}\r\n" for i in range(30)),
        "tail.txt": "a\nb\nlast",
        "doomed.txt": "x\ny\n",
        "old_name.py": "".join(f"print({i})\n" for i in range(20)),
        "run.sh": "#!/bin/sh\necho hi\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(text.encode())
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")

    app = tmp_path / "src/app.py"
    app.write_text(app.read_text().replace("return 3\n", "return 33\n")
                   .replace("def f20():\n", "def f20():\n    # note\n")
                   .replace("def f39():\n    return 39\n", "def f39():\n    return None\n"))
    (tmp_path / "win.txt").write_bytes((tmp_path / "win.txt").read_bytes()
                                       .replace(b"row 7\r\n", b"row seven\r\nrow 7.5\r\n"))
    (tmp_path / "tail.txt").write_text("a\nb\nlast changed\n")
    (tmp_path / "doomed.txt").unlink()
    (tmp_path / "src/new.md").write_text("# new\n")
    (tmp_path / "old_name.py").rename(tmp_path / "src/new_name.py")
    nn = tmp_path / "src/new_name.py"
    nn.write_text(nn.read_text().replace("print(10)", "print('ten')"))
    (tmp_path / "run.sh").chmod(0o755)
    git("add", "-A")
    diff = git("diff", "--cached", "-M", "HEAD")
    want = snapshot(tmp_path)
    git("reset", "-q", "--hard", "HEAD")
    assert snapshot(tmp_path) != want

    patch(ctx, diff)
    assert snapshot(tmp_path) == want


# --- issue 14: envelope markers, deliberate refusals, quoted paths ----------------------

@pytest.mark.parametrize("end", [" *** End Patch", "*** End Patch  ", "\t*** End Patch"])
def test_padded_end_marker_after_a_hunk_ends_the_patch(ctx, tmp_path, end):
    (tmp_path / "a.txt").write_text("one\ntwo\n")
    patch(ctx, f"*** Begin Patch\n*** Update File: a.txt\n@@\n one\n-two\n+TWO\n{end}\n")
    assert (tmp_path / "a.txt").read_text() == "one\nTWO\n"


def test_padded_file_header_after_a_hunk_starts_the_next_file(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("one\n")
    (tmp_path / "b.txt").write_text("bee\n")
    patch(ctx, "*** Begin Patch\n*** Update File: a.txt\n@@\n-one\n+ONE\n"
               " *** Update File: b.txt\n@@\n-bee\n+BEE\n  *** Add File: c.txt\n+sea\n"
               " *** Delete File: a.txt\n *** End Patch\n")
    assert {k: data for k, (data, _) in snapshot(tmp_path).items()} == {
        "b.txt": b"BEE\n", "c.txt": b"sea\n"}


def test_padded_move_marker(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("one\n")
    patch(ctx, "*** Begin Patch\n*** Update File: a.txt\n  *** Move to: b.txt\n@@\n-one\n"
               "+ONE\n*** End Patch\n")
    assert (tmp_path / "b.txt").read_text() == "ONE\n" and not (tmp_path / "a.txt").exists()


def test_a_mistyped_marker_is_named_instead_of_a_cut_off_patch(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("one\n")
    with pytest.raises(ToolError) as e:
        patch(ctx, "*** Begin Patch\n*** Update File: a.txt\n@@\n-one\n+ONE\n *** End patch\n")
    msg = e.value.message
    assert "patch line 6, ' *** End patch', is no envelope marker" in msg
    assert "cut off" not in msg and "No file was changed." in msg
    assert (tmp_path / "a.txt").read_text() == "one\n"


def test_a_patch_that_really_is_cut_off_says_so(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("one\n")
    with pytest.raises(ToolError, match=r"was it cut off after patch line 5\?"):
        patch(ctx, "*** Begin Patch\n*** Update File: a.txt\n@@\n-one\n+ONE\n")


def test_add_over_an_existing_file_is_refused_with_what_to_send(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("old\n")
    with pytest.raises(ToolError) as e:
        patch(ctx, "*** Begin Patch\n*** Add File: a.txt\n+new\n*** End Patch\n")
    assert "never overwrites a file unasked" in e.value.message
    assert "send '*** Delete File: a.txt'" in e.value.message
    assert (tmp_path / "a.txt").read_text() == "old\n"
    # what the message says to send works
    patch(ctx, "*** Begin Patch\n*** Delete File: a.txt\n*** Add File: a.txt\n+new\n"
               "*** End Patch\n")
    assert (tmp_path / "a.txt").read_text() == "new\n"


def test_move_onto_an_existing_file_is_refused_with_what_to_send(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("one\n")
    (tmp_path / "b.txt").write_text("bee\n")
    move = "*** Update File: a.txt\n*** Move to: b.txt\n@@\n-one\n+ONE\n"
    with pytest.raises(ToolError) as e:
        patch(ctx, f"*** Begin Patch\n{move}*** End Patch\n")
    assert "cannot move to b.txt, which already exists" in e.value.message
    assert "send '*** Delete File: b.txt'" in e.value.message
    assert (tmp_path / "b.txt").read_text() == "bee\n"
    patch(ctx, f"*** Begin Patch\n*** Delete File: b.txt\n{move}*** End Patch\n")
    assert (tmp_path / "b.txt").read_text() == "ONE\n" and not (tmp_path / "a.txt").exists()


def test_description_documents_the_deliberate_refusals():
    assert "never overwrites an existing file" in ApplyPatch.description
    assert "delete it earlier in the same patch" in ApplyPatch.description


@pytest.mark.parametrize("header", ['"b/\\x.txt"', '"b/\\"', '"b/\\9.txt"', '"b/\\377.txt"'])
def test_bad_quoted_path_in_a_diff_header_is_a_tool_error(ctx, tmp_path, header):
    (tmp_path / "x.txt").write_text("a\n")
    with pytest.raises(ToolError) as e:
        patch(ctx, f"--- a/x.txt\n+++ {header}\n@@ -1 +1 @@\n-a\n+b\n")
    assert e.value.message.startswith("patch line 2: ")
    assert "quoted path" in e.value.message and "No file was changed." in e.value.message
    assert (tmp_path / "x.txt").read_text() == "a\n"


def test_git_quoted_path_with_a_timestamp(ctx, tmp_path):
    (tmp_path / "a b.txt").write_text("a\n")
    patch(ctx, '--- "a/a b.txt"\t2024-01-01 00:00:00\n+++ "b/a b.txt"\t2024-01-01\n'
               '@@ -1 +1 @@\n-a\n+b\n')
    assert (tmp_path / "a b.txt").read_text() == "b\n"
