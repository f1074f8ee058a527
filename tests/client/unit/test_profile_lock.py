"""The profile's writer lock (issue 19): one process writes a profile at a time."""

from __future__ import annotations

import os

import pytest

from accord.client.profile_lock import ProfileBusy, WriterLock


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 1.0  # every poll is a second later
        return self.t


def test_second_holder_waits_then_gets_profile_busy(tmp_path) -> None:
    first = WriterLock(tmp_path)
    first.acquire(0)
    told: list[str] = []
    second = WriterLock(tmp_path, on_wait=told.append, clock=FakeClock())
    with pytest.raises(ProfileBusy) as exc:
        second.acquire(wait_s=3)
    assert exc.value.code == "profile_busy"
    assert told == [f"pid {os.getpid()}"]  # said once, naming the holder
    assert not second.held
    first.release()
    second.acquire(0)  # free again once released
    assert second.held
    second.release()


async def test_async_acquire_waits_for_release(tmp_path) -> None:
    first = WriterLock(tmp_path)
    first.acquire(0)
    second = WriterLock(tmp_path, clock=FakeClock())
    with pytest.raises(ProfileBusy):
        await second.acquire_async(wait_s=2)
    first.release()
    await second.acquire_async(wait_s=0)
    assert second.held
    second.release()
