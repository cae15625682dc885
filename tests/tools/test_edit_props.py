"""Property tests of the edit ladder: whatever it accepts, it changes only what matched.

The edits are drawn the way models get them wrong: a block of the file's lines, shifted
in indentation, with trailing spaces, a stray leading newline or blank line, a newline
dropped at the end, lines elided with `...`; new_string a variation of old_string.
"""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tools.base import ToolError
from tools.files.edit_match import find_spans, splice
from tools.files.edit_rungs import Span

pytestmark = pytest.mark.fuzz

LINES = st.sampled_from(["", "a", "b", "  a", "    b", "\ta", "a  ", "x = 1", "def f():",
                         "    return 1", "...", "    # ...", "// ...", "say(\u201chi\u201d)",
                         "}", "  }"])


def _lines_kept(text: str, spans: list[Span], out: str) -> list[str]:
    """The lines of `text` that no span touches and that `out` does not hold whole, at
    the place the edit moved them to. A span that takes a line's newline but none of
    its text does not touch it: the edit would join that line onto the next."""
    bad, pos = [], 0
    for line in text.split("\n"):
        start, end = pos, pos + len(line)  # the line's text, not its newline
        pos = end + 1
        if any(s.start < end and start < s.end for s in spans):
            continue  # touched: a span reaches into the line's text
        if not line and end < len(text) and any(s.start <= end < s.end for s in spans):
            continue  # a blank line whose newline was matched: it is part of the match
        before = [s for s in spans if s.end <= start]
        shift = sum(len(s.replacement) - (s.end - s.start) for s in before)
        o_start, o_end = start + shift, end + shift
        whole = (o_start == 0 or out[o_start - 1] == "\n") and \
            (o_end == len(out) or out[o_end] == "\n")
        if out[o_start:o_end] != line or not whole:
            bad.append(line)
    return bad


def _shift(block: list[str], how: str) -> list[str]:
    if how == "dedent":
        return [ln.lstrip(" \t") for ln in block]
    if how == "indent":
        return ["  " + ln if ln.strip() else ln for ln in block]
    if how == "trailing":
        return [ln + "  " for ln in block]
    return block


@st.composite
def edits(draw):
    lines = draw(st.lists(LINES, max_size=12))
    text = "\n".join(lines) + draw(st.sampled_from(["", "\n"]))
    if lines and draw(st.booleans()):
        i = draw(st.integers(0, len(lines) - 1))
        block = lines[i:draw(st.integers(i + 1, len(lines)))]
    else:
        block = draw(st.lists(LINES, min_size=1, max_size=4))
    block = _shift(block, draw(st.sampled_from(["none", "dedent", "indent", "trailing"])))
    if len(block) > 2 and draw(st.booleans()):  # elide the middle
        block = [block[0], draw(st.sampled_from(["...", "# ...", "  // ..."])), block[-1]]
    new_block = [draw(st.one_of(st.just(ln), LINES)) for ln in block]
    new_block[draw(st.integers(0, len(new_block))):0] = draw(st.lists(LINES, max_size=2))
    old = draw(st.sampled_from(["", "\n", "\n\n", "  \n"])) + "\n".join(block) \
        + draw(st.sampled_from(["", "\n"]))
    new = draw(st.sampled_from(["", "\n"])) + "\n".join(new_block) \
        + draw(st.sampled_from(["", "\n"]))
    return text, old, draw(st.one_of(st.just(new), st.just(""))), draw(st.booleans())


@given(edits())
def test_an_accepted_edit_leaves_every_line_outside_the_match_byte_identical(case):
    text, old, new, replace_all = case
    try:
        rung, spans = find_spans(text, old, new, replace_all=replace_all)
    except ToolError:
        return
    assert spans == sorted(spans, key=lambda s: s.start)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))
    if old.strip():  # only blanks and line breaks: it asks to join lines
        assert _lines_kept(text, spans, splice(text, spans, rung).text) == []


@given(st.text("ab \t\n.#/\u201c\"\r", max_size=60), st.text("ab \t\n.#/\u201c\"\r", max_size=30),
       st.text("ab \t\n.#/\"\r", max_size=30), st.booleans())
def test_any_strings_are_matched_or_refused_with_a_tool_error(text, old, new, replace_all):
    text = text.replace("\r\n", "\n")
    try:
        rung, spans = find_spans(text, old, new, replace_all=replace_all)
    except ToolError:
        return
    if old.strip():  # only blanks and line breaks: it asks to join lines
        assert _lines_kept(text, spans, splice(text, spans, rung).text) == []
