"""Continuous batching: the scheduler's plans and row bookkeeping, and the engine's batched results
held to one-at-a-time generation (and the prefill attention kernel it relies on held to naive)."""

from __future__ import annotations

import dataclasses
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from local_model import generate, load_model
from local_model.engine import Engine, EngineConfig, PromptTooLong
from local_model.graphs import GraphedDecoder, static_decode
from local_model.sampling import SamplingParams
from local_model.scheduler import PrefillChunk, Scheduler, Sequence, StepPlan
from tests.local_model.lm_testing import PRESETS, wait_until


def _seq(n=3, **kw):
    return Sequence(list(range(1, n + 1)), 4, SamplingParams(temperature=0), frozenset(), emit=lambda t: None,
                    done=lambda r: None, **kw)


def _admit(s: Scheduler) -> Sequence:
    """Plan a step whose budget is one whole 3-token prompt; return the sequence it admits."""
    [chunk] = s.plan(prefill_budget=3).prefill
    assert chunk.completes
    return chunk.seq


def test_a_plan_says_what_frees_prefills_and_decodes():
    s = Scheduler(max_batch=2)
    a, b, c, d = _seq(5), _seq(3), _seq(4), _seq(2)
    for q in (a, b, c):
        s.add(q)
    # a whole prompt and the start of the next, in the row after it; nothing ran before
    assert s.plan(prefill_budget=6) == StepPlan(prefill=(PrefillChunk(a, 0, 0, 5), PrefillChunk(b, 1, 0, 1)))
    assert s.running == [a] and s.prefilling is b and b.prefilled == 1
    # b's rest; a (running before this step) decodes; c waits: both rows are taken
    plan = s.plan(prefill_budget=6)
    assert plan == StepPlan(prefill=(PrefillChunk(b, 1, 1, 3),), decode=(a,)) and plan.prefill[0].completes
    # a leaves from row 0: b moves down first, then c starts in the row that is free again
    a.cancelled = True
    s.add(d)
    d.cancelled = True  # a waiting sequence leaves without a row
    plan = s.plan(prefill_budget=6)
    assert plan == StepPlan(cancelled=(d, a), moves=((1, 0),), prefill=(PrefillChunk(c, 1, 0, 4),), decode=(b,))
    assert (a.row, b.row, c.row) == (None, 0, 1) and not s.waiting
    assert s.plan(prefill_budget=6) == StepPlan(decode=(b, c))  # nothing left to prefill
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.decode = ()  # type: ignore[misc]


def test_scheduler_keeps_rows_packed():
    s = Scheduler(max_batch=3)
    seqs = [_seq() for _ in range(4)]
    for q in seqs:
        s.add(q)
    assert [_admit(s) for _ in range(3)] == seqs[:3] and [q.row for q in seqs[:3]] == [0, 1, 2]
    assert s.plan(prefill_budget=3).prefill == ()  # every row taken
    assert s.remove(seqs[0]) == [(2, 0)]  # the last row moves into the freed one
    assert s.running == [seqs[2], seqs[1]] and seqs[2].row == 0
    assert _admit(s) is seqs[3] and seqs[3].row == 2
    assert s.remove(seqs[3]) == []
    seqs[1].cancelled = True
    plan = s.plan(prefill_budget=3)
    assert plan.cancelled == (seqs[1],) and plan.moves == () and plan.decode == (seqs[2],)


def test_scheduler_prefills_one_sequence_past_the_running_rows():
    s = Scheduler(max_batch=3)
    a, b, c, d = (_seq() for _ in range(4))
    for q in (a, b, c, d):
        s.add(q)
    assert _admit(s) is a and _admit(s) is b
    assert s.plan(prefill_budget=2).prefill == (PrefillChunk(c, 2, 0, 2),) and s.active == 4
    assert s.prefilling is c and list(s.waiting) == [d]  # one prefill at a time
    assert s.remove(a) == [(1, 0), (2, 1)]  # b fills a's row, the prefilling row follows it down
    assert (b.row, c.row) == (0, 1)
    c.cancelled = True
    plan = s.plan(prefill_budget=3)
    assert plan.cancelled == (c,) and plan.moves == () and plan.decode == (b,)
    assert plan.prefill == (PrefillChunk(d, 1, 0, 3),) and s.running == [b, d]


