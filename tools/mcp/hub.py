"""STAND-IN of the real tools/mcp/hub.py (replaced at merge): starts nothing and reports
every server as failed ("stand-in")."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServerStatus:
    name: str
    status: str            # connected | failed | timeout | disabled
    tools: tuple[str, ...]
    error: str = ""


class McpHub:
    def __init__(self, tools: list, statuses: list[ServerStatus]) -> None:
        self.tools = tools
        self.statuses = statuses

    @classmethod
    def start(cls, specs) -> "McpHub":
        return cls([], [ServerStatus(s.name, "failed", (), "stand-in") for s in specs])

    def close(self) -> None:
        pass
