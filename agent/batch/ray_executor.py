"""`--executor ray [--ray-address ADDR]`: each task a Ray task on a cluster.

Every node needs ama installed (`pip install 'amanuensis[ray]'`), a sandbox backend
(Docker or bubblewrap) and the tasks' repositories: at a path every node sees
(`--repos` on shared storage), or cloned there from `--repo-url`. A task runs there as
it runs on a local worker (agent/batch/runner.py `run_task`) and sends its outcome back
to the driver, which alone writes the output dir, so both executors produce the same
files. Without an address, a Ray instance of its own is started on this machine with
`--workers` CPUs, listening on loopback only, and shut down at the end.

Ray is imported here only. Each task asks for one CPU; at most `--workers` (or, when
that is 1, as many as the cluster has CPUs) are in flight at once. Ctrl-C cancels them
(Ray raises KeyboardInterrupt in each, which closes its sandbox and removes its
checkout); they are not recorded and run again next time. A task lost with its node
is not recorded either.
"""
from __future__ import annotations

import os
import threading
from typing import Callable

from agent.batch.options import BatchOptions
from agent.batch.runner import TaskOutcome, run_task
from agent.batch.tasks import Task
from agent.core.errors import BadInput, RuntimeFailure


def remote_task(task: Task, options: BatchOptions) -> TaskOutcome:
    """What runs on a node: the task, with a cancel event of its own (Ray stops it with
    KeyboardInterrupt)."""
    return run_task(task, options, threading.Event())


def run_ray(tasks: list[Task], options: BatchOptions, cancel: threading.Event, *,
            on_start: Callable[[str], None], on_done: Callable[[TaskOutcome], None],
            on_lost: Callable[[str, str], None]) -> None:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")   # no reports home on our behalf
    if not options.ray_address:
        # A Ray of our own on this machine listens on loopback only (Ray's single-node
        # mode; read when ray is imported).
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise BadInput("--executor ray needs Ray: pip install 'amanuensis[ray]' (on the "
                       "driver and on every node)") from None
    started_here = not ray.is_initialized()
    if started_here:
        try:
            if options.ray_address:
                ray.init(address=options.ray_address, log_to_driver=False)
            else:   # "local": a new instance, never one that happens to run here
                ray.init(address="local", num_cpus=options.workers, include_dashboard=False,
                         log_to_driver=False)
        except (ConnectionError, ValueError, RuntimeError) as e:
            if not options.ray_address:
                raise RuntimeFailure(f"could not start Ray on this machine: {e}") from None
            raise BadInput(f"--ray-address {options.ray_address}: could not connect to "
                           f"Ray ({e}); give the head node's address (HOST:PORT, or auto "
                           f"for the cluster this machine belongs to)") from None
    try:
        _drive(ray, tasks, options, cancel, on_start, on_done, on_lost)
    finally:
        if started_here:
            ray.shutdown()


def _drive(ray, tasks: list[Task], options: BatchOptions, cancel: threading.Event,
           on_start, on_done, on_lost) -> None:
    remote = ray.remote(num_cpus=1, max_retries=0)(remote_task)
    width = options.workers if options.workers > 1 else max(1, int(ray.cluster_resources().get("CPU", 1)))
    queue = list(reversed(tasks))
    in_flight: dict = {}
    try:
        while queue or in_flight:
            while queue and len(in_flight) < width and not cancel.is_set():
                task = queue.pop()
                in_flight[remote.remote(task, options)] = task
                on_start(task.id)
            if cancel.is_set():
                break
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=0.1)
            for ref in ready:
                task = in_flight.pop(ref)
                try:
                    on_done(ray.get(ref))
                except ray.exceptions.RayError as e:
                    on_lost(task.id, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    finally:
        for ref in in_flight:
            ray.cancel(ref)
        for ref, task in in_flight.items():
            try:
                outcome = ray.get(ref)
            except ray.exceptions.RayError:
                on_lost(task.id, "interrupted")
                continue
            on_done(outcome)
