"""`--executor local`: tasks on a pool of `--workers` threads on this machine.

The work of a task waits on the model and on its sandbox, so threads suffice; each task
has its own checkout, workspace and sandbox. `on_done` is called on the calling (main)
thread, which alone writes the outputs, as each task ends. When `cancel` is set, tasks
not started yet never start and running ones stop at their next step.
"""
from __future__ import annotations

import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Callable

from agent.batch.options import BatchOptions
from agent.batch.runner import OnEvent, TaskOutcome, run_task
from agent.batch.tasks import Task


def run_local(tasks: list[Task], options: BatchOptions, cancel: threading.Event, *,
              on_start: Callable[[str], None], on_event: OnEvent,
              on_done: Callable[[TaskOutcome], None]) -> None:
    def one(task: Task) -> TaskOutcome | None:
        if cancel.is_set():
            return None
        on_start(task.id)
        return run_task(task, options, cancel, on_event)

    with ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="ama-batch") as pool:
        pending: set[Future] = {pool.submit(one, t) for t in tasks}
        try:
            while pending:
                # Poll, so that the main thread keeps handling signals.
                finished, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                for future in finished:
                    outcome = None if future.cancelled() else future.result()
                    if outcome is not None:
                        on_done(outcome)
                if cancel.is_set():
                    for future in pending:
                        future.cancel()
        except BaseException:   # a second Ctrl-C: stop them all, then wait for them to end
            cancel.set()
            for future in pending:
                future.cancel()
            raise
