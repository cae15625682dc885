"""The config loader on random input: TOML files, `--config KEY=VALUE` and `AMA_*`
variables. Whatever comes in, the loader returns a Config or raises BadInput."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from agent.config.load import load_config, model_options
from agent.config.schema import KEYS, env_name
from agent.core.errors import BadInput

NAMES = [k.name.replace("*", "openai") for k in KEYS] + ["prices.\"gpt-4.1\".input", "nosuch", ""]
VALUES = st.one_of(
    st.integers().map(str),
    st.integers(300, 5000).map(lambda n: "9" * n),            # past a float, past int's digits
    st.sampled_from(["1e400", "-1e400", "nan", "inf", "-5", "0", "0.5", "-0.0", "true", '"x"',
                     '["a", "b"]', '["a", 1]', "[[]]", "{a = 1}", "1979-05-27", "07:32:00", "'lit'",
                     '"""multi\nline"""', '"\\u0000"', "0x10", "1_000", "+inf"]),
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),     # nested past tomllib's recursion
    st.integers(1, 1500).map(lambda n: "{a = " * n + "1" + "}" * n),
    st.text(max_size=30),
)
LINES = st.one_of(
    st.tuples(st.sampled_from(NAMES), VALUES).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    st.sampled_from(["[permissions]", "[prices.m]", "[providers.openai]", "[hooks]", "[[x]]", "[compaction]"]),
    st.text(max_size=40),
)
TOML = st.lists(LINES, max_size=6).map("\n".join)


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz-config")


def load(place, extra=(), env=None):
    """Load, then build the model options as a run would; BadInput is the only way out."""
    env = {"XDG_CONFIG_HOME": str(place / "xdg"), **(env or {})}
    try:
        cfg = load_config(None, trusted=False, extra=extra, env=env)
        model_options(cfg, cfg.get("model"))
    except BadInput as e:
        assert e.message and e.exit_code == 2


@pytest.mark.fuzz
@given(TOML)
def test_random_toml_files(place, text):
    path = place / "c.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    load(place, [str(path)])


@pytest.mark.fuzz
@given(st.lists(st.tuples(st.sampled_from(NAMES), VALUES).map("=".join) | st.text(max_size=300),
                max_size=3))
def test_random_key_value_arguments(place, items):
    load(place, items)


@pytest.mark.fuzz
@given(st.sampled_from([k for k in KEYS if k.env]), VALUES)
def test_random_environment_values(place, key, value):
    if "\0" not in value:
        load(place, env={env_name(key): value})
