"""Property tests of the patch parser and planner: any text is a plan or a PatchError.

Inputs are drawn from the pieces patches are made of (envelope markers, padded or not,
unified headers with odd quoting, hunk headers with odd counts, hunk lines) mixed with
arbitrary text, and planned against small files; nothing may raise but PatchError.
"""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tools.files.patch_apply import plan_patch
from tools.files.patch_ops import PatchError
from tools.files.patch_parse import parse_patch

pytestmark = pytest.mark.fuzz

PIECES = st.sampled_from([
    "*** Begin Patch", "*** End Patch", " *** End Patch", "*** End Patch ", "*** End patch",
    "*** Add File: a", "*** Delete File: a", "*** Update File: a", "  *** Update File: b",
    "*** Move to: b", "*** Move to:", " *** Move to: a", "*** End of File", "*** Frobnicate",
    "@@", "@@ x", "@@ -1,2 +1,2 @@", "@@ -0,0 +1 @@", "@@ -1 +1 @@ f()", "@@ -" + "9" * 30,
    "@@ -" + "9" * 5000 + " +1 @@", "@@@ -1,1 -1,1 +1,1 @@@", "--- a/a", "+++ b/a",
    "--- /dev/null", "+++ /dev/null", '--- "a/\\x"', '+++ "b/\\303"', '+++ "b/\\303\\251"',
    '--- "a/\\', '+++ "b/\\377"\t2024', "diff --git a/a b/b", 'diff --git "a/a" "b/\\q"',
    "diff --git a/a a b/a a", "rename from a", "rename to b", 'rename to "\\z"',
    "new file mode 100755", "deleted file mode 100644", "old mode 100644", "new mode 7" * 30,
    "\\ No newline at end of file", "GIT binary patch", "copy from a", "similarity index 90%",
    " x", "-x", "+x", " y", "-y", "+y", "", " ", "+", "-", "x", "\r", "apply_patch <<'EOF'",
    "EOF",
])
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
PATCHES = st.lists(st.one_of(PIECES, PIECES, PIECES, ANY_TEXT), max_size=30).map("\n".join)
FILE = st.one_of(st.none(), st.lists(st.sampled_from(["x", "y", "", " x", "z"]),
                                     max_size=6).map(lambda ls: "".join(f"{ln}\n" for ln in ls)))


@given(PATCHES)
def test_parse_patch_raises_nothing_but_patch_error(text):
    try:
        patches = parse_patch(text)
    except PatchError:
        return
    assert patches and all(fp.path for fp in patches)


@given(PATCHES, st.dictionaries(st.sampled_from(["a", "b", "a a", "é"]), FILE))
def test_plan_patch_raises_nothing_but_patch_error(text, files):
    try:
        plan = plan_patch(parse_patch(text), files)
    except PatchError:
        return
    assert all(text is None or isinstance(text, str) for text in plan.final.values())
    assert set(plan.origin) <= set(plan.final)


@given(st.text(max_size=200))
def test_any_text_at_all_is_parsed_or_refused(text):
    try:
        parse_patch(text)
    except PatchError:
        pass
