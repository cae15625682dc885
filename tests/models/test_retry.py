"""`stream_with_retries` with scripted attempts (a fake at the provider seam: a callable
returning event generators) and a recording sleep, so no test waits."""
from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from agent.core.errors import ModelError, StreamInterrupted
from agent.models.retry import Failure, RetryPolicy, parse_retry_after, stream_with_retries


class Boom(Exception):
    def __init__(self, failure: Failure):
        self.failure = failure


def attempts(*scripts):
    """open_stream() for the given attempts: each a list of events, or a Boom to raise after them."""
    it = iter(scripts)
    calls = []

    def open_stream():
        script = next(it)
        calls.append(script)

        def gen():
            for item in script:
                if isinstance(item, Boom):
                    raise item
                yield item
        return gen()
    return open_stream, calls


def classify(exc):
    return exc.failure if isinstance(exc, Boom) else None


RETRY = Boom(Failure(True, "busy"))
FATAL = Boom(Failure(False, "set KEY"))


def run(open_stream, policy=RetryPolicy(3, 1.0, 8.0)):
    slept = []
    return list(stream_with_retries(open_stream, classify, policy, sleep=slept.append)), slept


def test_retries_failures_before_the_first_event_with_growing_backoff():
    open_stream, calls = attempts([RETRY], [RETRY], ["a", "b"])
    events, slept = run(open_stream)
    assert events == ["a", "b"] and len(calls) == 3
    assert 0.5 <= slept[0] <= 1.0 and 1.0 <= slept[1] <= 2.0


def test_backoff_is_capped():
    policy = RetryPolicy(10, 1.0, 3.0)
    assert all(1.5 <= policy.backoff(n, None) <= 3.0 for n in range(5, 10))


def test_retry_after_is_honoured():
    open_stream, _ = attempts([Boom(Failure(True, "429", retry_after=7.5))], ["ok"])
    assert run(open_stream)[1] == [7.5]


def test_failure_after_an_event_is_stream_interrupted():
    open_stream, calls = attempts(["partial", RETRY], ["never"])
    got = []
    with pytest.raises(StreamInterrupted, match="cut off"):
        for ev in stream_with_retries(open_stream, classify, RetryPolicy(3), sleep=lambda s: None):
            got.append(ev)
    assert got == ["partial"] and len(calls) == 1


def test_fatal_failure_is_not_retried():
    open_stream, calls = attempts([FATAL], ["never"])
    with pytest.raises(ModelError, match="set KEY") as info:
        run(open_stream)
    assert type(info.value) is ModelError and len(calls) == 1


def test_gives_up_after_max_retries():
    open_stream, calls = attempts([RETRY], [RETRY], [RETRY])
    with pytest.raises(ModelError, match="gave up after 3 attempts"):
        run(open_stream, RetryPolicy(2, 0.01, 0.01))
    assert len(calls) == 3


def test_unclassified_exceptions_propagate_unchanged():
    def open_stream():
        raise KeyError("bug")
        yield
    with pytest.raises(KeyError):
        run(open_stream)


def test_closing_closes_the_attempt():
    closed = []

    def open_stream():
        try:
            yield 1
            yield 2
        finally:
            closed.append(True)
    gen = stream_with_retries(open_stream, classify, RetryPolicy())
    assert next(gen) == 1
    gen.close()
    assert closed == [True]


def test_policy_from_options():
    assert RetryPolicy.from_options({"max_retries": 0, "retry_base_delay": 0.1}) == RetryPolicy(0, 0.1, 30.0)


def test_parse_retry_after_forms():
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert 8 <= parse_retry_after({"retry-after": formatdate(time.time() + 10, usegmt=True)}) <= 10
    assert parse_retry_after({"retry-after": "soon"}) is None and parse_retry_after(None) is None
