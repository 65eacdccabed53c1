"""The per-realm limiter: sliding window, concurrency cap, Retry-After penalty, layered hooks."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from collections.abc import Iterator

import pytest

from dealbooks.clients.ratelimit import RateLimiter, get_limiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_window_never_exceeds_rate_in_any_window() -> None:
    t = FakeTime()
    limiter = RateLimiter(rate=50, per=60, concurrency=10, clock=t.clock, sleep=t.sleep)
    starts = []
    for _ in range(260):
        with limiter.slot():
            starts.append(t.now)
        t.now += 0.01  # each call takes 10 ms
    for i, start in enumerate(starts):
        in_window = [s for s in starts[i:] if s < start + 60]
        assert len(in_window) <= 50
    # steady state: exactly 50 per minute — call 251 starts one window after call 201, no idling
    assert 5 * 60 <= starts[-1] - starts[0] <= 5 * 60 + 1


def test_penalty_holds_new_requests_until_retry_after() -> None:
    t = FakeTime()
    limiter = RateLimiter(rate=100, per=60, concurrency=10, clock=t.clock, sleep=t.sleep)
    limiter.penalize(7.5)
    with limiter.slot():
        assert t.now >= 1007.5


def test_concurrency_cap_across_threads() -> None:
    limiter = RateLimiter(rate=10_000, per=60, concurrency=3)
    active = 0
    peak = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal active, peak
        with limiter.slot():
            with guard:
                active += 1
                peak = max(peak, active)
            time.sleep(0.02)
            with guard:
                active -= 1

    threads = [threading.Thread(target=work) for _ in range(24)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert peak == 3 and limiter.max_in_flight == 3


def test_hooks_are_entered_around_each_request() -> None:
    events: list[str] = []

    @contextmanager
    def gcl() -> Iterator[None]:
        events.append("enter")
        yield
        events.append("exit")

    limiter = RateLimiter(rate=5, per=1, concurrency=1, hooks=(gcl,))
    with limiter.slot():
        events.append("call")
    assert events == ["enter", "call", "exit"]


def test_shared_limiter_per_realm() -> None:
    a = get_limiter("qbo", "1", rate=480, per=60, concurrency=10)
    assert get_limiter("qbo", "1", rate=1, per=1, concurrency=1) is a
    assert get_limiter("qbo", "2", rate=480, per=60, concurrency=10) is not a


def test_invalid_limits() -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate=0, per=60, concurrency=1)
