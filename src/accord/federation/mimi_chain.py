"""The hub's handshake chain (T07) over MIMI fan-out: accord-forkDetection (issue 22,
docs/PROTOCOL.md "accord-forkDetection").

A hub sends the chain link of each commit and Welcome with its notify (5.5) to a
follower whose MIMI directory lists ``accord-forkDetection``
(:func:`sends_links`), in the signed ``accord-handshake-chain`` header
(:mod:`accord.wire.mimi_accord`); a follower tells its devices to expect links
in a room followed over MIMI exactly when the room's hub lists it
(:func:`hub_links`). Both ask the one lookup of Accord's extensions
(:func:`accord.federation.mimi_ext.extension_url`); a directory that cannot be
read is :class:`~accord.errors.PeerUnavailable` (asked again later), never "no
links": a failed fetch must not turn the members' fork check off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.federation.mimi_ext import extension_url
from accord.wire.mimi_accord import FORK_DETECTION

if TYPE_CHECKING:
    from accord.federation.service import Federation


async def sends_links(fed: Federation, follower: str, now: int) -> bool:
    """This hub sends ``follower`` its chain links with each notify."""
    return await extension_url(fed, follower, FORK_DETECTION, now) is not None


async def hub_links(fed: Federation, hub: str, followed_over_mimi: bool, now: int) -> bool:
    """The devices of a group hubbed at ``hub`` get the hub's chain link (T07) with every
    commit and Welcome: always over Accord's own fan-out; over MIMI fan-out when the hub
    lists ``accord-forkDetection`` (then a missing link is fork evidence)."""
    return not followed_over_mimi or await extension_url(fed, hub, FORK_DETECTION,
                                                         now) is not None
