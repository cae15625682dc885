"""Layered configuration: defaults < user file < project file < `AMA_*` env < flags.

    user     $XDG_CONFIG_HOME/amanuensis/config.toml (default ~/.config/amanuensis/…)
    project  <repo>/.ama/config.toml — read only once the repo is trusted (agent/config/trust.py)
    extra    `--config FILE` or `--config KEY=VALUE` (the user's own, so trusted)
    env      AMA_MODEL, AMA_MAX_TURNS, AMA_PERMISSIONS_ALLOW="a,b", … (see config_schema)
    flags    what the user passed on the command line

Each value remembers where it came from (`Config.source(key)`). Lists under
`permissions` and `[[hooks.EVENT]]` tables add up across layers. Anything wrong — a file that is not TOML, nested too
deeply or unreadable, an unknown key, a value of the wrong type or out of its range (a
number too large for a float, a negative limit) — raises BadInput naming the file, the
line and the key; nothing else escapes.
"""
from __future__ import annotations

import math
import os
import re
import reprlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from agent.config.schema import (ADDITIVE, KEYS, RANGES, REQUEST_KEYS, Key, env_name, find_key,
                                 is_prefix)
from agent.config.mcp_json import FILE as MCP_JSON, mcp_json_values
from agent.core.errors import BadInput

PROJECT_FILE = ".ama/config.toml"


@dataclass
class Config:
    """The merged settings. `values` and `sources` are keyed by dotted name."""
    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)   # e.g. "project config ignored: untrusted"
    files: list[Path] = field(default_factory=list)    # the files that were read

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def source(self, name: str) -> str:
        return self.sources.get(name, "default")

    def table(self, prefix: str) -> dict[str, dict[str, Any]]:
        """`table("providers")` -> {"openai": {"base_url": ...}, ...} from the dotted keys."""
        out: dict[str, dict[str, Any]] = {}
        for name, value in self.values.items():
            if name.startswith(prefix + ".") and value is not None:
                sub, leaf = name[len(prefix) + 1:].rsplit(".", 1)
                out.setdefault(sub, {})[leaf] = value
        return out

    def set(self, name: str, value: Any, source: str) -> None:
        if name in ADDITIVE and self.values.get(name):
            new = [v for v in value if v not in self.values[name]]
            if not new:
                return
            self.values[name] = [*self.values[name], *new]
            self.sources[name] = f"{self.sources[name]} + {source}"
        else:
            self.values[name] = value
            self.sources[name] = source


def user_config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base).expanduser() / "amanuensis" / "config.toml"


def load_config(project_root: Path | None, *, trusted: bool, flags: Mapping[str, Any] | None = None,
                extra: Iterable[str] = (), env: Mapping[str, str] | None = None) -> Config:
    """Merge every layer. `flags`: dotted key -> value, only the flags the user passed
    (a flag's source reads `flag`). `extra`: `--config` arguments. Raises BadInput."""
    env = os.environ if env is None else env
    cfg = Config()
    for key in KEYS:
        if "*" not in key.name and key.kind != "table":
            cfg.values[key.name] = list(key.default) if key.kind in ("list", "tables") \
                else key.default
            cfg.sources[key.name] = "default"
    _apply_file(cfg, user_config_path(env), "user config")
    if project_root is not None:   # .mcp.json first: the repo's own TOML says more
        for path, apply in ((Path(project_root) / MCP_JSON, _apply_mcp_json),
                            (Path(project_root) / PROJECT_FILE, _apply_file)):
            if not _is_file(path):
                continue
            if trusted:
                apply(cfg, path, "project config" if apply is _apply_file else MCP_JSON, env=env)
            else:
                cfg.notices.append(f"{path} is ignored until you trust this repository "
                                   f"(--trust, or answer the prompt in the REPL)")
    for item in extra:
        if "=" in item and not _is_file(_expand(item)):
            _apply_assignment(cfg, item)
        else:
            _apply_file(cfg, _expand(item), "--config", must_exist=True)
    for key in KEYS:
        if key.env and env.get(env_name(key)) not in (None, ""):
            value = _from_text(key, env[env_name(key)], f"environment variable {env_name(key)}")
            cfg.set(key.name, value, f"env {env_name(key)}")
    for name, value in (flags or {}).items():
        if value is not None and value != []:
            key = find_key(name)
            flag = "--" + {"permissions.allow": "allowed-tools",
                           "permissions.deny": "disallowed-tools"}.get(name, name.replace("_", "-"))
            cfg.set(name, _check(key, name, value, flag, flag=True) if key else value, "flag")
    return cfg


