"""Prompt templates: markdown + Jinja2, rendered with StrictUndefined. Data, not code."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

PROMPTS_DIR = Path(__file__).parent


@lru_cache(maxsize=1)
def _env():
    import jinja2
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(PROMPTS_DIR)),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                              trim_blocks=True, lstrip_blocks=True, autoescape=False)


def render(name: str, **variables: Any) -> str:
    """Render `prompts/NAME` (e.g. "system.md") with `variables`; a missing variable raises."""
    return _env().get_template(name).render(**variables)
