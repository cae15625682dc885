"""Parsing both patch formats into FilePatch values."""
from __future__ import annotations

import re

import pytest

from tools.files.patch_ops import PatchError
from tools.files.patch_parse import parse_patch

GIT_DIFF = """\
diff --git a/src/app.py b/src/app.py
index 83db48f..bf269f4 100644
--- a/src/app.py
+++ b/src/app.py
@@ -1,3 +1,4 @@ def main():
 import os
+import sys
 
 def main():
@@ -10,2 +11,2 @@
-    return 1
+    return 0
 # end
diff --git a/new.txt b/new.txt
new file mode 100755
index 0000000..e69de29
--- /dev/null
+++ b/new.txt
@@ -0,0 +1,2 @@
+hello
+world
diff --git a/gone.txt b/gone.txt
deleted file mode 100644
--- a/gone.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
diff --git a/old name.py b/new name.py
similarity index 90%
rename from old name.py
rename to new name.py
diff --git a/tool.sh b/tool.sh
old mode 100644
new mode 100755
"""


def test_git_diff_all_kinds():
    fps = parse_patch(GIT_DIFF)
    assert [(f.op, f.path, f.move_to) for f in fps] == [
        ("update", "src/app.py", None),
        ("add", "new.txt", None),
        ("delete", "gone.txt", None),
        ("update", "old name.py", "new name.py"),
        ("update", "tool.sh", None),
    ]
    app = fps[0]
    assert len(app.hunks) == 2
    assert app.hunks[0].old == ["import os", "", "def main():"]
    assert app.hunks[0].new == ["import os", "import sys", "", "def main():"]
    assert app.hunks[0].old_start == 1 and app.hunks[1].old_start == 10
    assert app.hunks[0].header == "@@ -1,3 +1,4 @@"
    assert fps[1].content == "hello\nworld\n" and fps[1].new_mode == 0o755
    assert fps[4].new_mode == 0o755 and fps[4].hunks == ()


def test_plain_unified_diff_with_timestamps_and_no_newline_marker():
    patch = ("--- a.txt\t2024-01-01 10:00:00\n+++ a.txt\t2024-01-02 10:00:00\n"
             "@@ -1,2 +1,2 @@\n one\n-two\n\\ No newline at end of file\n+TWO\n"
             "\\ No newline at end of file\n")
    (fp,) = parse_patch(patch)
    assert fp.op == "update" and fp.path == "a.txt"
    h = fp.hunks[0]
    assert h.old_no_newline and h.new_no_newline
    assert h.lines == ((" ", "one"), ("-", "two"), ("+", "TWO"))


def test_miscounted_hunk_still_read_whole():
    # says 2 old lines but has 3: models miscount, the hunk runs to the next header
    patch = ("--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\n-b\n+B\n c\n"
             "--- a/y\n+++ b/y\n@@ -1 +1 @@\n-q\n+Q\n")
    fps = parse_patch(patch)
    assert [f.path for f in fps] == ["x", "y"]
    assert fps[0].hunks[0].old == ["a", "b", "c"]


def test_removed_line_that_looks_like_a_header_inside_counts():
    patch = "--- a/q.sql\n+++ b/q.sql\n@@ -1,2 +1,1 @@\n--- comment\n keep\n"
    (fp,) = parse_patch(patch)
    assert fp.hunks[0].lines == (("-", "-- comment"), (" ", "keep"))


def test_blank_context_line_without_space():
    patch = "--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n a\n\n-b\n+B\n"
    (fp,) = parse_patch(patch)
    assert fp.hunks[0].old == ["a", "", "b"]


def test_quoted_git_paths():
    patch = ('diff --git "a/sp ace\\303\\251.txt" "b/sp ace\\303\\251.txt"\n'
             '--- "a/sp ace\\303\\251.txt"\n+++ "b/sp ace\\303\\251.txt"\n@@ -1 +1 @@\n-a\n+b\n')
    (fp,) = parse_patch(patch)
    assert fp.path == "sp aceé.txt"


