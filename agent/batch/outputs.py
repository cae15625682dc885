"""The output dir of `ama batch -o DIR`, written by the driver alone.

    preds.json               SWE-bench predictions: {instance_id: {instance_id,
                             model_name_or_path, model_patch}}, rewritten (atomically)
                             after every task
    tasks/<id>/result.json   the task's result object (agent/batch/runner.py
                             `task_record`); written last, so it marks the task done
    tasks/<id>/events.jsonl  every attempt's session log, one event a line, each with
                             its `attempt`
    summary.json             counts, usage and one row per task (agent/batch/summary.py)
    the --rollouts file      one record per attempt (agent/batch/rollouts.py)

A task is done when its result.json is there. Everything else is derived from those
files when a run starts (preds.json rebuilt from them; rollouts of a task that is not
done, left by a run killed mid-task, dropped), so a run killed at any point leaves a
directory the next run picks up exactly where it stopped, every task done once.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from agent.batch.runner import TaskOutcome
from agent.core.errors import BadInput
from tools import json_safe
from tools.workspace.atomic_files import FileWrite, write_atomically


def _json(obj: Any) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=1, default=str) + "\n").encode()


def _lines(objs: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(o, ensure_ascii=False, default=str) + "\n" for o in objs).encode()


class OutputDir:
    """The output dir and the rollouts file; `records` holds every done task's result."""

    def __init__(self, root: Path, rollouts: Path | None):
        self.root = Path(root).expanduser()
        self.rollouts = Path(rollouts).expanduser() if rollouts is not None else None
        try:
            (self.root / "tasks").mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise BadInput(f"-o {self.root}: cannot create the output dir "
                           f"({e.strerror or e}); name a folder you can write to") from None
        if self.rollouts is not None and not self.rollouts.parent.is_dir():
            raise BadInput(f"--rollouts {self.rollouts}: the folder {self.rollouts.parent} "
                           f"does not exist; create it first")
        self.records: dict[str, dict[str, Any]] = self._read_records()
        self._with_rollouts: set[str] = set()
        self._settle()

    # ---- reading what is there ----------------------------------------------------

    def _read_records(self) -> dict[str, dict[str, Any]]:
        records = {}
        for path in sorted((self.root / "tasks").glob("*/result.json")):
            try:
                record = json_safe.loads(path.read_text(encoding="utf-8"), max_chars=1 << 31)
            except (OSError, UnicodeDecodeError, json_safe.JSONTextError):
                continue   # not a finished task: it runs again
            if isinstance(record, dict) and record.get("instance_id") == path.parent.name:
                records[path.parent.name] = record
        return records

    def _settle(self) -> None:
        """Make the derived files agree with the done tasks."""
        self._write_preds()
        if self.rollouts is None or not self.rollouts.exists():
            return
        kept = []
        for line in self.rollouts.read_text(encoding="utf-8").splitlines():
            try:
                r = json_safe.loads(line, max_chars=1 << 31)
            except json_safe.JSONTextError:
                continue   # a line torn by a kill
            if isinstance(r, dict) and r.get("instance_id") in self.records:
                kept.append(r)
        self._with_rollouts = {r["instance_id"] for r in kept}
        write_atomically(self.rollouts.parent, [FileWrite(self.rollouts.name, _lines(kept))])

    # ---- writing a finished task --------------------------------------------------

    def write_task(self, outcome: TaskOutcome, model_name: str) -> None:
        """Record a finished task: its events and rollouts, then its result (the task is
        done from here on), then preds.json."""
        tid = outcome.id
        write_atomically(self.root / "tasks", [FileWrite(f"{tid}/events.jsonl",
                                                         _lines(outcome.events))])
        if self.rollouts is not None:
            self._add_rollouts(tid, outcome.rollouts)
        record = {**outcome.record, "model_name_or_path": model_name}
        write_atomically(self.root / "tasks", [FileWrite(f"{tid}/result.json", _json(record))])
        self.records[tid] = record
        self._write_preds()

    def _add_rollouts(self, tid: str, records: list[dict[str, Any]]) -> None:
        if tid in self._with_rollouts:   # redone: its earlier records go
            kept = [r for r in self._read_rollouts() if r.get("instance_id") != tid]
            write_atomically(self.rollouts.parent,
                             [FileWrite(self.rollouts.name, _lines(kept + records))])
        else:
            with open(self.rollouts, "ab") as fh:
                fh.write(_lines(records))
                fh.flush()
                os.fsync(fh.fileno())
        self._with_rollouts.add(tid)

    def _read_rollouts(self) -> list[dict[str, Any]]:
        out = []
        for line in self.rollouts.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json_safe.loads(line, max_chars=1 << 31))
            except json_safe.JSONTextError:
                continue
        return out

    def _write_preds(self) -> None:
        preds = {tid: {"instance_id": tid, "model_name_or_path": r.get("model_name_or_path", ""),
                       "model_patch": r.get("model_patch", "")}
                 for tid, r in sorted(self.records.items())}
        write_atomically(self.root, [FileWrite("preds.json", _json(preds))])

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_atomically(self.root, [FileWrite("summary.json", _json(summary))])
