"""`ama config show|path`. (Flags meet config in agent/session/settle.py.)"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from agent.cli.fail import fail
from agent.core.errors import AmaError

config_app = typer.Typer(rich_markup_mode=None, no_args_is_help=True,
                         help="Show the merged configuration and where each value comes from.")


@config_app.command("show", help="Print the merged configuration, each value with its source.")
def config_show(
    cwd: Optional[Path] = typer.Option(None, "--cwd", "-C", help="The repository (default: here)."),
    extra: list[str] = typer.Option([], "--config", help="An extra TOML file or KEY=VALUE."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object: values and sources."),
) -> None:
    import json
    from agent.config.load import load_config, render_show, shown_value
    from agent.config.trust import check_trust, project_root
    try:
        root = project_root(Path(cwd or Path.cwd()))
        check = check_trust(root, Path(cwd or Path.cwd()))
        cfg = load_config(root, trusted=check.trusted, extra=extra)
    except AmaError as e:
        fail(e)
    if as_json:
        values = {name: shown_value(name, value) for name, value in cfg.values.items()}
        typer.echo(json.dumps({"values": values, "sources": cfg.sources,
                               "notices": cfg.notices, "trusted": check.trusted}, indent=1))
    else:
        typer.echo(render_show(cfg))


@config_app.command("path", help="Print where the user and project config files are.")
def config_path(cwd: Optional[Path] = typer.Option(None, "--cwd", "-C")) -> None:
    from agent.config.load import PROJECT_FILE, user_config_path
    from agent.config.trust import project_root
    typer.echo(f"user     {user_config_path()}")
    typer.echo(f"project  {project_root(Path(cwd or Path.cwd())) / PROJECT_FILE}")
