"""One writer per profile at a time: an exclusive ``flock`` on ``profile.lock``.

Two processes that both encrypt with one device's MLS state would both use the
same generation of the sender's ratchet (RFC 9420 9.1: a key and nonce are
used once); the recipients can decrypt only one of the two messages, the other
is lost (issue 19). So a process opening a profile takes this lock first, and
keeps it until it closes the profile; another command waits for it (bounded,
``wait_s``), then fails with :class:`ProfileBusy`.

``flock`` locks belong to the open file, and the kernel drops them when the
process exits, crashed or not: a stale lock file never blocks anyone. A
long-running holder (``accord listen``) suspends the lock while it waits for
the network and takes it again for each batch it applies.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path

from accord.errors import AccordError
from accord.private_files import private_file

LOCK_NAME = "profile.lock"
DEFAULT_WAIT_S = 60.0
POLL_S = 0.05


class ProfileBusy(AccordError):
    """Another process keeps the profile longer than the caller will wait."""

    code = "profile_busy"


class WriterLock:
    """The profile folder's writer lock; ``on_wait(holder_pid)`` is told once when
    the caller has to wait."""

    def __init__(self, folder: Path, *, on_wait: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = folder / LOCK_NAME
        self._on_wait = on_wait
        self._clock = clock
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _try(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(private_file(self.path), os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        # Who holds it, for the message another command shows while it waits.
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return True

    def _waiting(self, deadline: float, told: bool) -> bool:
        """Whether to poll again; raises ProfileBusy past the deadline."""
        if self._clock() >= deadline:
            raise ProfileBusy(f"another accord process ({self._holder()}) is using the profile "
                              f"in {self.path.parent}; try again when it has finished")
        if not told and self._on_wait is not None:
            self._on_wait(self._holder())
        return True

    def acquire(self, wait_s: float = DEFAULT_WAIT_S) -> None:
        deadline = self._clock() + wait_s
        told = False
        while not self._try():
            told = self._waiting(deadline, told)
            time.sleep(POLL_S)

    async def acquire_async(self, wait_s: float = DEFAULT_WAIT_S) -> None:
        deadline = self._clock() + wait_s
        told = False
        while not self._try():
            told = self._waiting(deadline, told)
            await asyncio.sleep(POLL_S)

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _holder(self) -> str:
        with contextlib.suppress(OSError, ValueError):
            return f"pid {int(self.path.read_text().strip())}"
        return "pid unknown"