# ---- reading files ---------------------------------------------------------------

def _apply_mcp_json(cfg: Config, path: Path, label: str, env: Mapping[str, str]) -> None:
    """A trusted repo's `.mcp.json`: its servers as `mcp_servers.*` values."""
    values, notices = mcp_json_values(path, env)
    cfg.files.append(path)
    cfg.notices += notices
    for name, value in values:
        key = find_key(name)
        if key is None:   # a server name that is not one config segment (dots)
            raise BadInput(f"{path}: server name in {name!r}: use letters, digits, _ and -")
        if not _users_server(cfg, name, path):
            cfg.set(name, _check(key, name, value, str(path)), f"{label} {path}")


def _users_server(cfg: Config, name: str, path: Path) -> bool:
    """Is `name` a key of an MCP server the user's own config defines? A repository may
    not change those (point a user's token at its own URL): its keys are skipped."""
    if not name.startswith("mcp_servers."):
        return False
    server = name.rsplit(".", 1)[0]
    if not any(n.startswith(server + ".") and not cfg.source(n).startswith(
            ("project config", MCP_JSON)) for n in cfg.values):
        return False
    note = f"{path}: {server} is defined in your own config; the repository's definition is ignored"
    if note not in cfg.notices:
        cfg.notices.append(note)
    return True


def _apply_file(cfg: Config, path: Path, label: str, must_exist: bool = False,
                env: Mapping[str, str] | None = None) -> None:
    if not _is_file(path):
        if must_exist:
            raise BadInput(f"--config {_short(str(path))}: no such file (give a TOML file or KEY=VALUE)")
        return
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise BadInput(f"{path}: cannot read it ({e.strerror or e}); fix its permissions "
                       f"or remove it") from None
    data = _parse_toml(text, str(path))
    lines = _key_lines(text)
    cfg.files.append(path)
    for name, value in _flatten(data, path, lines):
        where = f"{path}:{lines.get(name, lines.get(name.rsplit('.', 1)[0], '?'))}"
        key = find_key(name)
        if key is None:
            raise BadInput(f"{where}: unknown key {name!r}; known keys: {_known()}")
        if label == "project config" and _users_server(cfg, name, path):
            continue
        cfg.set(name, _check(key, name, value, where), f"{label} {path}:{lines.get(name, '?')}")


def _apply_assignment(cfg: Config, item: str) -> None:
    """`--config KEY=VALUE`: VALUE is TOML (`max_turns=5`, `network=true`), else a string."""
    name, _, raw = item.partition("=")
    name = name.strip()
    where = f"--config {_short(item)}"
    key = find_key(name)
    if key is None:
        raise BadInput(f"{where}: unknown key {_short(name)!r}; known keys: {_known()}")
    try:
        value = _parse_toml(f"v = {raw}", where)["v"]
    except _NotToml:
        value = raw.strip()   # the text itself
    if key.kind == "list" and isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    cfg.set(name, _check(key, name, value, where), f"--config {name}")


class _NotToml(BadInput):
    """The text is not TOML at all (rather than TOML too deep or too large to read)."""


def _parse_toml(text: str, where: str) -> dict[str, Any]:
    """tomllib.loads, every failure a BadInput saying `where`. tomllib recurses once per
    nested array or inline table, and reads integers of any length."""
    import tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:  # its message carries "(at line L, column C)"
        raise _NotToml(f"{where}: invalid TOML: {e}") from None
    except RecursionError:
        raise BadInput(f"{where}: arrays or inline tables nested too deeply to read; "
                       f"no config value needs more than a few levels") from None
    except ValueError as e:   # an integer of more than 4,300 digits
        raise BadInput(f"{where}: invalid TOML: {e}") from None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):   # a name too long for the OS, a NUL byte
        return False


