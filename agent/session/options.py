"""What a session is, and what one headless run asks for: typed, validated once.

    SessionOptions   everything `open_session` needs (model, sandbox, permissions,
                     limits, trust, the config it was settled from)
    RunRequest       what `ama -p` adds: the task, output format, --apply, CI flags

Both validate themselves when built (BadInput, exit 2), so a front end or a program
embedding ama gets the same checks the CLI does: every limit and count in range (no
negative --max-time, no zero --attempts), every output writable before the run starts.
`agent/session/settle.py` builds them from the command line's flags and the config layers.
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Mapping, TYPE_CHECKING

from agent.config.schema import RANGES
from agent.core.errors import BadInput
from agent.core.hooks import HookSpec
from agent.core.loop import Limits
from agent.core.permissions import MODES as PERMISSION_MODES, Rule

if TYPE_CHECKING:
    from agent.config.load import Config
    from agent.extensions.agents import AgentDefinition
    from agent.extensions.commands import CustomCommand
    from tools.mcp.spec import ServerSpec
    from tools.skill import Skill

# stream-json: Claude Code's messages (agent/headless/claude_stream.py); ama-events: ama's own
# events, one a line (agent/core/events.py), the result object last.
OUTPUT_FORMATS = ("text", "json", "stream-json", "ama-events")
INPUT_FORMATS = ("text", "stream-json")   # stream-json: user messages on stdin, a turn each
SELECT = ("smallest", "first")      # which passing attempt wins
TASK_FILE_LIMIT = 200_000           # characters; an issue body past this is not a task
# Control characters a text task never holds (tab, newline, carriage return and form feed
# are text); they mean a binary file, or terminal escapes that would reach the model.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


def check_ranges(*checks: tuple[Any, str, str]) -> None:
    """Each (value, flag, range name in config's RANGES): BadInput unless value is None
    or in its range."""
    for value, flag, range_name in checks:
        ok, wanted = RANGES[range_name]
        if value is not None and not ok(value):
            raise BadInput(f"{flag} must be {wanted}, not {value!r}")


class Mode(str, Enum):
    """How a front end treats a turn's changes: reviewed hunk by hunk, applied as they
    come, or not made at all (plan: read-only tools, the model proposes a plan)."""
    REVIEW = "review"
    AUTO_ACCEPT = "auto-accept"
    PLAN = "plan"

    def next(self) -> "Mode":
        modes = list(Mode)
        return modes[(modes.index(self) + 1) % len(modes)]


@dataclass(frozen=True)
class SessionOptions:
    """One session's settings.

    model:           PROVIDER:MODEL (anthropic:…, openai:…, openai-compat:NAME@URL,
                     local:PATH, script:FILE.jsonl)
    cwd:             where ama was started (the repository, or a folder below its top)
    limits:          turns, seconds and USD per run
    sandbox:         docker | bwrap | local; None picks docker, else bwrap (AMA_SANDBOX)
    sandbox_image:   the Docker image (None: amanuensis-sandbox)
    network:         the sandbox may reach the network
    permission_mode: default | plan (read-only) | bypass
    allow, ask, deny: permission rules TOOL or TOOL(PATTERN) (flags + config)
    granted:         rules the user saved with "always allow" for this repository
    verify:          a command that must pass for a run to be done (None: the model says)
    max_verify:      how many times `verify` may run in one run
    trusted:         the user trusts this repository's own files (config, AGENTS.md)
    resume:          continue this session id (its log and its workspace)
    keep_workspace:  keep the scratch copy when the session closes
    model_options:   provider options from config (base_url, api_key, prices, …)
    repo_map_tokens: size of the first turn's repo map (0: none)
    compaction_threshold, compaction_keep_turns: when to summarise, what stays verbatim
    context_window:  override of the model's window in tokens (None: the model's)
    config:          the merged config these came from (for tables later parts read)
    notices:         warnings to show when the session opens (e.g. an untrusted config)
    mcp_servers:     the MCP servers to start (agent/config/mcp.py decides which)
    mcp_refused:     (server, why) of enabled servers that are not started (status
                     "disabled", a warning each)
    commands:        custom slash commands by name (agent/extensions/commands.py)
    skills:          the skills the model may load (agent/extensions/skills.py)
    hooks:           the hooks to run, in order (agent/config/hooks.py builds them)
    max_stop_returns: how often Stop hooks may send the model back in one run
    agents:          agent definitions the `task` tool can start (agent/extensions/agents.py)
    subagent_model:  PROVIDER:MODEL of the built-in `explore` subagent (None: the session's)
    subagent_max_depth: how deep subagents nest (1: a subagent starts none; 0: no `task`)
    """
    model: str
    cwd: Path
    limits: Limits = field(default_factory=Limits)
    sandbox: str | None = None
    sandbox_image: str | None = None
    network: bool = False
    permission_mode: str = "default"
    allow: tuple[str, ...] = ()
    ask: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    granted: tuple[str, ...] = ()
    verify: str | None = None
    max_verify: int = 3
    trusted: bool = False
    resume: str | None = None
    keep_workspace: bool = False
    model_options: Mapping[str, Any] = field(default_factory=dict)
    repo_map_tokens: int = 1024
    compaction_threshold: float = 0.8
    compaction_keep_turns: int = 2
    context_window: int | None = None
    config: "Config | None" = None
    notices: tuple[str, ...] = ()
    mcp_servers: tuple["ServerSpec", ...] = ()
    mcp_refused: tuple[tuple["ServerSpec", str], ...] = ()
    commands: Mapping[str, "CustomCommand"] = field(default_factory=dict)
    skills: tuple["Skill", ...] = ()
    hooks: tuple[HookSpec, ...] = ()
    max_stop_returns: int = 3
    agents: tuple["AgentDefinition", ...] = ()
    subagent_model: str | None = None
    subagent_max_depth: int = 1

    def __post_init__(self) -> None:
        from tools.sandbox.select import KINDS
        object.__setattr__(self, "cwd", existing_dir(self.cwd, "--cwd").resolve())
        if self.sandbox is not None and self.sandbox not in KINDS:
            raise BadInput(f"--sandbox {self.sandbox!r}: choose one of {', '.join(KINDS)}")
        if self.permission_mode not in PERMISSION_MODES:
            raise BadInput(f"--permission-mode {self.permission_mode!r}: choose "
                           f"{', '.join(PERMISSION_MODES)}")
        check_ranges((self.limits.max_turns, "--max-turns", "count"),
                     (self.limits.max_seconds, "--max-time", "positive"),
                     (self.limits.max_cost_usd, "--max-cost", "positive"),
                     (self.max_verify, "--max-verify", "count"),
                     (self.context_window, "context_window", "count"),
                     (self.repo_map_tokens, "repo_map.max_tokens", "non-negative"),
                     (self.compaction_threshold, "compaction.threshold", "fraction"),
                     (self.compaction_keep_turns, "compaction.keep_turns", "non-negative"),
                     (self.max_stop_returns, "hooks.max_stop_returns", "non-negative"),
                     (self.subagent_max_depth, "subagents.max_depth", "non-negative"))
        if not all(isinstance(h, HookSpec) for h in self.hooks):
            raise BadInput("SessionOptions.hooks takes HookSpec values (agent/core/hooks.py)")
        for rule in (*self.allow, *self.ask, *self.deny, *self.granted):
            try:
                Rule.parse(rule)
            except ValueError as e:
                raise BadInput(str(e)) from None


@dataclass(frozen=True)
class RunRequest:
    """One headless run (`ama -p`) beyond its session.

    task:          the instruction ("" with input_format stream-json: the turns come from stdin)
    output_format: text | json | stream-json | ama-events
    input_format:  text (the task) | stream-json (user messages as JSON lines on stdin)
    apply:         patch (report only) | tree | commit | branch:NAME
    patch_out:     with --apply patch, write the diff here
    attempts:      independent attempts; the best passing one wins
    parallel:      attempts running at once (None: all)
    select:        smallest | first: which passing attempt wins
    untrusted:     the task comes from an untrusted source (issue, PR comment)
    author:        "Name <email>" of the commit --apply commit|branch:NAME makes
    """
    task: str
    output_format: str = "text"
    input_format: str = "text"
    apply: str = "patch"
    patch_out: Path | None = None
    attempts: int = 1
    parallel: int | None = None
    select: str = "smallest"
    untrusted: bool = False
    author: str | None = None

    def __post_init__(self) -> None:
        from tools.workspace.changeset import author_env
        if self.output_format not in OUTPUT_FORMATS:
            raise BadInput(f"--output-format {self.output_format!r}: choose one of "
                           f"{', '.join(OUTPUT_FORMATS)}")
        if not (self.apply in ("patch", "tree", "commit")
                or (self.apply.startswith("branch:") and len(self.apply) > 7)):
            raise BadInput(f"--apply {self.apply!r} is not one of patch, tree, commit, branch:NAME")
        self._check_formats()
        if self.input_format == "text" and not self.task.strip():
            raise BadInput("the task is empty; give it as an argument, or '-' to read stdin")
        check_ranges((self.attempts, "--attempts", "count"), (self.parallel, "--parallel", "count"))
        if self.patch_out is not None:
            object.__setattr__(self, "patch_out", writable_file(self.patch_out, "--patch-out"))
        if self.select not in SELECT:
            raise BadInput(f"--select {self.select!r}: choose one of {', '.join(SELECT)}")
        try:
            author_env(self.author)
        except ValueError as e:
            raise BadInput(str(e)) from None

    def _check_formats(self) -> None:
        if self.input_format not in INPUT_FORMATS:
            raise BadInput(f"--input-format {self.input_format!r}: choose one of "
                           f"{', '.join(INPUT_FORMATS)}")
        if self.attempts > 1 and self.output_format == "stream-json":
            raise BadInput("--attempts runs several sessions at once and stream-json is one "
                           "session's conversation: use --output-format json or ama-events")
        if self.input_format != "stream-json":
            return
        if self.task:
            raise BadInput("--input-format stream-json reads the turns from stdin: give no "
                           "TASK and no --task-file")
        if self.output_format == "text":
            raise BadInput("--input-format stream-json writes a result for every turn: add "
                           "--output-format stream-json (or json, ama-events)")
        if self.attempts > 1:
            raise BadInput("--attempts cannot be combined with --input-format stream-json: "
                           "each attempt is a session of its own")


def existing_dir(path: Path, flag: str) -> Path:
    """`path` (~ expanded) if it is a directory; BadInput otherwise."""
    try:
        found = Path(path).expanduser()
        if found.is_dir():
            return found
    except (OSError, ValueError):   # a name too long for the OS, a NUL byte
        pass
    raise BadInput(f"{flag} {path}: no such directory")


def writable_file(path: Path, flag: str) -> Path:
    """`path` (~ expanded) if a file can be written there: its folder exists and takes
    files, and it is not a folder itself. BadInput says which and what to do."""
    try:
        path = Path(path).expanduser()
        folder = path.parent
        if path.is_dir():
            raise BadInput(f"{flag} {path}: is a directory; name a file to write")
        if not folder.is_dir():
            raise BadInput(f"{flag} {path}: the folder {folder} does not exist; create it "
                           f"first (mkdir -p {folder}) or name a file in an existing folder")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise BadInput(f"{flag} {path}: cannot write in {folder}; name a file in a "
                           f"folder you can write to")
    except (OSError, ValueError) as e:   # a name too long for the OS, a NUL byte
        raise BadInput(f"{flag} {path}: not a path a file can be written to "
                       f"({getattr(e, 'strerror', None) or e})") from None
    return path


def read_task(task: str, task_file: Path | None) -> str:
    """The task text: the TASK argument ("-": stdin), or the file `--task-file` names
    ("-": stdin). Read from stdin or a file, it must be UTF-8 text without control
    characters; from --task-file, at most TASK_FILE_LIMIT characters."""
    if task_file is None:
        return _task_text(sys.stdin.buffer.read(), "the task on stdin") if task == "-" else task
    if task.strip():
        raise BadInput("give the task either as an argument or with --task-file, not both")
    where = f"--task-file {task_file}"
    try:
        data = sys.stdin.buffer.read() if str(task_file) == "-" else \
            Path(task_file).expanduser().read_bytes()
    except OSError as e:
        raise BadInput(f"{where}: {e.strerror or e}") from None
    text = _task_text(data, where)
    if len(text) > TASK_FILE_LIMIT:
        raise BadInput(f"{where}: {len(text)} characters is more than the "
                       f"{TASK_FILE_LIMIT} a task may have")
    return text


def _task_text(data: bytes, where: str) -> str:
    """`data` as the task's text, or BadInput saying why it is not a task."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadInput(f"{where}: not UTF-8 text (byte {e.start} is {e.object[e.start]:#04x}); "
                       f"give the task as text") from None
    return check_task_text(text, where)


def check_task_text(text: str, where: str) -> str:
    """`text` if it can be a task; BadInput when it holds a control character."""
    if m := _CONTROL.search(text):
        raise BadInput(f"{where}: holds a control character ({ord(m.group()):#04x} at "
                       f"character {m.start()}), so it is not a text task; give the task as "
                       f"plain text") from None
    return text
