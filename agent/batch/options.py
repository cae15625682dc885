"""What one `ama batch` run was asked for: typed, validated once, picklable (the Ray
executor ships it to its workers as it is)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent.core.errors import BadInput
from agent.session.options import SELECT, check_ranges

EXECUTORS = ("local", "ray")
DEFAULT_REPO_URL = "https://github.com/{repo}.git"
PLACEHOLDER = "{instance_id}"


@dataclass(frozen=True)
class BatchOptions:
    """The flags of `ama batch` (each the flag of the same name, `ama batch --help`).

    tasks_file, out_dir: the task file and the output dir (`-o`)
    repos:         a folder of clones or bare repos (owner+name or owner/name), or None
    repo_url:      where a repo not in `repos` is cloned from ({repo}: owner/name)
    model:         the model spec; `{instance_id}` names a per-task one (script files)
    model_name:    `model_name_or_path` in preds.json (default: `model` as given)
    sandbox, sandbox_image (may hold {instance_id}), network, permission_mode,
    allowed_tools, disallowed_tools, config: as for `ama -p`, for every task
    max_turns, max_cost, max_time: limits per attempt
    verify:        a verification command for every task ({instance_id} allowed); a
                   task's own `verify` wins
    test_cmd:      a command template ({tests}: the shell-quoted test ids): with
                   FAIL_TO_PASS it verifies a task and measures its reward
    max_verify, attempts, select: per task, as for `ama -p`
    trusted_tasks: the task texts are the user's own: not wrapped as untrusted, and
                   `--sandbox local` is allowed
    workers:       tasks running at once
    executor:      local | ray; ray_address: the cluster (None: start or join a local one)
    rollouts:      the rollouts file (JSONL), or None
    redo_existing: run tasks that are already done again
    slice_, filter_, shuffle, seed: which tasks (agent/batch/tasks.py `select`)
    """
    tasks_file: Path
    out_dir: Path
    repos: Path | None = None
    repo_url: str = DEFAULT_REPO_URL
    model: str | None = None
    model_name: str | None = None
    sandbox: str | None = None
    sandbox_image: str | None = None
    network: bool | None = None
    permission_mode: str | None = None
    allowed_tools: tuple[str, ...] = ()
    disallowed_tools: tuple[str, ...] = ()
    config: tuple[str, ...] = ()
    max_turns: int | None = None
    max_cost: float | None = None
    max_time: float | None = None
    verify: str | None = None
    test_cmd: str | None = None
    max_verify: int | None = None
    attempts: int = 1
    select: str = "smallest"
    trusted_tasks: bool = False
    workers: int = 1
    executor: str = "local"
    ray_address: str | None = None
    rollouts: Path | None = None
    redo_existing: bool = False
    slice_: str | None = None
    filter_: str | None = None
    shuffle: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        check_ranges((self.workers, "--workers", "count"), (self.attempts, "--attempts", "count"),
                     (self.max_turns, "--max-turns", "count"),
                     (self.max_cost, "--max-cost", "positive"),
                     (self.max_time, "--max-time", "positive"),
                     (self.max_verify, "--max-verify", "count"))
        if self.executor not in EXECUTORS:
            raise BadInput(f"--executor {self.executor!r}: choose one of {', '.join(EXECUTORS)}")
        if self.ray_address and self.executor != "ray":
            raise BadInput("--ray-address needs --executor ray")
        if self.select not in SELECT:
            raise BadInput(f"--select {self.select!r}: choose one of {', '.join(SELECT)}")
        if self.test_cmd is not None and "{tests}" not in self.test_cmd:
            raise BadInput(f"--test-cmd {self.test_cmd!r} has no {{tests}}: write where the "
                           f"test ids go, e.g. \"python -m pytest -q {{tests}}\"")
        if "{repo}" not in self.repo_url:
            raise BadInput(f"--repo-url {self.repo_url!r} has no {{repo}} (owner/name goes there)")
        if self.repos is not None:
            if not Path(self.repos).expanduser().is_dir():
                raise BadInput(f"--repos {self.repos}: no such directory")
            object.__setattr__(self, "repos", Path(self.repos).expanduser().absolute())
        self._check_session_flags()

        if self.model and self.model.startswith("script:"):
            # Script files are named from where `ama batch` runs, not from each checkout.
            paths = [str(Path(p).expanduser().absolute()) if p else p
                     for p in self.model[len("script:"):].split(",")]
            object.__setattr__(self, "model", "script:" + ",".join(paths))

    def _check_session_flags(self) -> None:
        """The flags every task's session shares, checked once here: wrong, they would
        fail every task the same way (and each would be recorded as done)."""
        from agent.core.permissions import MODES, Rule
        from tools.sandbox.select import KINDS
        if self.sandbox is not None and self.sandbox not in KINDS:
            raise BadInput(f"--sandbox {self.sandbox!r}: choose one of {', '.join(KINDS)}")
        if self.permission_mode is not None and self.permission_mode not in MODES:
            raise BadInput(f"--permission-mode {self.permission_mode!r}: choose "
                           f"{', '.join(MODES)}")
        for rule in (*self.allowed_tools, *self.disallowed_tools):
            try:
                Rule.parse(rule)
            except ValueError as e:
                raise BadInput(str(e)) from None
        if self.trusted_tasks:
            return
        untrusted = ("task texts are untrusted input by default; pass --trusted-tasks if "
                     "the tasks are your own")
        if self.sandbox == "local":
            raise BadInput(f"--sandbox local runs the model's commands on this machine, and "
                           f"{untrusted} (or use --sandbox docker or bwrap)")
        if self.network:
            raise BadInput(f"--network: {untrusted}; an untrusted task never gets network access")
        if self.permission_mode == "bypass":
            raise BadInput(f"--permission-mode bypass: {untrusted}")

    def for_task(self, template: str | None, task_id: str) -> str | None:
        """`template` with {instance_id} replaced by `task_id` (None stays None)."""
        return None if template is None else template.replace(PLACEHOLDER, task_id)
