"""The outline: budget, order, parents."""
from __future__ import annotations

from pathlib import Path

from tools.repomap.graph import rank_definitions
from tools.repomap.languages import language_for
from tools.repomap.render import estimate_tokens, outline, render
from tools.repomap.tags import extract

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_tags():
    return {p.name: extract(p.read_bytes(), language_for(p.name))
            for p in sorted(FIXTURES.iterdir()) if language_for(p.name)}


def test_render_respects_every_budget_and_grows_with_it():
    tags = fixture_tags()
    ranked, _ = rank_definitions(tags, limit=10_000)
    sizes = []
    for budget in (0, 5, 20, 50, 100, 300, 1000, 5000):
        text = render(ranked[:budget], tags, budget)
        assert estimate_tokens(text) <= budget
        sizes.append(len(text))
    assert sizes == sorted(sizes) and sizes[0] == 0
    # a large budget shows every ranked definition
    full = render(ranked, tags, 100_000)
    assert full == outline(ranked, tags)


def test_outline_shows_parents_in_source_order_with_line_numbers():
    tags = {"sample.py": extract((FIXTURES / "sample.py").read_bytes(), "python")}
    defs = tags["sample.py"][0]
    area = next(j for j, d in enumerate(defs) if d[0] == "area")
    make = next(j for j, d in enumerate(defs) if d[0] == "make")
    text = outline([(1.0, "sample.py", make), (0.5, "sample.py", area)], tags)
    assert text == ("sample.py:\n"
                    "   6│class Circle(Shape):\n"
                    "  13│    def area(self) -> float:\n"
                    "  21│def make() -> Circle:\n")


def test_files_appear_best_first():
    tags = fixture_tags()
    ranked = [(2.0, "sample.go", 0), (1.0, "sample.py", 0), (0.5, "sample.go", 1)]
    lines = outline(ranked, tags).splitlines()
    headers = [ln for ln in lines if ln.endswith(":") and "│" not in ln]
    assert headers == ["sample.go:", "sample.py:"]
