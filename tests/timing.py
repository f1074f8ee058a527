"""Time in tests, in one place: a clock the test moves, and one bounded wait.

A test never sleeps a fixed time hoping that something has happened by then. Where
the code under test takes the time as an input, the test gives it a
:class:`FakeClock` and moves it. Where the test must wait for another process or
task, it waits for the condition itself with :func:`wait_until` (or
:func:`wait_until_sync` outside an event loop): a short poll with a deadline, which
fails with what it waited for.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

POLL_S = 0.02


class FakeClock:
    """Time as an input (milliseconds since the epoch): tests move it instead of sleeping."""

    def __init__(self, now: int = 1_800_000_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


async def wait_until(check: Callable[[], T | Awaitable[T]], timeout_s: float = 10.0,
                     what: str = "the condition", poll_s: float = POLL_S) -> T:
    """The first truthy value of ``check()`` (a function or a coroutine function),
    polled every ``poll_s`` until ``timeout_s`` has passed; then an AssertionError."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if inspect.isawaitable(got):
            got = await got
        if got:
            return got  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not hold within {timeout_s} s")
        await asyncio.sleep(poll_s)


def wait_until_sync(check: Callable[[], T], timeout_s: float = 10.0,
                    what: str = "the condition", poll_s: float = POLL_S) -> T:
    """:func:`wait_until` for code without an event loop (threads, processes)."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not hold within {timeout_s} s")
        time.sleep(poll_s)
