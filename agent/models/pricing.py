"""Prices and context windows of known models, read from `prices.json` (data, not code).

A model matches an entry by exact name or by name plus a date suffix
(`claude-sonnet-4-5-20250929`, `gpt-4o-2024-08-06`, `-latest`). Config may override or
add entries with an `options["prices"]` mapping of the same shape, keyed by the model
name or the full spec (`openai-compat:qwen3@http://...`). A provider preset passes its own table
(`presets.json`) in place of this one. Unknown models cost 0: `price_for` says None, and
`unknown_price_note` is what to tell the user.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Mapping

from agent.core.types import Usage

_DATE_SUFFIX = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2}|latest)$")


@dataclass(frozen=True)
class Price:
    """USD per million tokens. `input` is for uncached input tokens."""

    input: float
    output: float
    cache_read: float
    cache_write: float

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> "Price":
        """An entry needs `input` and `output`; cache rates default to the input rate."""
        inp = float(entry["input"])
        return cls(input=inp, output=float(entry["output"]),
                   cache_read=float(entry.get("cache_read", inp)),
                   cache_write=float(entry.get("cache_write", inp)))


@cache
def _table() -> Mapping[str, Mapping[str, Any]]:
    text = resources.files("agent.models").joinpath("prices.json").read_text(encoding="utf-8")
    return MappingProxyType(json.loads(text)["models"])


def _entry(model: str, spec: str | None, overrides: Mapping[str, Any] | None,
           table: Mapping[str, Any] | None = None) -> Mapping[str, Any] | None:
    candidates = [c for c in (spec, model, _DATE_SUFFIX.sub("", model)) if c]
    for found in (overrides or {}, _table() if table is None else table):
        for name in candidates:
            if name in found:
                return found[name]
    return None


def price_for(model: str, overrides: Mapping[str, Any] | None = None,
              spec: str | None = None, table: Mapping[str, Any] | None = None) -> Price | None:
    """The price of `model` (the name sent on the wire), or None when unknown. `table`:
    where to look after the overrides (default: prices.json)."""
    entry = _entry(model, spec, overrides, table)
    if entry is None or "input" not in entry or "output" not in entry:
        return None
    return Price.from_entry(entry)


def context_window_for(model: str, options: Mapping[str, Any], default: int,
                       spec: str | None = None, table: Mapping[str, Any] | None = None) -> int:
    """`options["context_window"]`, else the overrides' or `table`'s entry (default:
    prices.json), else `default`."""
    if options.get("context_window"):
        return int(options["context_window"])
    entry = _entry(model, spec, options.get("prices"), table)
    if entry is not None and entry.get("context_window"):
        return int(entry["context_window"])
    return default


def unknown_price_note(spec: str, model: str) -> str:
    """What to tell the user about a model whose price no table knows."""
    return (f"no price is known for {spec}, so its cost is unknown (counted as 0) and "
            f"--max-cost cannot stop a run; add its prices under [prices.{json.dumps(model)}] "
            f"in your config")


def priced_usage(*, input_tokens: int, output_tokens: int, cache_read_tokens: int = 0,
                 cache_write_tokens: int = 0, price: Price | None) -> Usage:
    """A `Usage` with `cost_usd` filled in (0 when the price is unknown).

    `input_tokens` are the uncached input tokens only; the total prompt is
    input + cache_read + cache_write.
    """
    cost = 0.0
    if price is not None:
        cost = (input_tokens * price.input + output_tokens * price.output
                + cache_read_tokens * price.cache_read
                + cache_write_tokens * price.cache_write) / 1_000_000
    return Usage(input_tokens=input_tokens, output_tokens=output_tokens,
                 cache_read_tokens=cache_read_tokens, cache_write_tokens=cache_write_tokens,
                 cost_usd=cost)
