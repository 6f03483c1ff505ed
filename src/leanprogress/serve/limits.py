"""Bounded work for the server: a fixed number of requests in flight, each with a time limit.

A request that arrives while ``capacity`` requests are being worked on is
turned away at once (the server answers 429 with ``Retry-After``) instead of
queueing: latency stays bounded under any load and a client knows to come back.
Admitted work runs in a worker thread of its own; a request whose time limit
passes gets its answer (504) at once, and its work stops at its next step
(the model lock is waited for only until the deadline; a running forward
pass or generator call cannot be interrupted). Its slot is freed when the
work stops, not when the answer is sent, so the bound is on work, not on
open connections.

Example:
    >>> import asyncio
    >>> limiter = WorkLimiter(capacity=2, timeout_s=5)
    >>> asyncio.run(limiter.run(lambda deadline: 41 + 1))
    42
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable


class Busy(Exception):
    """No slot is free; ``retry_after_s`` says when to come back (whole seconds, at least 1)."""

    def __init__(self, in_flight: int, retry_after_s: int):
        requests = "1 request is" if in_flight == 1 else f"{in_flight} requests are"
        super().__init__(f"{requests} being worked on, the most this server takes; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class DeadlineExceeded(Exception):
    """The request's time limit passed."""


class Deadline:
    """When a request's time is up; work checks it between steps."""

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self.at = time.monotonic() + timeout_s

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def check(self, what: str) -> None:
        if self.remaining() <= 0:
            raise DeadlineExceeded(f"the time limit of {self.timeout_s:g} s passed before {what}")

    def acquire(self, lock: threading.Lock, what: str) -> None:
        """Take ``lock``, waiting no longer than the time left."""
        if not lock.acquire(timeout=max(0.0, self.remaining())):
            raise DeadlineExceeded(f"the time limit of {self.timeout_s:g} s passed while waiting for {what}")


class WorkLimiter:
    """At most ``capacity`` requests worked on at once, each within ``timeout_s``.

    Args:
        capacity: requests worked on at once; one more gets :class:`Busy`.
        timeout_s: time limit per request; past it :meth:`run` raises
            :class:`DeadlineExceeded`.
    """

    def __init__(self, capacity: int, timeout_s: float):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self.capacity, self.timeout_s = capacity, timeout_s
        self._pool = ThreadPoolExecutor(max_workers=capacity, thread_name_prefix="leanprogress-work")
        self._lock = threading.Lock()
        self.in_flight = 0
        self.waiting_for_model = 0
        self.served = self.rejected = self.timed_out = self.failed = 0
        self._mean_s = float(capacity)  # moving average of how long work took (for Retry-After; 1 s a slot at first)

    def retry_after(self) -> int:
        """Whole seconds after which a slot is likely free, at least 1.

        With every slot taken, one frees about every ``mean work time / capacity`` seconds.
        """
        return max(1, math.ceil(self._mean_s / self.capacity))

    def _admit(self) -> None:
        with self._lock:
            if self.in_flight >= self.capacity:
                self.rejected += 1
                raise Busy(self.in_flight, self.retry_after())
            self.in_flight += 1

    def _release(self, seconds: float, ok: bool) -> None:
        with self._lock:
            self.in_flight -= 1
            self._mean_s = 0.8 * self._mean_s + 0.2 * seconds
            if ok:
                self.served += 1

    async def run(self, work: Callable[[Deadline], Any]) -> Any:
        """Run ``work(deadline)`` in a worker thread if a slot is free.

        Raises:
            Busy: every slot is taken (nothing was started).
            DeadlineExceeded: the time limit passed (the work stops at its next step).
        """
        self._admit()
        deadline = Deadline(self.timeout_s)
        started = time.monotonic()

        def job():
            ok = False
            try:
                result = work(deadline)
                ok = True
                return result
            finally:
                self._release(time.monotonic() - started, ok)

        try:
            future = asyncio.get_running_loop().run_in_executor(self._pool, job)
        except BaseException:
            self._release(0.0, False)
            raise
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout=max(0.0, deadline.remaining()))
        except asyncio.TimeoutError:
            with self._lock:
                self.timed_out += 1
            raise DeadlineExceeded(f"the request took longer than its time limit of {self.timeout_s:g} s") from None
        except DeadlineExceeded:
            with self._lock:
                self.timed_out += 1
            raise
        except Exception:
            with self._lock:
                self.failed += 1
            raise

    def waiting(self, delta: int) -> None:
        """Count a worker starting (+1) or ending (-1) a wait for the model."""
        with self._lock:
            self.waiting_for_model += delta

    def stats(self) -> dict:
        """What /health reports about the work queue."""
        with self._lock:
            return {"in_flight": self.in_flight, "capacity": self.capacity,
                    "waiting_for_model": self.waiting_for_model, "timeout_s": self.timeout_s,
                    "served": self.served, "rejected": self.rejected, "timed_out": self.timed_out,
                    "failed": self.failed, "retry_after_s": self.retry_after()}

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
