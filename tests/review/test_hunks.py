"""tools.workspace.review: splitting, applying subsets, user edits meanwhile, scratch revert, rebase."""
from __future__ import annotations

import pytest

from tests.review.conftest import LINES
import itertools

from tools.workspace.hunks import apply_hunks, apply_hunks_fuzzy, compute_hunks, parse_edited_hunk, split_hunk, word_spans
from tools.workspace.review import apply_review, split_change_set, take_applied_by_hand


def two_hunk_edit(text: str) -> str:
    return text.replace("line 2\n", "line two\n").replace("line 28\n", "line twenty-eight\n")


def edit_delete_add(ws):
    """In the scratch copy: two hunks in notes.txt, a new file, a deleted one. Returns the change set."""
    (ws.tree / "notes.txt").write_text(two_hunk_edit(LINES))
    (ws.tree / "new.txt").write_text("brand new\n")
    (ws.tree / "gone.txt").unlink()
    return ws.change_set()


def test_compute_and_apply_every_subset():
    old = LINES
    new = two_hunk_edit(old)
    hunks = compute_hunks(old, new)
    assert len(hunks) == 2
    assert apply_hunks(old, hunks) == new
    assert apply_hunks(old, []) == old
    only_first = apply_hunks(old, hunks[:1])
    assert "line two\n" in only_first and "line 28\n" in only_first
    only_second = apply_hunks(old, hunks[1:])
    assert "line 2\n" in only_second and "line twenty-eight\n" in only_second


def test_split_hunk_parts_apply_in_any_subset():
    old = LINES
    new = old.replace("line 10\n", "ten\n").replace("line 14\n", "fourteen\nextra\n").replace("line 17\n", "")
    [hunk] = compute_hunks(old, new)  # three runs of changes close enough to share one hunk
    parts = split_hunk(hunk)
    assert [p.header for p in parts] == ["@@ -7,4 +7,4 @@", "@@ -11,4 +11,5 @@", "@@ -15,6 +16,5 @@"]
    assert [line for p in parts for line in p.lines] == list(hunk.lines)  # a partition of its lines
    edits = [("line 10\n", "ten\n"), ("line 14\n", "fourteen\nextra\n"), ("line 17\n", "")]
    for r in range(len(parts) + 1):
        for chosen in itertools.combinations(range(len(parts)), r):
            expected = old
            for k in chosen:
                expected = expected.replace(*edits[k])
            assert apply_hunks(old, [parts[k] for k in chosen]) == expected, chosen
            # and by context, into a file the user changed elsewhere meanwhile
            user = old.replace("line 1\n", "LINE ONE\n")
            got = apply_hunks_fuzzy(user, [(k, parts[k]) for k in chosen])
            assert got == expected.replace("line 1\n", "LINE ONE\n"), chosen


def test_split_hunk_with_one_run_of_changes_is_itself():
    [hunk] = compute_hunks(LINES, LINES.replace("line 5\n", "five\n").replace("line 6\n", "six\n"))
    assert split_hunk(hunk) == [hunk]
    [at_start] = compute_hunks("a\nb\nc\nd\n", "A\nb\nC\nd\n")  # no leading context before the first change
    first, second = split_hunk(at_start)
    assert (first.old_start, first.lines) == (0, ("-a\n", "+A\n"))
    assert apply_hunks("a\nb\nc\nd\n", [second]) == "a\nb\nC\nd\n"


def test_no_trailing_newline_roundtrip():
    old, new = "a\nb", "a\nB"
    hunks = compute_hunks(old, new)
    assert apply_hunks(old, hunks) == new
    assert "\\ No newline at end of file" in hunks[0].text()


def test_split_accept_one_reject_other(workspace, user_repo):
    ws = workspace
    cs = edit_delete_add(ws)
    items = {i.path: i for i in split_change_set(cs)}
    assert len(items["notes.txt"].hunks) == 2
    assert items["new.txt"].whole_file and items["new.txt"].describe() == "new file"
    assert items["gone.txt"].whole_file and items["gone.txt"].describe() == "deleted"

    items["notes.txt"].decisions = ["accept", "reject"]
    items["new.txt"].decisions = ["accept"]
    items["gone.txt"].decisions = ["reject"]
    rep = apply_review(ws, cs, list(items.values()))

    user = (user_repo / "notes.txt").read_text()
    assert user == LINES.replace("line 2\n", "line two\n")       # exactly the accepted hunk
    assert (user_repo / "new.txt").read_text() == "brand new\n"
    assert (user_repo / "gone.txt").exists()                      # the deletion was rejected
    # The scratch copy lost the rejected hunk and got the deleted file back.
    assert (ws.tree / "notes.txt").read_text() == user
    assert (ws.tree / "gone.txt").read_text() == "delete me\n"
    assert rep.accepted_hunks == 2 and rep.rejected_hunks == 2 and not rep.conflicts
    # Nothing is pending any more.
    assert ws.change_set().empty


