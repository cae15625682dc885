"""The checkpoint's tokenizer (`tokenizer.json`, via the `tokenizers` library) and its chat template.

The template is rendered with Jinja2 the way transformers' `apply_chat_template` renders
it: a sandboxed environment with trim_blocks/lstrip_blocks and loop controls, its `tojson`
(no ASCII or HTML escaping), `raise_exception` and `strftime_now`, and the variables
`messages`, `tools`, `documents`, `add_generation_prompt`, the named special tokens
(`bos_token`, `eos_token`, ...) and any extra keyword arguments. Message keys whose value
is None are dropped first, as transformers does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import Tokenizer

SPECIAL_TOKEN_NAMES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
_REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")
_SENTINEL = "\u2063LOCAL_MODEL_END_OF_TURN_PROBE\u2063"


def _raise_exception(message: str):
    raise jinja2.exceptions.TemplateError(message)


def _tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False) -> str:
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


def compile_template(source: str) -> jinja2.Template:
    """Compile a chat template in an environment equivalent to transformers'."""
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env.from_string(source)


def _token_content(value: Any) -> str | None:
    """A special token from tokenizer_config.json: a string or a serialised AddedToken."""
    if isinstance(value, Mapping):
        return value.get("content")
    return value


def _normalize_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for message in messages:
        message = {k: v for k, v in dict(message).items() if v is not None}
        reasoning = next((message[k] for k in _REASONING_FIELDS if message.get(k) is not None), None)
        if reasoning is not None:
            message = {"thinking": reasoning, **message, "reasoning_content": reasoning}
        out.append(message)
    return out


class ChatTokenizer:
    """Text <-> ids, chat rendering, and the ids that end a turn."""

    def __init__(self, tokenizer: Tokenizer, chat_template: str | dict[str, str] | None = None,
                 special_tokens: Mapping[str, str] | None = None, eos_token_ids: Sequence[int] = ()):
        self.tokenizer = tokenizer
        self.chat_template = chat_template
        self.special_tokens = {k: v for k, v in (special_tokens or {}).items() if v is not None}
        self._templates: dict[str, jinja2.Template] = {}
        stop = set(eos_token_ids)
        if (eos := self.special_tokens.get("eos_token")) is not None and (i := tokenizer.token_to_id(eos)) is not None:
            stop.add(i)
        stop.update(self._end_of_turn_ids())
        self.stop_token_ids: frozenset[int] = frozenset(stop)

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "ChatTokenizer":
        """Read tokenizer.json, tokenizer_config.json, chat_template.jinja and generation_config.json."""
        path = Path(path)
        if not (path / "tokenizer.json").exists():
            raise FileNotFoundError(f"{path / 'tokenizer.json'} not found: the checkpoint needs a fast tokenizer file")
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        config = _read_json(path / "tokenizer_config.json")
        template: str | dict[str, str] | None = config.get("chat_template")
        if isinstance(template, list):
            template = {t["name"]: t["template"] for t in template}
        if (path / "chat_template.jinja").exists():  # transformers 5 writes the template here
            default = (path / "chat_template.jinja").read_text(encoding="utf-8")
            template = {**template, "default": default} if isinstance(template, dict) else default
        extra_dir = path / "additional_chat_templates"
        if extra_dir.is_dir():
            named = {p.stem: p.read_text(encoding="utf-8") for p in sorted(extra_dir.glob("*.jinja"))}
            template = {**({"default": template} if isinstance(template, str) else (template or {})), **named}
        specials = {name: _token_content(config.get(name)) for name in SPECIAL_TOKEN_NAMES}
        eos_ids: list[int] = []
        for file in ("generation_config.json", "config.json"):
            eos = _read_json(path / file).get("eos_token_id")
            eos_ids += eos if isinstance(eos, list) else ([] if eos is None else [eos])
        return cls(tokenizer, template, specials, eos_ids)

    # ---- text <-> ids ------------------------------------------------------------------
    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        """Token ids of `text`; add_special_tokens runs the tokenizer's post-processor (e.g. a BOS)."""
        return self.tokenizer.encode(text, add_special_tokens=add_special_tokens).ids

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def token_to_id(self, token: str) -> int | None:
        return self.tokenizer.token_to_id(token)

    # ---- chat --------------------------------------------------------------------------
    def template_source(self, name: str | None = None, tools: Sequence | None = None) -> str:
        """Pick the template as transformers does: by name, else "tool_use" when tools are given, else "default"."""
        if self.chat_template is None:
            raise ValueError("this tokenizer has no chat_template; pass a raw prompt instead")
        if isinstance(self.chat_template, str):
            return self.chat_template
        if name is None:
            name = "tool_use" if tools is not None and "tool_use" in self.chat_template else "default"
        if name not in self.chat_template:
            raise ValueError(f"no chat template named {name!r}; have {sorted(self.chat_template)}")
        return self.chat_template[name]

    def render_chat(self, messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping] | None = None,
                    add_generation_prompt: bool = True, documents: Sequence[Mapping] | None = None,
                    template_name: str | None = None, **kwargs: Any) -> str:
        """The prompt text for `messages`, exactly as transformers' apply_chat_template(tokenize=False)."""
        source = self.template_source(template_name, tools)
        if source not in self._templates:
            self._templates[source] = compile_template(source)
        variables = {**self.special_tokens, **kwargs}
        return self._templates[source].render(messages=_normalize_messages(messages), tools=tools,
                                              documents=documents, add_generation_prompt=add_generation_prompt,
                                              **variables)

    def encode_chat(self, messages: Sequence[Mapping[str, Any]], **kwargs: Any) -> list[int]:
        """Token ids of the rendered chat (no post-processor: the template places its own BOS)."""
        return self.encode(self.render_chat(messages, **kwargs), add_special_tokens=False)

    def _end_of_turn_ids(self) -> set[int]:
        """Special tokens the template writes right after an assistant message (e.g. <|im_end|>)."""
        if self.chat_template is None:
            return set()
        try:
            text = self.render_chat([{"role": "user", "content": "hi"}, {"role": "assistant", "content": _SENTINEL}],
                                    add_generation_prompt=False)
        except jinja2.exceptions.TemplateError:
            return set()
        if _SENTINEL not in text:
            return set()
        suffix = text.split(_SENTINEL, 1)[1]
        special = {i for i, tok in self.tokenizer.get_added_tokens_decoder().items() if tok.special}
        return {i for i in self.encode(suffix) if i in special}


def load_tokenizer(path: str | Path) -> ChatTokenizer:
    """The tokenizer of the checkpoint in folder `path`."""
    return ChatTokenizer.from_pretrained(path)


def _read_json(path: Path) -> dict:
    if not path.exists():
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)
