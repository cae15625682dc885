"""`ama config show|path`, and settling the main command's options against config.

`settle(kw, ...)` is the one place where flags meet config: it decides trust (`--trust`,
or a prompt on a terminal), loads the layers, fills every option the user did not pass
from them, resolves `--continue` / `--resume`, and returns the keyword arguments for
`_run_options` (headless) or the REPL with `run_config` added. Light at import.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from agent.errors import AmaError, BadInput

config_app = typer.Typer(rich_markup_mode=None, no_args_is_help=True,
                         help="Show the merged configuration and where each value comes from.")

# main_command keyword -> config key (the flags that have a config key of their own)
FLAG_KEYS = {"model": "model", "max_turns": "max_turns", "max_cost": "max_cost",
             "max_time": "max_time", "apply": "apply", "sandbox": "sandbox",
             "sandbox_image": "sandbox_image", "network": "network", "verify": "verify",
             "max_verify": "max_verify", "permission_mode": "permission_mode",
             "allowed_tools": "permissions.allow", "disallowed_tools": "permissions.deny"}


@dataclass
class RunConfig:
    """What `settle` adds for RunOptions: see agent/headless.py RunOptions."""
    config: Any
    trusted: bool
    resume: str | None = None
    ask_tools: tuple[str, ...] = ()
    granted_tools: tuple[str, ...] = ()
    model_options: dict[str, Any] = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        return {"config": self.config, "trusted": self.trusted, "resume": self.resume,
                "ask_tools": self.ask_tools, "granted_tools": self.granted_tools,
                "model_options": self.model_options}


def settle(kw: dict[str, Any], *, trust: bool = False, extra: list[str] | None = None,
           continue_: bool = False, resume: Optional[str] = None,
           ask: Callable[[Any], bool] | None = None) -> dict[str, Any]:
    """`kw` with unset options filled from config and `run_config` added. `ask(check)`
    is asked about an untrusted repo (None: headless, not asked). Raises BadInput."""
    from agent.config import load_config, model_options
    from agent.trust import check_trust, grant_trust, project_root, saved_rules

    cwd = Path(kw.get("cwd") or Path.cwd()).expanduser()
    if not cwd.is_dir():
        raise BadInput(f"--cwd {cwd}: no such directory")
    root = project_root(cwd)
    check = grant_trust(root, cwd) if trust else check_trust(root, cwd)
    if not check.trusted and ask is not None and ask(check):
        check = grant_trust(root, cwd)
    flags = {FLAG_KEYS[k]: v for k, v in kw.items() if k in FLAG_KEYS and v not in (None, [], ())}
    cfg = load_config(root, trusted=check.trusted, flags=flags, extra=extra or ())
    if not check.trusted and check.changed and not any(".ama/config.toml" == p for p in check.changed):
        cfg.notices.append(f"repository files not trusted yet ({', '.join(check.changed)}): "
                           f"their instructions are treated as untrusted notes; --trust to trust them")
    out = dict(kw)
    for k, key in FLAG_KEYS.items():
        out[k] = cfg.get(key)
    out["cwd"] = cwd
    out["run_config"] = RunConfig(config=cfg, trusted=check.trusted,
                                  resume=_resume_id(root, continue_, resume),
                                  ask_tools=tuple(cfg.get("permissions.ask") or ()),
                                  granted_tools=tuple(saved_rules(root)),
                                  model_options=model_options(cfg, out["model"]))
    return out


def _resume_id(root: Path, continue_: bool, resume: Optional[str]) -> str | None:
    if continue_ and resume:
        raise BadInput("give --continue or --resume ID, not both")
    if not continue_ and resume is None:
        return None
    from agent.sessions import _same, find_session, latest_session
    if continue_ or resume == "":
        return latest_session(root).id
    if resume is None:
        return None
    info = find_session(resume)
    if info.root and not _same(info.root, root):
        raise BadInput(f"session {info.id} belongs to {info.root}; run from there "
                       f"or pass --cwd {info.root}")
    return info.id


def terminal_ask(check) -> bool:
    """The start-up trust question on a terminal (stderr), default no."""
    if not sys.stdin.isatty():
        return False
    return typer.confirm(check.describe(), default=False, err=True)


# ---- ama config ---------------------------------------------------------------------

@config_app.command("show", help="Print the merged configuration, each value with its source.")
def config_show(
    cwd: Optional[Path] = typer.Option(None, "--cwd", "-C", help="The repository (default: here)."),
    extra: list[str] = typer.Option([], "--config", help="An extra TOML file or KEY=VALUE."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object: values and sources."),
) -> None:
    import json
    from agent.config import load_config, render_show
    from agent.trust import check_trust, project_root
    try:
        root = project_root(Path(cwd or Path.cwd()))
        check = check_trust(root, Path(cwd or Path.cwd()))
        cfg = load_config(root, trusted=check.trusted, extra=extra)
    except AmaError as e:
        typer.echo(f"ama: {e.message}", err=True)
        raise typer.Exit(e.exit_code)
    if as_json:
        typer.echo(json.dumps({"values": cfg.values, "sources": cfg.sources,
                               "notices": cfg.notices, "trusted": check.trusted}, indent=1))
    else:
        typer.echo(render_show(cfg))


@config_app.command("path", help="Print where the user and project config files are.")
def config_path(cwd: Optional[Path] = typer.Option(None, "--cwd", "-C")) -> None:
    from agent.config import PROJECT_FILE, user_config_path
    from agent.trust import project_root
    typer.echo(f"user     {user_config_path()}")
    typer.echo(f"project  {project_root(Path(cwd or Path.cwd())) / PROJECT_FILE}")
