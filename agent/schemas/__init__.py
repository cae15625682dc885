"""JSON Schemas shipped with the package (package data): `ama schema NAME` prints one."""
from __future__ import annotations

import json
from importlib import resources
from typing import Any

NAMES = ("result", "stream-json")   # the result object; a line of --output-format stream-json


def schema_text(name: str) -> str:
    """The schema `NAME.schema.json` as text. Raises KeyError for an unknown name."""
    if name not in NAMES:
        raise KeyError(name)
    return (resources.files(__package__) / f"{name}.schema.json").read_text(encoding="utf-8")


def load_schema(name: str) -> dict[str, Any]:
    """The schema `NAME.schema.json`, parsed."""
    return json.loads(schema_text(name))
