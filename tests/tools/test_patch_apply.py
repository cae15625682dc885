"""Hunks located with fuzz, and whole patches planned in memory."""
from __future__ import annotations

import pytest

from tools.files.patch_apply import apply_hunks, plan_patch
from tools.files.patch_ops import PatchError
from tools.files.patch_parse import parse_patch

BASE = "".join(f"line {i}\n" for i in range(1, 31))


def update(path: str, body: str) -> str:
    return f"--- a/{path}\n+++ b/{path}\n{body}"


def hunks(patch: str):
    return parse_patch(patch)[0].hunks


def test_exact_hunk():
    h = hunks(update("f", "@@ -4,3 +4,3 @@\n line 4\n-line 5\n+LINE 5\n line 6\n"))
    assert apply_hunks(BASE, h, "f") == BASE.replace("line 5\n", "LINE 5\n")


def test_wrong_line_numbers_are_only_a_hint():
    h = hunks(update("f", "@@ -20,3 +20,3 @@\n line 4\n-line 5\n+LINE 5\n line 6\n"))
    assert apply_hunks(BASE, h, "f") == BASE.replace("line 5\n", "LINE 5\n")


def test_hint_picks_the_nearest_of_repeated_blocks():
    text = "a\nb\nc\n" + "x\n" * 20 + "a\nb\nc\n"
    h = hunks(update("f", "@@ -24,3 +24,3 @@\n a\n-b\n+B\n c\n"))
    assert apply_hunks(text, h, "f") == "a\nb\nc\n" + "x\n" * 20 + "a\nB\nc\n"


def test_hunks_apply_in_order_after_each_other():
    text = "a\nb\nc\na\nb\nc\n"
    h = hunks(update("f", "@@\n a\n-b\n+1\n@@\n a\n-b\n+2\n"))
    assert apply_hunks(text, h, "f") == "a\n1\nc\na\n2\nc\n"


def test_whitespace_tolerant_fallback_keeps_file_context():
    text = "def f():   \n    x = 1\n    return x\n"
    h = hunks(update("f", "@@ -1,3 +1,3 @@\n def f():\n-    x = 1\n+    x = 2\n     return x\n"))
    assert apply_hunks(text, h, "f") == "def f():   \n    x = 2\n    return x\n"


def test_indentation_shift_reindents_added_lines():
    text = "class A:\n    def f(self):\n        return 1\n"
    h = hunks(update("f", "@@\n def f(self):\n-    return 1\n+    y = 2\n+    return y\n"))
    assert apply_hunks(text, h, "f") == ("class A:\n    def f(self):\n        y = 2\n"
                                        "        return y\n")


def test_pure_insertion_at_line():
    h = hunks(update("f", "@@ -2,0 +3,1 @@\n+inserted\n"))
    assert apply_hunks("a\nb\nc\n", h, "f") == "a\nb\ninserted\nc\n"


def test_insertion_into_empty_file():
    h = hunks(update("f", "@@ -0,0 +1,2 @@\n+x\n+y\n"))
    assert apply_hunks("", h, "f") == "x\ny\n"


def test_no_newline_markers_change_the_end():
    h = hunks(update("f", "@@ -1,2 +1,2 @@\n a\n-b\n+c\n\\ No newline at end of file\n"))
    assert apply_hunks("a\nb\n", h, "f") == "a\nc"
    h = hunks(update("f", "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n"))
    assert apply_hunks("a\nb", h, "f") == "a\nc\n"


def test_file_without_final_newline_keeps_it_missing():
    h = hunks(update("f", "@@ -1,2 +1,2 @@\n a\n-b\n+c\n"))
    assert apply_hunks("a\nb", h, "f") == "a\nc"


def test_envelope_anchor_and_end_of_file():
    text = "def f():\n    return 1\n\ndef g():\n    return 1\n"
    patch = ("*** Begin Patch\n*** Update File: m.py\n@@ def g():\n-    return 1\n"
             "+    return 2\n*** End Patch\n")
    assert apply_hunks(text, hunks(patch), "m.py") == text[:-2] + "2\n"
    patch = ("*** Begin Patch\n*** Update File: m.py\n@@\n-    return 1\n+    return 3\n"
             "*** End of File\n*** End Patch\n")
    assert apply_hunks(text, hunks(patch), "m.py") == text[:-2] + "3\n"


