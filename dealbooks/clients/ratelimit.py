"""Client-side rate limiting per (service, key): a sliding window plus a concurrency cap.

The aim is to stay *under* a vendor's throttle in steady state instead of bouncing off it: every
request first takes a slot in a sliding window of ``rate`` requests per ``per`` seconds and one of
``concurrency`` in-flight slots; when the vendor still answers "throttled" (another process or app
shares the realm), ``penalize(seconds)`` closes the gate for everyone in this process until the
vendor's ``Retry-After`` has passed.

The limiter is in-process. Several workers sharing one QBO realm each keep their own window, so
give each a share of the budget (``rate=500 / workers``) or layer a Prefect global concurrency
limit on top through ``hooks``: each hook is a zero-argument callable returning a context manager
that is entered around every request, after the local slots are taken. ``prefect_limit_hooks``
builds the two for a QBO realm (``QuickBooksCredentials.global_rate_limits`` turns them on);
``dealbooks setup`` creates the limits (``qbo-realm-<realm>-rate``: 480 with slot decay 8/s;
``qbo-realm-<realm>-concurrent``: 10), which then hold across every worker of the deployment.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager

Hook = Callable[[], AbstractContextManager[object]]


class RateLimiter:
    """A sliding-window rate limit and a concurrency semaphore for one key (e.g. one QBO realm).

    Args:
        rate: requests allowed per window.
        per: window length in seconds.
        concurrency: requests allowed in flight at once.
        hooks: extra context managers entered around each request (see the module docstring).
        clock: monotonic time source (tests pass a fake one).
        sleep: sleep function (tests pass a fake one).
    """

    def __init__(
        self,
        rate: int,
        per: float,
        concurrency: int,
        *,
        hooks: Sequence[Hook] = (),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate < 1 or per <= 0 or concurrency < 1:
            raise ValueError("rate, per and concurrency must be positive")
        self.rate = rate
        self.per = per
        self.concurrency = concurrency
        self.hooks = tuple(hooks)
        self._clock = clock
        self._sleep = sleep
        self._cond = threading.Condition()
        self._starts: deque[float] = deque()
        self._in_flight = 0
        self._blocked_until = 0.0
        self.waited_seconds = 0.0
        self.max_in_flight = 0

    def _delay(self, now: float) -> float:
        """Seconds until a new request may start (0 when it may start now); caller holds the lock."""
        while self._starts and self._starts[0] <= now - self.per:
            self._starts.popleft()
        delay = max(0.0, self._blocked_until - now)
        if len(self._starts) >= self.rate:
            delay = max(delay, self._starts[0] + self.per - now)
        return delay

    def acquire(self) -> None:
        """Block until both a window slot and an in-flight slot are free, then take them."""
        started = self._clock()
        while True:
            with self._cond:
                while self._in_flight >= self.concurrency:
                    self._cond.wait(timeout=1.0)
                now = self._clock()
                delay = self._delay(now)
                if delay <= 0:
                    self._starts.append(now)
                    self._in_flight += 1
                    self.max_in_flight = max(self.max_in_flight, self._in_flight)
                    self.waited_seconds += now - started
                    return
            self._sleep(min(delay, 1.0))

    def release(self) -> None:
        """Give back the in-flight slot taken by ``acquire``."""
        with self._cond:
            self._in_flight = max(0, self._in_flight - 1)
            self._cond.notify()

    def penalize(self, seconds: float) -> None:
        """Hold every new request of this key for ``seconds`` (the vendor said Retry-After)."""
        with self._cond:
            self._blocked_until = max(self._blocked_until, self._clock() + max(0.0, seconds))

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Context manager around one request: local slots first, then the layered hooks."""
        self.acquire()
        try:
            with ExitStack() as stack:
                for hook in self.hooks:
                    stack.enter_context(hook())
                yield
        finally:
            self.release()


_registry: dict[tuple[str, str], RateLimiter] = {}
_registry_lock = threading.Lock()


def get_limiter(
    service: str,
    key: str,
    *,
    rate: int,
    per: float,
    concurrency: int,
    hooks: Sequence[Hook] = (),
) -> RateLimiter:
    """The process-wide limiter for ``(service, key)``, created with these limits on first use.

    Every client of the same realm in a process shares one limiter, so two ``QboClient`` objects
    for one company do not together exceed the budget.

    Args:
        service: e.g. ``"qbo"`` or ``"qbo-batch"``.
        key: e.g. the realm id.
        rate: requests per window.
        per: window in seconds.
        concurrency: in-flight cap.
        hooks: extra context managers per request (used only when the limiter is created).

    Returns:
        The shared limiter.
    """
    with _registry_lock:
        limiter = _registry.get((service, key))
        if limiter is None:
            limiter = RateLimiter(rate, per, concurrency, hooks=hooks)
            _registry[(service, key)] = limiter
        return limiter


def rate_limit_name(realm_id: str) -> str:
    """The Prefect global concurrency limit (slot decay) that paces QBO requests of one realm."""
    return f"qbo-realm-{realm_id}-rate"


def concurrent_limit_name(realm_id: str) -> str:
    """The Prefect global concurrency limit capping QBO requests in flight for one realm."""
    return f"qbo-realm-{realm_id}-concurrent"


def prefect_limit_hooks(realm_id: str) -> tuple[Hook, Hook]:
    """Hooks taking the realm's two global limits (created by ``dealbooks setup``) per request.

    A limit that does not exist does not block (Prefect's non-strict mode): the in-process limiter
    still applies.
    """
    from prefect.concurrency.sync import concurrency, rate_limit

    @contextmanager
    def paced() -> Iterator[None]:
        rate_limit(rate_limit_name(realm_id))  # blocks until the decaying limit has a slot
        yield

    return (paced, lambda: concurrency(concurrent_limit_name(realm_id), occupy=1))


def reset_limiters() -> None:
    """Forget every shared limiter (tests, or after changing limits)."""
    with _registry_lock:
        _registry.clear()
