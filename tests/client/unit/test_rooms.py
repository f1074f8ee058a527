"""A conversation as a MIMI room (issue 22, ``rooms``): the hub of a group is learnt
once from this device's provider, and without it no room URI is made up."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.client import conversations as convs
from accord.client import rooms
from accord.errors import ValidationError

from .fakes import FakeProvider


async def test_the_hub_is_learnt_once_and_names_the_room(tmp_path: Path) -> None:
    p = FakeProvider()
    dev = await p.device(tmp_path / "a", "ann@alpha.test")
    conv = await convs.create(dev, "room", [], p.now)
    gid = conv["group_id"]
    # a group this device created: the hub is the one its provider's answer named
    assert rooms.room_uri(dev, gid).startswith("mimi://alpha.test/r/")
    asked = len(p.requests_seen)
    await rooms.learn_hub(dev, gid)  # known: not asked again
    assert len(p.requests_seen) == asked
    dev.store.delete("hub:" + gid.hex())  # a group joined by a Welcome: not known yet
    with pytest.raises(ValidationError, match="not known yet"):
        rooms.room_uri(dev, gid)
    await rooms.learn_hub(dev, gid)  # asked once
    assert len(p.requests_seen) == asked + 1
    assert rooms.room_uri(dev, gid).startswith("mimi://alpha.test/r/")
    await rooms.learn_hub(dev, b"x" * 16)  # a group the provider does not show: unknown
    with pytest.raises(ValidationError):
        rooms.room_uri(dev, b"x" * 16)
    rooms.remember_hub(dev, b"y" * 16, "beta.test")
    assert rooms.room_uri(dev, b"y" * 16).startswith("mimi://beta.test/r/")
    assert rooms.sender_uri("ann@alpha.test").startswith("mimi://alpha.test/")
    index = rooms.index(dev, conv)
    assert index.mimi_id(b"\x00" * 16) is None