@pytest.mark.parametrize("name", ["v2_lite", "v3"])
def test_expanded_attention_equals_naive_with_and_without_masks(checkpoints, name):
    model = load_model(checkpoints(name), dtype=torch.float64)
    ids = torch.randint(0, PRESETS[name]["vocab_size"], (3, 11), generator=torch.Generator().manual_seed(3))
    # float64 model, but the routed experts' output is float32 (as in the references): float32-level tolerance
    torch.testing.assert_close(model(ids, mla="expanded"), model(ids, mla="naive"), atol=2e-5, rtol=0)
    for impl in ("expanded", "naive"):  # a ragged chunk on top of a ragged cache needs the explicit mask
        cache = model.new_cache(3, 32)
        model(ids[:, :4], cache, seq_lens=[4, 2, 3], mla=impl)
        out = model(ids[:, 4:], cache, seq_lens=[7, 5, 6], mla=impl)
        if impl == "expanded":
            expanded = out
    torch.testing.assert_close(expanded, out, atol=2e-5, rtol=0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from tests.local_model.lm_testing import make_checkpoint

    path = make_checkpoint(tmp_path_factory.mktemp("engine"), "v2_lite", seed=7)[0]
    return load_model(path, dtype=torch.float64)  # float64: batched and single runs pick the same argmax


@pytest.fixture(scope="module", params=["v2_lite", "qwen3_moe"])
def each_family(request, tmp_path_factory):
    """The tiny model of each attention family: MLA (the `tiny` one) and Qwen3-MoE's GQA, float64."""
    if request.param == "v2_lite":
        return request.getfixturevalue("tiny")
    from tests.local_model.lm_testing import make_checkpoint

    path = make_checkpoint(tmp_path_factory.mktemp("engine-qwen"), request.param, seed=7)[0]
    return load_model(path, dtype=torch.float64)


def test_batched_engine_equals_one_at_a_time(each_family):
    tiny = each_family
    prompts = [[5, 17, 3, 99], [7] * 9, [42, 1], [8, 8, 200, 31, 4, 12]]
    greedy = SamplingParams(temperature=0)
    expected = [list(generate(tiny, p, max_new_tokens=12, sampling=greedy)) for p in prompts]
    engine = Engine(tiny, EngineConfig(max_batch=3, max_len=64)).start()  # 4 requests, 3 rows: one joins later
    try:
        with ThreadPoolExecutor(len(prompts)) as pool:
            results = list(pool.map(lambda p: list(engine.generate(p, max_new_tokens=12, sampling=greedy)), prompts,
                                    timeout=60))
        assert results == expected
        assert engine.active == 0
    finally:
        engine.stop()


def test_a_long_prompt_is_prefilled_between_decode_steps(each_family):
    """While a 60-token prompt goes in 8 tokens a step, the running sequence keeps decoding;
    both still produce exactly their one-at-a-time tokens."""
    tiny = each_family
    greedy = SamplingParams(temperature=0)
    short, long = [5, 17, 3], [(i * 37) % 300 + 1 for i in range(60)]
    expected = {name: list(generate(tiny, p, max_new_tokens=20, sampling=greedy))
                for name, p in (("short", short), ("long", long))}
    engine = Engine(tiny, EngineConfig(max_batch=2, max_len=128, prefill_chunk=8)).start()
    events: list[tuple[str, int]] = []
    finished = threading.Event()

    def seq(name, prompt, on_token=None):
        def emit(token):
            events.append((name, token))
            if on_token:
                on_token()
        return Sequence(prompt, 20, greedy, frozenset(), emit=emit,
                        done=lambda reason: finished.set() if name == "long" else None)

    long_seq = seq("long", long)
    submitted = []

    def submit_long_once():  # the long prompt arrives while the short one is decoding
        if not submitted:
            submitted.append(len(events))
            engine.submit(long_seq)

    try:
        engine.submit(seq("short", short, submit_long_once))
        assert finished.wait(60)
    finally:
        engine.stop()
    for name in ("short", "long"):
        assert [t for n, t in events if n == name] == expected[name], name
    first_long = next(i for i, (n, _) in enumerate(events) if n == "long")
    decoded_meanwhile = sum(n == "short" for n, _ in events[submitted[0]:first_long])
    assert decoded_meanwhile >= 6  # 60 prompt tokens at 8 a step: the short one kept going


def test_seeded_sampling_is_reproducible_and_stop_ids_end_a_sequence(tiny):
    engine = Engine(tiny, EngineConfig(max_batch=2, max_len=64)).start()
    try:
        params = SamplingParams(temperature=1.0, top_p=0.9, seed=11)
        a = list(engine.generate([1, 2, 3], max_new_tokens=10, sampling=params))
        b = list(engine.generate([1, 2, 3], max_new_tokens=10, sampling=params))
        assert a == b and len(a) == 10
        stop = a[3]
        c = list(engine.generate([1, 2, 3], max_new_tokens=10, sampling=params, stop_token_ids={stop}))
        assert c == a[: a.index(stop)]
    finally:
        engine.stop()


def test_cancel_frees_the_row_and_long_prompts_are_refused(tiny):
    engine = Engine(tiny, EngineConfig(max_batch=1, max_len=48)).start()
    try:
        stream = engine.generate([1, 2, 3], max_new_tokens=40)
        next(stream)
        stream.close()  # the consumer walks away mid-generation
        assert wait_until(lambda: engine.active == 0, timeout=10)
        assert len(list(engine.generate([4, 5], max_new_tokens=3))) == 3  # the single row is free again
        with pytest.raises(PromptTooLong):
            engine.submit(Sequence(list(range(48)), 4, SamplingParams(), frozenset(), print, print))
    finally:
        engine.stop()


class PoisonedPrefill:
    """The tiny model, except that prefilling a prompt that starts with POISON raises (as running out
    of memory on a long prompt would)."""

    POISON = 311

    def __init__(self, model):
        self.model, self.device = model, model.device

    def new_cache(self, batch_size: int, max_len: int):
        return self.model.new_cache(batch_size, max_len)

    def __call__(self, ids, cache, **kw):
        if ids.shape[1] > 1 and int(ids[0, 0]) == self.POISON:
            raise RuntimeError("out of memory")
        return self.model(ids, cache, **kw)


def test_a_failing_prefill_fails_only_its_own_request(tiny):
    """Both prompts go in in the same step, the failing one first: the other moves down into the
    freed row and still produces exactly its one-at-a-time tokens."""
    greedy = SamplingParams(temperature=0)
    expected = list(generate(tiny, [5, 17, 3], max_new_tokens=8, sampling=greedy))
    engine = Engine(PoisonedPrefill(tiny), EngineConfig(max_batch=2, max_len=64))
    reasons: dict[str, str] = {}
    both_done = threading.Event()
    tokens: list[int] = []

    def seq(name, prompt, emit):
        def done(reason):
            reasons[name] = reason
            if len(reasons) == 2:
                both_done.set()
        return Sequence(prompt, 8, greedy, frozenset(), emit=emit, done=done)

    engine.submit(seq("bad", [PoisonedPrefill.POISON, 1, 2], lambda t: None))
    engine.submit(seq("good", [5, 17, 3], tokens.append))
    engine.start()  # started after both are queued: one plan holds both prefills
    try:
        assert both_done.wait(60)
        assert reasons == {"bad": "error: RuntimeError: out of memory", "good": "length"}
        assert tokens == expected and engine.active == 0
    finally:
        engine.stop()


def test_static_decode_step_equals_the_eager_one(each_family):
    """The capturable step (device-held lengths, fixed kv bucket, padded rows) gives the eager logits."""
    tiny = each_family
    lens = [5, 9, 3]
    prompts = torch.randint(0, PRESETS["v2_lite"]["vocab_size"], (3, 9), generator=torch.Generator().manual_seed(4))
    eager, static = tiny.new_cache(4, 32), tiny.new_cache(4, 32)
    for cache in (eager, static):
        tiny(prompts, cache.rows(0, 3), seq_lens=lens)
    step = torch.tensor([[11], [12], [13]])
    expected = tiny(step, eager.rows(0, 3))
    padded = torch.cat([step, torch.zeros(1, 1, dtype=torch.long)])
    got = static_decode(tiny, padded, torch.tensor(lens + [0]), static.kv, kv_len=16)[:3]
    # (the routed experts' output is float32 whatever the model dtype: equal to float32 precision)
    torch.testing.assert_close(got, expected, atol=2e-5, rtol=0)
    torch.testing.assert_close(static.kv[:, :3], eager.kv[:, :3], atol=2e-5, rtol=0)
    static.lengths = [n + 1 for n in lens] + [0]  # the caller advances the host-side lengths
    # on CPU the graphed decoder simply decodes eagerly
    decoder = GraphedDecoder(tiny, eager)
    view = eager.rows(0, 3)
    torch.testing.assert_close(decoder(step, view), tiny(step, static.rows(0, 3)), atol=2e-5, rtol=0)
    assert decoder.fallback and view.lengths == [7, 11, 5]


def test_the_engine_warns_once_when_graphs_fall_back_and_decodes_on(tiny):
    """The decoder only records why it cannot replay graphs; the engine says it, once, and from
    then on decodes through the model (on CPU the decoder falls back at its first call)."""
    greedy = SamplingParams(temperature=0)
    expected = list(generate(tiny, [5, 17, 3], max_new_tokens=4, sampling=greedy))
    engine = Engine(tiny, EngineConfig(max_batch=1, max_len=32))  # steps run here, in this thread
    engine.graphs = GraphedDecoder(tiny, engine.cache)
    tokens: list[int] = []
    engine.submit(Sequence([5, 17, 3], 4, greedy, frozenset(), emit=tokens.append, done=lambda reason: None))
    engine.step()  # the prefill: no decode yet
    with pytest.warns(RuntimeWarning, match="decoding eagerly: cpu is not a CUDA device"):
        engine.step()
    assert engine.graphs is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second warning would raise here
        while engine.scheduler.has_work():
            engine.step()
    assert tokens == expected


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("preset", ["v3", "qwen3_moe"])
def test_graphed_decode_equals_eager_on_cuda(tmp_path, preset):
    from tests.local_model.lm_testing import make_checkpoint

    model = load_model(make_checkpoint(tmp_path, preset, seed=2)[0], device="cuda", dtype=torch.bfloat16)
    a, b = model.new_cache(4, 300), model.new_cache(4, 300)
    prompt = torch.randint(0, 320, (3, 7), device="cuda")
    for cache in (a, b):
        model(prompt, cache.rows(0, 3))
    decoder = GraphedDecoder(model, b)
    token = torch.randint(0, 320, (3, 1), device="cuda")
    for _ in range(3):
        eager, graphed = model(token, a.rows(0, 3)), decoder(token, b.rows(0, 3))
        assert decoder.fallback is None
        torch.testing.assert_close(graphed.float(), eager.float(), atol=5e-2, rtol=5e-2)
        token = eager[:, -1].argmax(-1, keepdim=True)