def _expand(item: str) -> Path:
    try:
        return Path(item).expanduser()
    except (RuntimeError, ValueError):   # ~name of a user who does not exist; a NUL byte
        return Path(item)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _flatten(data: Mapping[str, Any], path: Path, lines: dict[str, int],
             prefix: tuple[str, ...] = ()) -> Iterable[tuple[str, Any]]:
    for k, v in data.items():
        segs = (*prefix, k)
        key = find_key(segs)
        if key is not None and (key.kind in ("table", "map") or not isinstance(v, dict)):
            yield ".".join(segs), v
        elif isinstance(v, dict) and is_prefix(segs):
            yield from _flatten(v, path, lines, segs)
        else:
            yield ".".join(segs), v  # unknown, or a table where a value belongs: reported


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_\-\.\"' ]+?)\s*=")


def _key_lines(text: str) -> dict[str, int]:
    """Dotted key -> the line it is set on (tomllib keeps no positions; a light scan does)."""
    out: dict[str, int] = {}
    table = ""
    for no, line in enumerate(text.splitlines(), 1):
        if m := _HEADER.match(line):
            table = _unquote(m.group(1))
            out.setdefault(table, no)
        elif m := _ASSIGN.match(line):
            name = f"{table}.{_unquote(m.group(1))}" if table else _unquote(m.group(1))
            out.setdefault(name, no)
    return out


def _unquote(dotted: str) -> str:
    return ".".join(p.strip().strip("\"'") for p in dotted.split("."))


# ---- types -----------------------------------------------------------------------

_KIND_NAMES = {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or false",
               "budget": 'a number of tokens, 1024 or more, or "adaptive"',
               "list": "a list of strings", "map": "a table of strings", "table": "a table",
               "tables": "a list of tables"}


_REPR = reprlib.Repr()
_REPR.maxstring, _REPR.maxlong, _REPR.maxother = 60, 40, 60


def _check(key: Key, name: str, value: Any, where: str, flag: bool = False) -> Any:
    """`value` checked (and converted) for `key`; BadInput says `where` and what is wrong."""
    shown = _REPR.repr(value)
    what = f"{where} {shown}" if flag else f"{where}: {name} = {shown}"
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "budget": value == "adaptive" or (isinstance(value, int) and not isinstance(value, bool)
                                          and value >= 1024),
        "list": isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value),
        "map": isinstance(value, dict) and all(isinstance(v, str) for v in value.values()),
        "table": isinstance(value, dict),
        "tables": isinstance(value, (list, tuple)),
    }[key.kind]
    if not ok and key.kind == "map" and isinstance(value, dict):
        bad = next(k for k, v in value.items() if not isinstance(v, str))
        raise BadInput(f"{what}: {name}.{bad} must be a string, not {type(value[bad]).__name__}")
    if not ok and key.kind == "tables" and isinstance(value, dict):
        raise BadInput(f"{what}: {name} is a list of tables: write [[{name}]], with two "
                       f"brackets, once for each")
    if not ok and key.kind == "budget":
        raise BadInput(f"{what}: {name} must be {_KIND_NAMES[key.kind]}")
    if not ok:
        raise BadInput(f"{what}: {name} must be {_KIND_NAMES[key.kind]}, "
                       f"not {type(value).__name__}")
    if key.kind == "tables":
        return [_table(key, f"{name}[{i + 1}]", item, where) for i, item in enumerate(value)]
    if key.choices and not any(value == c or (c.endswith(":") and value.startswith(c) and
                                              len(value) > len(c)) for c in key.choices):
        raise BadInput(f"{what}: choose one of "
                       f"{', '.join(c + 'NAME' if c.endswith(':') else c for c in key.choices)}")
    if key.kind in ("int", "float"):
        value = _number(key, name, value, what)
    if key.kind == "list":
        value = list(value)
    if key.kind == "map":
        value = dict(value)
    return value


def _table(key: Key, name: str, item: Any, where: str) -> dict[str, Any]:
    """One table of a "tables" key: every field checked, defaults filled in."""
    fields = {f.name: f for f in key.fields}
    if not isinstance(item, dict):
        raise BadInput(f"{where}: {name} must be a table ({', '.join(fields)}), "
                       f"not {type(item).__name__}")
    unknown = [k for k in item if k not in fields]
    if unknown:
        raise BadInput(f"{where}: {name}: unknown field {unknown[0]!r}; its fields are "
                       f"{', '.join(fields)}")
    out = {}
    for f in key.fields:
        if f.name in item:
            out[f.name] = _check(f, f"{name}.{f.name}", item[f.name], where)
        elif f.default is None:
            raise BadInput(f"{where}: {name} needs {f.name} = ... ({f.help})")
        else:
            out[f.name] = f.default
    return out


