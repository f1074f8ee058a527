"""A commit's sealed first-contact requests (issue 18, T14) over MIMI: accord-firstContact
(issue 22, docs/PROTOCOL.md "accord-firstContact").

The draft's update (5.3) and notify (5.5) have no place for them, so towards a peer
whose MIMI directory lists ``accord-firstContact`` the draft's body goes whole
inside a :class:`~accord.wire.mimi_accord.FirstContactCarrier`, to the URL the peer
lists, with the requests beside it: a follower's commit that adds devices goes so
to its hub (:func:`carrier_url`, ``mimi_out.update``), and a hub's notify holding
Welcomes with requests goes so to the invitee's provider (``mimi_fanout.notify``).
Towards any other peer the draft's body goes alone and the requests are not sent
(the message request then shows the inviter only). What the receiver does with
them is what Accord's own routes do: the hub holds them to the commit
(``hub.first_contact_of``: one per device the commit adds) and passes each to the
provider of its device with the Welcome; a follower files each with the Welcome
item of its device (``server.mimi_follower``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.federation.mimi_ext import extension_url
from accord.wire import mimi as w
from accord.wire.mimi_accord import FIRST_CONTACT

if TYPE_CHECKING:
    from accord.federation.service import Federation


async def carrier_url(fed: Federation, peer: str, group_id: bytes, hub: str, now: int
                      ) -> str | None:
    """The URL of ``peer``'s accord-firstContact for the room, or None when ``peer``
    lists none (the requests then stay behind)."""
    if await extension_url(fed, peer, FIRST_CONTACT, now) is None:
        return None
    return (await fed.directories.get(peer, now)).url(FIRST_CONTACT,
                                                      w.mimi_room_uri(hub, group_id))
