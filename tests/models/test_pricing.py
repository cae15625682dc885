"""The price table: lookup by name or dated name, overrides, unknown models, cost arithmetic."""
from __future__ import annotations

import pytest

from agent.models.pricing import Price, context_window_for, price_for, priced_usage


def test_exact_and_dated_names():
    assert price_for("claude-haiku-4-5") == Price(1.0, 5.0, 0.1, 1.25)
    assert price_for("claude-haiku-4-5-20251001") == price_for("claude-haiku-4-5")
    assert price_for("gpt-4o-2024-08-06") == price_for("gpt-4o")


def test_no_prefix_guessing():
    # gpt-5.2-pro is not gpt-5.2: an unknown model costs 0 rather than a wrong price.
    assert price_for("gpt-5.2-pro") is None
    assert priced_usage(input_tokens=10**6, output_tokens=10**6, price=None).cost_usd == 0.0


def test_overrides_win_by_model_or_spec_and_cache_rates_default_to_input():
    overrides = {"gpt-5": {"input": 2, "output": 3},
                 "openai-compat:m@http://h/v1": {"input": 1, "output": 1, "cache_read": 0}}
    assert price_for("gpt-5", overrides) == Price(2.0, 3.0, 2.0, 2.0)
    assert price_for("m", overrides, spec="openai-compat:m@http://h/v1") == Price(1.0, 1.0, 0.0, 1.0)


def test_cost_arithmetic():
    usage = priced_usage(input_tokens=2_000_000, output_tokens=100_000, cache_read_tokens=1_000_000,
                         cache_write_tokens=400_000, price=Price(3, 15, 0.3, 3.75))
    assert usage.cost_usd == pytest.approx(6 + 1.5 + 0.3 + 1.5)
    assert usage.cache_write_tokens == 400_000


def test_context_window_lookup_and_override():
    assert context_window_for("gpt-4.1-mini", {}, 128_000) == 1_047_576
    assert context_window_for("mystery", {}, 128_000) == 128_000
    assert context_window_for("gpt-4.1", {"context_window": 32_000}, 128_000) == 32_000