def test_missing_anchor_is_named():
    patch = "*** Begin Patch\n*** Update File: m.py\n@@ def nope():\n-a\n+b\n*** End Patch\n"
    with pytest.raises(PatchError, match="'def nope\\(\\):'.*not found"):
        apply_hunks("a\n", hunks(patch), "m.py")


def test_failing_hunk_names_file_hunk_expected_and_closest():
    h = hunks(update("src/x.py", "@@ -4,3 +4,3 @@\n line 4\n-line five\n+LINE 5\n line 6\n"))
    with pytest.raises(PatchError) as e:
        apply_hunks(BASE, h, "src/x.py")
    msg = e.value.message
    assert msg.startswith("src/x.py: hunk 1 (@@ -4,3 +4,3 @@) does not apply")
    assert "Expected:\n  line 4\n  line five\n  line 6" in msg
    assert "Closest in the file, lines 4–6" in msg and "     5\tline 5" in msg


def test_plan_add_update_delete_move():
    files = {"a.txt": "one\n", "b.txt": "bee\n", "c.txt": "sea\n", "d.txt": None}
    patch = ("*** Begin Patch\n*** Update File: a.txt\n@@\n-one\n+ONE\n"
             "*** Delete File: b.txt\n*** Update File: c.txt\n*** Move to: d.txt\n@@\n-sea\n+SEA\n"
             "*** Add File: e.txt\n+new\n*** End Patch\n")
    plan = plan_patch(parse_patch(patch), files)
    assert plan.final == {"a.txt": "ONE\n", "b.txt": None, "c.txt": None, "d.txt": "SEA\n",
                          "e.txt": "new\n"}
    assert plan.origin == {"d.txt": "c.txt"}


def test_plan_refuses_add_over_existing_and_move_onto_existing():
    with pytest.raises(PatchError, match="already exists"):
        plan_patch(parse_patch("*** Begin Patch\n*** Add File: a\n+x\n*** End Patch\n"),
                   {"a": "old\n"})
    patch = "*** Begin Patch\n*** Update File: a\n*** Move to: b\n*** End Patch\n"
    with pytest.raises(PatchError, match="cannot move to b"):
        plan_patch(parse_patch(patch), {"a": "x\n", "b": "y\n"})


def test_plan_refuses_missing_files():
    with pytest.raises(PatchError, match="cannot delete"):
        plan_patch(parse_patch("*** Begin Patch\n*** Delete File: a\n*** End Patch\n"),
                   {"a": None})
    with pytest.raises(PatchError, match="cannot update"):
        plan_patch(parse_patch(update("a", "@@\n-x\n+y\n")), {"a": None})


def test_two_sections_for_one_file_apply_in_turn():
    patch = update("a", "@@\n-x\n+y\n") + update("a", "@@\n-y\n+z\n")
    assert plan_patch(parse_patch(patch), {"a": "x\n"}).final == {"a": "z\n"}


def test_anchor_repeated_as_first_context_line():
    text = "def f():\n    return 1\n\ndef g():\n    return 1\n"
    patch = ("*** Begin Patch\n*** Update File: m.py\n@@ def g():\n def g():\n-    return 1\n"
             "+    return 2\n*** End Patch\n")
    assert apply_hunks(text, hunks(patch), "m.py") == text[:-2] + "2\n"


def test_bare_at_at_header_in_unified_diff():
    h = hunks(update("f", "@@ @@\n a\n\n-b\n+B\n"))
    assert apply_hunks("a\n\nb\n", h, "f") == "a\n\nB\n"


def test_trailing_blank_context_artefact_is_dropped_when_it_does_not_fit():
    h = hunks(update("f", "@@ -1,3 +1,3 @@\n a\n-b\n+B\n \n"))
    assert h[0].old == ["a", "b", ""]
    assert apply_hunks("a\nb", h, "f") == "a\nB"
