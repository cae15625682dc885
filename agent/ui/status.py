"""The status line: model, mode, context used (% of the window), tokens, cost."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Status:
    """What the status line shows. `context_tokens`: the last request's input size."""
    model: str
    mode: str = "review"
    context_tokens: int = 0
    context_window: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def context_percent(self) -> int:
        if not self.context_window:
            return 0
        return min(100, round(100 * self.context_tokens / self.context_window))


def short_tokens(n: int) -> str:
    """1234 -> '1.2k', 2_500_000 -> '2.5M'."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return str(n)


def status_text(s: Status, max_model: int = 40) -> str:
    """One line, e.g. 'claude-sonnet-4-5 · review · ctx 12% · 3.4k tok · $0.0123'."""
    model = s.model if len(s.model) <= max_model else "…" + s.model[-(max_model - 1):]
    return (f"{model} · {s.mode} · ctx {s.context_percent}% · "
            f"{short_tokens(s.total_tokens)} tok · ${s.cost_usd:.4f}")
