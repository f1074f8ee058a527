"""The one rule of whether a peer offers key transparency (T06), without a network
(``accord.federation.mimi_ext.offers_transparency``; docs/PROTOCOL.md "Keys not
transparency-checked")."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from accord.errors import NoTransparency, PeerUnavailable
from accord.federation import mimi_ext
from accord.federation.negotiation import Directory

KT = "https://peer.test/v1/transparency/head"


@dataclass
class Directories:
    directory: Directory | None

    async def get(self, domain: str, now: int) -> Directory:
        if self.directory is None:
            raise PeerUnavailable("the directory could not be read")
        return self.directory


@dataclass
class Fed:
    directories: Directories
    plain: bool = False


def fed(listed: dict[str, str] | None, found: bool = True, plain: bool = False) -> Fed:
    d = None if listed is None else Directory("peer.test", listed, found)
    return Fed(Directories(d), plain)


@pytest.mark.parametrize(("listed", "found", "offers"), [
    ({"accord-keyTransparency": KT, "accord-deviceList": KT}, True, True),
    ({}, False, True),  # an Accord peer without a MIMI directory: its Accord document
    ({"update": KT}, True, False),  # a plain MIMI peer
    ({"accord-deviceList": KT}, True, False),  # an Accord peer withholding it
])
async def test_T06_a_peer_offers_transparency_exactly_as_its_directory_lists_it(
    listed: dict[str, str], found: bool, offers: bool
) -> None:
    assert await mimi_ext.offers_transparency(fed(listed, found), "peer.test", 0) is offers  # type: ignore[arg-type]
    if offers:
        await mimi_ext.require_transparency(fed(listed, found), "peer.test", 0)  # type: ignore[arg-type]
    else:
        with pytest.raises(NoTransparency):
            await mimi_ext.require_transparency(fed(listed, found), "peer.test", 0)  # type: ignore[arg-type]


async def test_T06_an_unreadable_directory_is_no_silent_no_and_a_plain_provider_asks_none(
) -> None:
    with pytest.raises(PeerUnavailable):
        await mimi_ext.offers_transparency(fed(None), "peer.test", 0)  # type: ignore[arg-type]
    listed = {"accord-keyTransparency": KT}
    assert not await mimi_ext.offers_transparency(fed(listed, plain=True), "peer.test", 0)  # type: ignore[arg-type]