ENVELOPE = """\
*** Begin Patch
*** Add File: docs/new.md
+# Title
+
+text
*** Update File: src/a.py
*** Move to: src/b.py
@@ def f():
-    return 1
+    return 2
@@
 x = 1
-y = 2
+y = 3
*** End of File
*** Delete File: old.txt
*** Update File: c.py
 first
-second
+SECOND
*** End Patch
"""


def test_envelope_all_kinds():
    fps = parse_patch(ENVELOPE)
    assert [(f.op, f.path, f.move_to) for f in fps] == [
        ("add", "docs/new.md", None), ("update", "src/a.py", "src/b.py"),
        ("delete", "old.txt", None), ("update", "c.py", None)]
    assert fps[0].content == "# Title\n\ntext\n"
    h1, h2 = fps[1].hunks
    assert h1.anchor == "def f():" and h1.old == ["    return 1"]
    assert h2.anchor is None and h2.at_eof and h2.new == ["x = 1", "y = 3"]
    assert fps[3].hunks[0].old == ["first", "second"]  # first hunk without @@


def test_envelope_inside_heredoc_wrapper():
    text = "apply_patch <<'EOF'\n*** Begin Patch\n*** Delete File: a\n*** End Patch\nEOF\n"
    assert parse_patch(text)[0].op == "delete"


def test_envelope_without_end_is_refused():
    with pytest.raises(PatchError, match="End Patch"):
        parse_patch("*** Begin Patch\n*** Update File: a\n@@\n-a\n+b\n")


def test_envelope_bad_line_named():
    with pytest.raises(PatchError, match="line 4"):
        parse_patch("*** Begin Patch\n*** Update File: a\n@@\nnot prefixed\n*** End Patch\n")


def test_envelope_update_without_hunks():
    with pytest.raises(PatchError, match="no hunks"):
        parse_patch("*** Begin Patch\n*** Update File: a\n*** End Patch\n")


def test_unknown_format():
    with pytest.raises(PatchError, match="unrecognized patch"):
        parse_patch("please change foo to bar")


def test_binary_patch_refused():
    with pytest.raises(PatchError, match="binary"):
        parse_patch("diff --git a/i.png b/i.png\nBinary files a/i.png and b/i.png differ\n")


def test_crlf_patch_text_is_read():
    (fp,) = parse_patch("--- a/x\r\n+++ b/x\r\n@@ -1 +1 @@\r\n-a\r\n+b\r\n")
    assert fp.hunks[0].lines == (("-", "a"), ("+", "b"))


def test_git_add_of_an_empty_file():
    (fp,) = parse_patch("diff --git a/e.txt b/e.txt\nnew file mode 100644\n"
                        "index 0000000..e69de29\n")
    assert (fp.op, fp.path, fp.content) == ("add", "e.txt", "")


@pytest.mark.parametrize("text, message", [
    ("--- a/x\n+++ b/x\n", "no hunks for x"),
    ("--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\n b\n", "has no '-' or '+' lines"),
    ("diff --git a/x\n@@ -1 +1 @@\n-a\n+b\n", "cannot tell which file"),
    ("@@ -1 +1 @@\n-a\n+b\n", "hunk before any"),
    ("*** Begin Patch\n*** End Patch\n", "no file changes"),
])
def test_broken_unified_diffs_are_named(text, message):
    with pytest.raises(PatchError, match=re.escape(message)):
        parse_patch(text)


def test_hunk_counts_too_long_to_be_line_numbers_are_a_bad_header():
    with pytest.raises(PatchError, match="bad hunk header"):
        parse_patch("--- a/x\n+++ b/x\n@@ -" + "9" * 5000 + " +1 @@\n-a\n+b\n")


def test_quoted_path_escapes_read_as_git_writes_them():
    (fp,) = parse_patch('--- "a/t\\tab\\"q\\\\.txt"\n+++ "b/t\\tab\\"q\\\\.txt"\n'
                        '@@ -1 +1 @@\n-a\n+b\n')
    assert fp.path == 't\tab"q\\.txt'