def test_undecided_stays_pending(workspace, user_repo):
    ws = workspace
    (ws.tree / "notes.txt").write_text(two_hunk_edit(LINES))
    cs = ws.change_set()
    [item] = split_change_set(cs)
    item.decisions = ["accept", None]
    rep = apply_review(ws, cs, [item])
    assert rep.pending_hunks == 1
    pending = split_change_set(ws.change_set())
    assert len(pending) == 1 and len(pending[0].hunks) == 1
    assert "+line twenty-eight" in pending[0].hunks[0].text()


def test_user_edit_elsewhere_is_kept(workspace, user_repo):
    ws = workspace
    (ws.tree / "notes.txt").write_text(two_hunk_edit(LINES))
    cs = ws.change_set()
    # The user edits line 15 of their own copy meanwhile.
    (user_repo / "notes.txt").write_text(LINES.replace("line 15\n", "user's 15\n"))
    [item] = split_change_set(cs)
    item.decisions = ["accept", "accept"]
    rep = apply_review(ws, cs, [item])
    assert not rep.conflicts
    text = (user_repo / "notes.txt").read_text()
    assert "user's 15\n" in text and "line two\n" in text and "line twenty-eight\n" in text


def test_conflicting_hunk_leaves_both_sides(workspace, user_repo):
    ws = workspace
    (ws.tree / "notes.txt").write_text(two_hunk_edit(LINES))
    cs = ws.change_set()
    mine = LINES.replace("line 28\n", "user rewrote 28\n")
    (user_repo / "notes.txt").write_text(mine)
    [item] = split_change_set(cs)
    item.decisions = ["accept", "accept"]
    rep = apply_review(ws, cs, [item])
    assert "notes.txt" in rep.conflicts and "hunk 2" in rep.conflicts["notes.txt"]
    assert (user_repo / "notes.txt").read_text() == mine                      # user's side
    assert (ws.tree / "notes.txt").read_text() == two_hunk_edit(LINES)        # model's side
    assert not ws.change_set().empty                                          # still pending


def test_edited_hunk(workspace, user_repo):
    ws = workspace
    (ws.tree / "notes.txt").write_text(two_hunk_edit(LINES))
    cs = ws.change_set()
    [item] = split_change_set(cs)
    text = item.hunks[0].text().replace("+line two", "+line TWO (edited)")
    item.hunks[0] = parse_edited_hunk(item.hunks[0], text)
    item.decisions = ["accept", "reject"]
    apply_review(ws, cs, [item])
    assert "line TWO (edited)\n" in (user_repo / "notes.txt").read_text()
    assert (ws.tree / "notes.txt").read_text() == (user_repo / "notes.txt").read_text()


def test_edit_that_changes_context_is_refused():
    h = compute_hunks("a\nb\nc\n", "a\nB\nc\n")[0]
    with pytest.raises(ValueError):
        parse_edited_hunk(h, h.text().replace(" a\n", " x\n"))
    assert parse_edited_hunk(h, "# nothing\n") is None
    kept = parse_edited_hunk(h, h.text().replace("-b\n", " b\n").replace("+B\n", ""))
    assert kept.new_lines == ["a\n", "b\n", "c\n"]


def test_word_spans():
    old_spans, new_spans = word_spans("total = a - b", "total = a + b")
    assert old_spans == [(10, 11)] and new_spans == [(10, 11)]


def test_changes_applied_by_hand_are_recorded_not_written_again(workspace, user_repo):
    ws = workspace
    cs = edit_delete_add(ws)
    # the user applied the patch by hand, all but the deletion
    (user_repo / "notes.txt").write_text(two_hunk_edit(LINES))
    (user_repo / "new.txt").write_text("brand new\n")
    done, rest = take_applied_by_hand(split_change_set(cs), user_repo)
    assert sorted(i.path for i in done) == ["new.txt", "notes.txt"]
    assert [i.path for i in rest] == ["gone.txt"] and rest[0].decisions == [None]
    rest[0].decisions = ["accept"]
    rep = apply_review(ws, cs, done + rest)
    assert rep.conflicts == {} and sorted(rep.applied) == ["gone.txt", "new.txt", "notes.txt"]
    assert (user_repo / "notes.txt").read_text() == two_hunk_edit(LINES)
    assert not (user_repo / "gone.txt").exists()
    assert ws.change_set().empty  # the base moved: nothing is shown as pending again


def test_a_file_applied_by_hand_differently_still_conflicts(workspace, user_repo):
    ws = workspace
    (ws.tree / "notes.txt").write_text(two_hunk_edit(LINES))
    cs = ws.change_set()
    (user_repo / "notes.txt").write_text(LINES.replace("line 2\n", "line TWO\n"))
    done, rest = take_applied_by_hand(split_change_set(cs), user_repo)
    assert done == [] and len(rest) == 1
    rest[0].decisions = ["accept"] * len(rest[0].decisions)
    rep = apply_review(ws, cs, rest)
    assert "notes.txt" in rep.conflicts