def _number(key: Key, name: str, value: int | float, what: str) -> int | float:
    """A finite number within the key's range (an int within 64 bits)."""
    if key.kind == "float":
        try:
            value = float(value)
        except OverflowError:
            raise BadInput(f"{what}: too large for a number; {name} takes values up to "
                           f"about 1e308") from None
        if not math.isfinite(value):
            raise BadInput(f"{what}: {name} must be a finite number") from None
    elif abs(value) >= 2 ** 63:
        raise BadInput(f"{what}: too large; {name} takes integers below 2**63")
    if key.check:
        ok, wanted = RANGES[key.check]
        if not ok(value):
            raise BadInput(f"{what}: {name} must be {wanted}")
    return value


def _from_text(key: Key, text: str, where: str) -> Any:
    """An environment variable's text as the key's type."""
    text = text.strip()
    try:
        value: Any = {
            "str": lambda: text,
            "int": lambda: int(text),
            "float": lambda: float(text),
            "budget": lambda: text if text == "adaptive" else int(text),
            "bool": lambda: {"1": True, "true": True, "yes": True, "on": True, "0": False,
                             "false": False, "no": False, "off": False}[text.lower()],
            "list": lambda: [v.strip() for v in text.split(",") if v.strip()],
        }[key.kind]()
    except (ValueError, KeyError):
        raise BadInput(f"{where}={text!r}: {key.name} must be {_KIND_NAMES[key.kind]}") from None
    return _check(key, key.name, value, where)


def _known() -> str:
    return ", ".join(k.name for k in KEYS)


# ---- what a run needs from it ---------------------------------------------------------

def model_options(cfg: Config, model: str) -> dict[str, Any]:
    """Provider options from config: base_url, api_key (from `api_key_env`) and extra_body
    of the model's provider, context_window, prices, and the request keys (REQUEST_KEYS)."""
    opts: dict[str, Any] = {}
    scheme = model.split(":", 1)[0]
    provider = cfg.table("providers").get(scheme, {})
    if provider.get("base_url"):
        opts["base_url"] = provider["base_url"]
    if provider.get("api_key_env"):
        var = provider["api_key_env"]
        if not os.environ.get(var):
            raise BadInput(f"providers.{scheme}.api_key_env names {var}, which is not set; "
                           f"export {var}=YOUR_KEY ({cfg.source(f'providers.{scheme}.api_key_env')})")
        opts["api_key"] = os.environ[var]
    if provider.get("extra_body"):
        opts["extra_body"] = dict(provider["extra_body"])
    if cfg.get("context_window"):
        opts["context_window"] = cfg.get("context_window")
    for name in REQUEST_KEYS:    # retries and timeout: the providers' RetryPolicy and client
        if cfg.get(name) is not None:
            opts[name] = cfg.get(name)
    prices = cfg.table("prices")
    if prices:
        opts["prices"] = prices
    return opts


def render_show(cfg: Config) -> str:
    """`ama config show`: one `key = value    # source` line per key, TOML-ish."""
    import json
    rows = []
    for name in sorted(cfg.values, key=lambda n: (n.count("."), n)):
        value = shown_value(name, cfg.values[name])
        shown = "(unset)" if value is None else json.dumps(value, ensure_ascii=False)
        rows.append((f"{name} = {shown}", cfg.source(name)))
    width = min(60, max(len(r[0]) for r in rows))
    lines = [f"{left:<{width}}  # {src}" for left, src in rows]
    lines += [f"# note: {n}" for n in cfg.notices]
    return "\n".join(lines)


def shown_value(name: str, value: Any) -> Any:
    """`value` as `ama config show` prints it: an MCP server's env and header values,
    which hold tokens, as ***."""
    if name.startswith("mcp_servers.") and name.endswith((".env", ".headers")) and value:
        return {k: "***" for k in value}
    return value
