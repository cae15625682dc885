"""Sampling, the token generator, streaming detokenisation and the command line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.local_model.lm_testing import CHATML_TEMPLATE, make_tokenizer
from local_model import SamplingParams, generate, load_model, load_tokenizer
from local_model.generate import StreamDecoder, stream_text
from local_model.sampling import apply_repetition_penalty, filter_logits, sample

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def chat_checkpoint(checkpoints, tmp_path_factory):
    """The V2-Lite-like model (vocab 320) with a 300-token byte-level BPE and a ChatML template."""
    path = tmp_path_factory.mktemp("chat")
    for file in checkpoints("v2_lite").iterdir():
        shutil.copy(file, path / file.name)
    make_tokenizer(path, CHATML_TEMPLATE)
    return path


def test_sampling_transforms_match_transformers():
    logits_process = pytest.importorskip("transformers.generation.logits_process")
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(1, 50, generator=g) * 3
    context = torch.tensor([[3, 7, 7, 20, 41]])
    ref = logits_process.RepetitionPenaltyLogitsProcessor(1.3)(context, logits.clone())
    torch.testing.assert_close(apply_repetition_penalty(logits[0], context[0].tolist(), 1.3), ref[0])
    for top_k, top_p in [(5, 1.0), (0, 0.8), (10, 0.5)]:
        ref = logits.clone()
        if top_k:
            ref = logits_process.TopKLogitsWarper(top_k)(context, ref)
        if top_p < 1:
            ref = logits_process.TopPLogitsWarper(top_p)(context, ref)
        assert torch.equal(filter_logits(logits[0], top_k, top_p).isinf(), ref[0].isinf()), (top_k, top_p)


def test_sample_modes():
    logits = torch.tensor([0.0, 5.0, 1.0, 4.9])
    assert sample(logits, SamplingParams(temperature=0)) == 1
    assert sample(logits, SamplingParams(top_k=1), torch.Generator().manual_seed(0)) == 1
    # a strong repetition penalty on the favourite makes greedy pick the runner-up
    assert sample(logits, SamplingParams(temperature=0, repetition_penalty=2.0), context=[1]) == 3
    draws = {sample(logits, SamplingParams(temperature=1.0), torch.Generator().manual_seed(s)) for s in range(30)}
    assert draws <= {1, 3, 2, 0} and {1, 3} <= draws
    with pytest.raises(ValueError, match="top_p"):
        SamplingParams(top_p=0)


def test_greedy_generate_equals_argmax_of_full_forward(checkpoints):
    model = load_model(checkpoints("v3"))
    prompt = [5, 17, 99, 250, 3]
    out = list(generate(model, prompt, max_new_tokens=6, sampling=SamplingParams(temperature=0)))
    ids = list(prompt)
    for _ in range(6):  # no cache: recompute the whole sequence each step
        ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
    assert out == ids[len(prompt):]
    # a stop id ends generation right after it is yielded
    assert list(generate(model, prompt, max_new_tokens=6, sampling=SamplingParams(temperature=0),
                         stop_token_ids={out[1]})) == out[:2]


def test_seeded_sampling_is_reproducible(checkpoints):
    model = load_model(checkpoints("moonlight"))
    params = SamplingParams(temperature=1.5, top_p=0.95, top_k=50, seed=42)
    first = list(generate(model, [1, 2, 3], max_new_tokens=12, sampling=params))
    assert first == list(generate(model, [1, 2, 3], max_new_tokens=12, sampling=params))
    others = {tuple(generate(model, [1, 2, 3], max_new_tokens=12, sampling=SamplingParams(temperature=1.5, seed=s)))
              for s in range(4)}
    assert len(others) > 1


def test_streaming_never_splits_a_multibyte_character(tmp_path):
    tok = load_tokenizer(make_tokenizer(tmp_path, CHATML_TEMPLATE))
    text = "hello wörld 🙂 the fox — 日本 done"
    ids = tok.encode(text)
    assert len(ids) > len(text.split())  # non-ASCII characters take several byte tokens
    decoder, pieces, held_back = StreamDecoder(tok.decode), [], 0
    for token_id in ids:
        piece = decoder.push(token_id)
        held_back += piece == ""
        assert "\ufffd" not in piece
        pieces.append(piece)
    pieces.append(decoder.flush())
    assert "".join(pieces) == text
    assert held_back >= 3  # the emoji alone needs four tokens before it can be shown
    assert "".join(stream_text(ids, tok.decode)) == text


def test_chat_generation_stops_on_end_of_turn(chat_checkpoint):
    tok, model = load_tokenizer(chat_checkpoint), load_model(chat_checkpoint)
    prompt = tok.encode_chat([{"role": "user", "content": "hello"}])
    out = list(generate(model, prompt, max_new_tokens=8, sampling=SamplingParams(temperature=0),
                        stop_token_ids=tok.stop_token_ids))
    assert 1 <= len(out) <= 8
    assert all(t not in tok.stop_token_ids for t in out[:-1])


def test_command_line_generate_streams_text(chat_checkpoint):
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run(
        [sys.executable, "-m", "local_model", "generate", "--checkpoint", str(chat_checkpoint),
         "--prompt", "hello", "--max-new-tokens", "5", "--stats"],
        capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "generated" in result.stderr and "tok/s" in result.stderr
    bad = subprocess.run([sys.executable, "-m", "local_model", "generate", "--checkpoint", str(chat_checkpoint)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and "--prompt" in bad.stderr
