"""`ama batch`: the driver. It reads the task file, skips what the output dir says is
done, hands the rest to an executor (threads here, or a Ray cluster), and alone writes
every output as the results come back.

Exit codes: 0 every selected task is done (each task's own outcome is in its result
and the summary); 1 a task was lost (a Ray node died; it runs again next time); 2 bad
input (task file, flags); 130 interrupted: the first SIGINT or
SIGTERM stops the running tasks at their next step — they are not recorded and run
again next time — and the outputs stay consistent; a second one aborts.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from agent.batch.options import BatchOptions
from agent.batch.outputs import OutputDir
from agent.batch.runner import TaskOutcome
from agent.batch.summary import summarize
from agent.batch.tasks import load_tasks, select
from agent.ui.batch_view import BatchView, summary_table
from agent.headless.interrupt import install_interrupt


def run_batch(options: BatchOptions, err: TextIO = sys.stderr, live: bool | None = None) -> int:
    """Run the batch `options` describes. Returns the exit code; BadInput before any
    task starts."""
    started = time.monotonic()
    tasks = select(load_tasks(options.tasks_file), slice_=options.slice_,
                   pattern=options.filter_, shuffle=options.shuffle, seed=options.seed)
    out = OutputDir(options.out_dir, options.rollouts)
    todo = [t for t in tasks if options.redo_existing or t.id not in out.records]
    model_name = options.model_name or options.model or ""
    view = BatchView(err, len(tasks), len(tasks) - len(todo), live=live)
    cancel = threading.Event()
    restore = install_interrupt(cancel)

    def done(outcome: TaskOutcome) -> None:
        if outcome.interrupted:
            view.finished_task(outcome.id, None)
            return
        out.write_task(outcome, model_name or outcome.record.get("model", ""))
        view.finished_task(outcome.id, out.records[outcome.id])
        out.write_summary(summarize(tasks, out.records, time.monotonic() - started, False))

    lost: list[str] = []

    def lose(task_id: str, why: str) -> None:
        lost.append(task_id)
        view.finished_task(task_id, None, why)

    try:
        if options.executor == "ray":
            from agent.batch.ray_executor import run_ray
            run_ray(todo, options, cancel, on_start=view.started_task, on_done=done,
                    on_lost=lose)
        else:
            from agent.batch.local_executor import run_local
            run_local(todo, options, cancel, on_start=view.started_task, on_event=view.event,
                      on_done=done)
    finally:
        restore()
        view.close()
        summary = summarize(tasks, out.records, time.monotonic() - started, cancel.is_set())
        out.write_summary(summary)
        summary_table(summary, err)
    return 130 if cancel.is_set() else 1 if lost else 0
