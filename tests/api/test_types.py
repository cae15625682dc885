"""The Python API's public surface is fully typed: no `Any` (nor a bare `dict`, `list`,
`Callable[..., X]` that means it), no unannotated parameter, and no internal type of
ama's leaking out of it — walked from `agent.api.__all__` with `typing.get_type_hints`."""
from __future__ import annotations

import dataclasses
import inspect
import sys
import types
import typing
from typing import Any, Callable, Mapping

import agent.api as api
from agent.core.errors import AmaError

# Classes of ama's outside agent/api that its signatures may name.
ALLOWED_FOREIGN = {AmaError}
_BARE = {dict, list, tuple, set, frozenset, type, Mapping, typing.Mapping, typing.Sequence,
         typing.Iterable, typing.Iterator, typing.AsyncIterator, typing.Awaitable, Callable,
         typing.Callable}


def hint_problems(where: str, hint: object) -> list[str]:
    """What is wrong with one annotation, recursively."""
    if hint is Any:
        return [f"{where}: Any"]
    if hint is Ellipsis:
        return [f"{where}: Callable[..., X] takes anything"]
    if isinstance(hint, list):   # a Callable's parameters
        return [p for h in hint for p in hint_problems(where, h)]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.ClassVar:
        return [p for a in args for p in hint_problems(where, a)]
    if origin is None and hint in _BARE:
        return [f"{where}: bare {getattr(hint, '__name__', hint)} (its items are Any)"]
    if origin is None and isinstance(hint, type):
        module = hint.__module__.split(".")[0]
        if module in ("agent", "tools", "local_model") and not hint.__module__.startswith("agent.api") \
                and hint not in ALLOWED_FOREIGN:
            return [f"{where}: internal type {hint.__module__}.{hint.__qualname__}"]
        if hint.__module__.startswith("agent.api") and hint.__name__ not in api.__all__:
            return [f"{where}: {hint.__qualname__} is not exported from agent.api"]
        return []
    if isinstance(hint, typing.TypeVar | typing.ForwardRef | str):
        return [f"{where}: unresolved {hint!r}"]
    if args and origin is tuple and args[-1] is Ellipsis:
        args = args[:-1]   # tuple[X, ...] is a homogeneous tuple, not "anything"
    return [p for a in args for p in hint_problems(where, a)]


def callable_problems(where: str, fn: Callable[..., object]) -> list[str]:
    hints = typing.get_type_hints(fn)
    out = [] if "return" in hints else [f"{where}: no return annotation"]
    for name, param in inspect.signature(fn).parameters.items():
        if name not in ("self", "cls") and name not in hints:
            out.append(f"{where}({name}): not annotated")
    return out + [p for name, h in hints.items() for p in hint_problems(f"{where}.{name}", h)]


def class_problems(cls: type) -> list[str]:
    out = []
    if dataclasses.is_dataclass(cls):
        out += [p for name, h in typing.get_type_hints(cls).items() if not name.startswith("_")
                for p in hint_problems(f"{cls.__name__}.{name}", h)]
    for name, member in vars(cls).items():
        public = not name.startswith("_") or name in ("__enter__", "__exit__", "__aenter__",
                                                      "__aexit__", "__iter__")
        if not public:
            continue
        where = f"{cls.__name__}.{name}"
        if isinstance(member, property):
            out += callable_problems(where, member.fget)
        elif inspect.isfunction(member):
            out += callable_problems(where, member)
    return out


def surface_problems(module: types.ModuleType) -> tuple[list[str], int]:
    """(problems, how many things were checked) of `module.__all__`."""
    problems, checked = [], 0
    for name in module.__all__:
        obj = getattr(module, name)
        checked += 1
        if inspect.isclass(obj):
            problems += class_problems(obj)
        elif inspect.isfunction(obj):
            problems += callable_problems(name, obj)
        else:   # a type alias (a Union, a Callable)
            problems += hint_problems(name, obj)
    return problems, checked


def test_the_public_api_leaks_no_any_and_no_internal_type():
    problems, checked = surface_problems(api)
    assert problems == []
    assert checked == len(api.__all__) >= 20


def test_every_exported_class_and_function_is_documented():
    undocumented = [n for n in api.__all__ if (inspect.isclass(getattr(api, n))
                    or inspect.isfunction(getattr(api, n))) and not getattr(api, n).__doc__]
    # The event classes are documented together in agent/api/events.py's docstring.
    assert [n for n in undocumented if getattr(api, n).__module__ != "agent.api.events"] == []


def test_the_walk_catches_what_it_is_for(monkeypatch):
    """A fake module with each kind of leak: the walk must name every one."""
    fake = types.ModuleType("agent.api.fake")
    monkeypatch.setitem(sys.modules, fake.__name__, fake)
    exec(
        "from __future__ import annotations\n"
        "from dataclasses import dataclass\n"
        "from typing import Any, Callable\n"
        "from agent.session.result import RunResult\n"
        "def loose(x: Any, y) -> dict: ...\n"
        "def record() -> RunResult: ...\n"
        "@dataclass(frozen=True)\n"
        "class Rec:\n"
        "    hook: Callable[..., int]\n"
        "    def items(self) -> list: ...\n"
        "    @property\n"
        "    def raw(self) -> tuple[Any, ...]: ...\n",
        fake.__dict__)
    fake.__all__ = ["loose", "record", "Rec"]
    problems, _ = surface_problems(fake)
    text = "\n".join(problems)
    for expected in ("loose.x: Any", "loose(y): not annotated", "loose.return: bare dict",
                     "record.return: internal type agent.session.result.RunResult",
                     "Rec.hook: Callable[..., X]", "Rec.items.return: bare list",
                     "Rec.raw.return: Any"):
        assert expected in text, (expected, problems)
