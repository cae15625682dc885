"""`ama batch TASKS -o DIR`: many tasks at once. Light at import (typer only); the work
happens in agent/batch/driver.py."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from agent.cli.fail import fail
from agent.core.errors import AmaError

HELP = ("Run every task of a JSON or JSONL file (SWE-bench records, or the ama form: id, "
        "repo or cwd, base_commit, task, verify), each a headless run on a checkout of its "
        "base_commit in its own workspace and sandbox. Writes DIR/preds.json (SWE-bench "
        "predictions), DIR/tasks/<id>/result.json and events.jsonl, DIR/summary.json; a "
        "second run skips the tasks already done. Exit 0 when every task is done, 130 when "
        "interrupted (run again to finish).")


def batch_command(
    tasks: Path = typer.Argument(..., help="The task file: JSON (a list) or JSONL."),
    out: Path = typer.Option(..., "--output", "-o", help="The output dir (made if missing)."),
    repos: Optional[Path] = typer.Option(None, "--repos", help="A folder of clones or bare "
                                         "repos, laid out owner+name or owner/name."),
    repo_url: str = typer.Option("https://github.com/{repo}.git", "--repo-url",
                                 help="Where a repo not in --repos is cloned from ({repo}: "
                                      "owner/name)."),
    workers: int = typer.Option(1, "--workers", "-w", help="Tasks running at once."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="The model spec; "
                                        "{instance_id} names a per-task one, e.g. "
                                        "script:DIR/{instance_id}.jsonl."),
    model_name: Optional[str] = typer.Option(None, "--model-name", help="model_name_or_path "
                                             "in preds.json (default: --model)."),
    rollouts: Optional[Path] = typer.Option(None, "--rollouts", help="Write one training "
                                            "record per attempt to this JSONL file."),
    executor: str = typer.Option("local", "--executor", help="local (threads) | ray"),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="The Ray cluster "
                                              "(default: start one on this machine)."),
    sandbox: Optional[str] = typer.Option(None, "--sandbox", help="docker | bwrap | local "
                                          "(local needs --trusted-tasks)."),
    sandbox_image: Optional[str] = typer.Option(None, "--sandbox-image", help="Docker image; "
                                                "{instance_id} names a per-task one."),
    network: Optional[bool] = typer.Option(None, "--network/--no-network",
                                           help="Network in the sandbox (not for untrusted tasks)."),
    max_turns: Optional[int] = typer.Option(None, "--max-turns", help="Per attempt."),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", help="USD per attempt."),
    max_time: Optional[float] = typer.Option(None, "--max-time", help="Seconds per attempt."),
    verify: Optional[str] = typer.Option(None, "--verify", help="A command that must pass for "
                                         "a task to be done ({instance_id} allowed); a task's "
                                         "own verify wins."),
    test_cmd: Optional[str] = typer.Option(None, "--test-cmd", help="How to run named tests, "
                                           "e.g. \"python -m pytest -q {tests}\": verifies "
                                           "tasks with FAIL_TO_PASS (their test_patch applied "
                                           "first) and measures the reward."),
    max_verify: Optional[int] = typer.Option(None, "--max-verify", help="Verification runs per "
                                             "attempt (default 3)."),
    attempts: int = typer.Option(1, "--attempts", help="Attempts per task (a rollout group)."),
    select: str = typer.Option("smallest", "--select", help="Which passing attempt's patch "
                               "goes to preds.json: smallest | first (stops at the first pass)."),
    trusted_tasks: bool = typer.Option(False, "--trusted-tasks", help="The task texts are "
                                       "your own: not treated as untrusted input."),
    redo_existing: bool = typer.Option(False, "--redo-existing", help="Run tasks already done "
                                       "again."),
    slice_: Optional[str] = typer.Option(None, "--slice", help="START:STOP of the tasks "
                                         "(after --filter and --shuffle)."),
    filter_: Optional[str] = typer.Option(None, "--filter", help="Only ids matching REGEX."),
    shuffle: bool = typer.Option(False, "--shuffle", help="Shuffle the tasks (with --seed)."),
    seed: int = typer.Option(0, "--seed", help="The shuffle's seed."),
    allowed_tools: List[str] = typer.Option([], "--allowed-tools", help="Permission rule; "
                                            "repeatable."),
    disallowed_tools: List[str] = typer.Option([], "--disallowed-tools", help="Deny rule; "
                                               "repeatable."),
    permission_mode: Optional[str] = typer.Option(None, "--permission-mode",
                                                  help="default | plan | bypass"),
    config: List[str] = typer.Option([], "--config", help="An extra config file (TOML), or "
                                     "KEY=VALUE; repeatable."),
) -> None:
    from agent.batch.driver import run_batch
    from agent.batch.options import BatchOptions
    try:
        options = BatchOptions(
            tasks_file=tasks, out_dir=out, repos=repos, repo_url=repo_url, model=model,
            model_name=model_name, sandbox=sandbox, sandbox_image=sandbox_image, network=network,
            permission_mode=permission_mode, allowed_tools=tuple(allowed_tools),
            disallowed_tools=tuple(disallowed_tools), config=tuple(config), max_turns=max_turns,
            max_cost=max_cost, max_time=max_time, verify=verify, test_cmd=test_cmd,
            max_verify=max_verify, attempts=attempts, select=select, trusted_tasks=trusted_tasks,
            workers=workers, executor=executor, ray_address=ray_address, rollouts=rollouts,
            redo_existing=redo_existing, slice_=slice_, filter_=filter_, shuffle=shuffle,
            seed=seed)
        code = run_batch(options)
    except AmaError as e:
        fail(e)
    raise typer.Exit(code)
