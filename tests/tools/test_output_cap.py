"""Capping long output, head + tail, whole or streamed (tools/output_cap.py)."""
from __future__ import annotations

from tools.output_cap import HeadTail, cap_output

TEXT = "".join(f"{i}\n" for i in range(100_000))


def test_short_text_is_kept_whole():
    assert cap_output("abc\n", 10) == ("abc\n", False)


def test_long_text_keeps_head_and_tail_and_says_what_went():
    out, cut = cap_output(TEXT, 1000)
    middle = TEXT[400:len(TEXT) - 600]  # 2/5 of the limit from the head, 3/5 from the tail
    lines = middle.count("\n")
    assert cut
    assert out == (TEXT[:400] + f"\n[... {len(middle)} characters ({lines} lines) cut from "
                   f"the middle ...]\n" + TEXT[len(TEXT) - 600:])


def test_streamed_output_cut_as_the_whole_text_is():
    small = HeadTail(keep=10_000)
    small.feed(b"x" * 500)
    assert small.text(1000) == ("x" * 500, False)
    kept = HeadTail(keep=4000)
    data = TEXT.encode()
    for i in range(0, len(data), 777):
        kept.feed(data[i:i + 777])
    out, cut = kept.text(1000)
    whole, _ = cap_output(TEXT, 1000)
    assert cut and out.replace("about ", "") == whole  # the same cut, counted while streaming
