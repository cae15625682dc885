"""What `ama batch` shows on stderr while it runs, and the table it ends with.

On a terminal, a live view (rich): one line per running task (id, attempt, turn, last
tool, elapsed) over a bar with done/total, pass rate, tokens, cost and ETA. Elsewhere
(CI logs, a pipe) one plain line per task as it starts and ends. Events come from the
tasks' threads; everything here is guarded by one lock.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, TextIO

from agent.core import events as ev


@dataclass
class _Running:
    started: float
    attempt: int = 0
    turn: int = 0
    tool: str = ""
    tokens: int = 0


class BatchView:
    """Progress of one run over `total` tasks, `skipped` of them done before."""

    def __init__(self, err: TextIO, total: int, skipped: int, live: bool | None = None):
        self.err, self.total, self.skipped = err, total, skipped
        self.lock = threading.Lock()
        self.running: dict[str, _Running] = {}
        self.done = self.passed = self.tokens = 0
        self.cost = 0.0
        self.started = time.monotonic()
        self._live = None
        live = err.isatty() if live is None else live
        if live:
            from rich.console import Console
            from rich.live import Live
            self._live = Live(get_renderable=self.render, console=Console(file=err, stderr=True),
                              refresh_per_second=4, transient=True)
            self._live.start()
        elif skipped:
            self._say(f"{skipped} of {total} tasks already done (skipped; --redo-existing runs "
                      f"them again)")

    # ---- from the tasks ----------------------------------------------------------

    def started_task(self, task_id: str) -> None:
        with self.lock:
            self.running[task_id] = _Running(time.monotonic())
        if self._live is None:
            self._say(f"start {task_id}")

    def event(self, task_id: str, attempt: int, e: ev.Event) -> None:
        with self.lock:
            r = self.running.get(task_id)
            if r is None:
                return
            if r.attempt != attempt:
                r.attempt, r.turn, r.tool = attempt, 0, ""
            if isinstance(e, ev.TurnStarted):
                r.turn = e.turn
            elif isinstance(e, ev.ToolCallProposed):
                from agent.ui.toolcalls import key_argument
                r.tool = f"{e.name} {key_argument(e.name, e.arguments)}"[:60]
            elif isinstance(e, ev.UsageEvent):
                r.tokens = int(e.total.get("input_tokens", 0)) + int(e.total.get("output_tokens", 0))

    def finished_task(self, task_id: str, record: dict[str, Any] | None,
                      why: str = "interrupted") -> None:
        """`record`: the task's result object; None when it ended without one (`why`)."""
        with self.lock:
            r = self.running.pop(task_id, None)
            if record is not None:
                self.done += 1
                self.passed += bool(record.get("resolved"))
                usage = record.get("usage") or {}
                self.tokens += usage.get("input_tokens", 0) + usage.get("output_tokens", 0)
                self.cost += record.get("total_cost_usd", 0.0)
            count = self.skipped + self.done
        if self._live is not None:
            return
        if record is None:
            self._say(f"stopped {task_id} ({why}): it runs again next time")
            return
        took = time.monotonic() - r.started if r else 0.0
        verdict = "resolved" if record.get("resolved") else "unresolved"
        turns = record.get("num_turns", 0)
        self._say(f"[{count}/{self.total}] {task_id}: {record['subtype']} (exit "
                  f"{record['exit_code']}), {verdict}, {turns} turn{'' if turns == 1 else 's'}, "
                  f"{took:.1f}s")

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()

    # ---- rendering ---------------------------------------------------------------

    def _say(self, line: str) -> None:
        with self.lock:
            self.err.write(f"ama batch: {line}\n")
            self.err.flush()

    def render(self):
        """The live view now: a table of the running tasks over the bar."""
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text
        with self.lock:
            now = time.monotonic()
            table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
            for name in ("task", "try", "turn", "last tool", "tokens", "elapsed"):
                table.add_column(name, no_wrap=True, overflow="ellipsis")
            for tid, r in sorted(self.running.items(), key=lambda kv: kv[1].started):
                table.add_row(tid, str(r.attempt), str(r.turn), r.tool, f"{r.tokens:,}",
                              f"{now - r.started:.0f}s")
            count = self.skipped + self.done
            rate = f"{self.passed / self.done:.0%}" if self.done else "–"
            eta = "–"
            left = self.total - count
            if self.done and left:
                eta = f"{(now - self.started) / self.done * left:.0f}s"
            line = Text(f" {count}/{self.total} done · pass {rate} · {self.tokens:,} tokens · "
                        f"${self.cost:.2f} · ETA {eta}")
            bar = Table.grid()
            bar.add_row(ProgressBar(total=max(self.total, 1), completed=count, width=30), line)
            return Group(table, bar)


def summary_table(summary: dict[str, Any], err: TextIO, max_rows: int = 50) -> None:
    """The table a run ends with: one row per task (up to `max_rows`), then the totals."""
    from rich.console import Console
    from rich.table import Table
    console = Console(file=err, stderr=True, width=None if err.isatty() else 120)
    rows = [r for r in summary["rows"] if r["done"]]
    if rows and len(rows) <= max_rows:
        table = Table(title="ama batch", title_justify="left")
        for name, justify in (("task", "left"), ("status", "left"), ("exit", "right"),
                              ("resolved", "left"), ("reward", "right"), ("turns", "right"),
                              ("tokens", "right"), ("cost", "right"), ("time", "right")):
            table.add_column(name, justify=justify)
        for r in rows:
            table.add_row(r["instance_id"], r["subtype"], str(r["exit_code"]),
                          "yes" if r["resolved"] else "no",
                          "–" if r["reward"] is None else f"{r['reward']:.2f}", str(r["turns"]),
                          f"{r['input_tokens'] + r['output_tokens']:,}", f"${r['cost_usd']:.4f}",
                          f"{r['seconds']:.1f}s")
        console.print(table)
    rate = "–" if summary["pass_rate"] is None else f"{summary['pass_rate']:.0%}"
    exits = ", ".join(f"exit {k}: {v}" for k, v in summary["by_exit_code"].items()) or "none"
    console.print(f"{summary['done']}/{summary['tasks']} tasks done · resolved "
                  f"{summary['resolved']} ({rate}) · {exits} · "
                  f"{summary['input_tokens'] + summary['output_tokens']:,} tokens · "
                  f"${summary['cost_usd']:.4f} · {summary['wall_seconds']:.1f}s"
                  + (" · interrupted: run again to finish" if summary["interrupted"] else ""),
                  highlight=False, markup=False)
