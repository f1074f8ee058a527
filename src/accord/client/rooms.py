"""A conversation as a MIMI room (issue 22): its URIs and its index of MIMI message IDs.

The MIMI message ID of a message (draft-ietf-mimi-content-08 3.3) hashes its
sender's URI and its room's URI with it. The sender's is the user URI of the
account MLS authenticates (``mimi://DOMAIN/u/USER``); the room's is
``mimi://HUB/r/GROUP`` (``accord.wire.mimi.mimi_room_uri``), where HUB is
the provider that hubs the MLS group. A device knows the hub of a group it
created from its provider's answer, and learns the hub of a group it joined
from its own provider (``GET /v1/groups/ID``) before the first message of
that group is sent or read (``learn_hub``). A provider that lied about it
would make this device's references miss (the messages stay readable): no
more than it could do by withholding them.

``StoreIndex`` is the ``MessageIndex`` of one conversation over the profile
(``store_mimi``): what the mapping of MIMI references needs of earlier
messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.client.store import ProfileStore
from accord.content.model import Content, Reaction
from accord.errors import NotFound, ValidationError
from accord.wire.mimi import mimi_room_uri, mimi_user_uri

if TYPE_CHECKING:
    from accord.client.device import Device

_HUB = "hub:"  # kv key prefix: the group id in hex -> the hub's domain


def remember_hub(dev: Device, group_id: bytes, hub: str) -> None:
    dev.store.put(_HUB + group_id.hex(), hub.encode())


async def learn_hub(dev: Device, group_id: bytes) -> None:
    """Ask this device's provider for the hub of ``group_id`` once; a group the provider
    does not show us (not, or no longer, a member) stays unknown."""
    if dev.store.get(_HUB + group_id.hex()) is not None:
        return
    try:
        state = await dev.api.group(group_id)
    except NotFound:
        return
    remember_hub(dev, group_id, state.hub)


def room_uri(dev: Device, group_id: bytes) -> str:
    raw = dev.store.get(_HUB + group_id.hex())
    if raw is None:
        raise ValidationError("the hub of this group is not known yet: sync again",
                              "draft-ietf-mimi-content-08 3.3")
    return mimi_room_uri(raw.decode(), group_id)


def sender_uri(account: str) -> str:
    """The URI of the sender a MIMI message ID hashes: the user, as MLS authenticates it."""
    return mimi_user_uri(account)


class StoreIndex:
    """The ``mimi_map.MessageIndex`` of conversation ``conv_id``; ``me`` is this
    device's account (the one whose reactions it removes)."""

    def __init__(self, store: ProfileStore, conv_id: str, me: str) -> None:
        self._store, self._conv, self._me = store, conv_id, me

    def mimi_id(self, accord_id: bytes) -> bytes | None:
        return self._store.mimi_id_of(self._conv, accord_id)

    def accord_id(self, mimi_id: bytes) -> bytes | None:
        return self._store.accord_id_of(self._conv, mimi_id)

    def reaction(self, mimi_id: bytes) -> tuple[bytes, str] | None:
        found = self._store.mimi_reaction(self._conv, mimi_id)
        return None if found is None else (found[0], found[1])

    def reaction_id(self, target: bytes, emoji: str) -> bytes | None:
        return self._store.mimi_reaction_id(self._conv, self._me, target, emoji)

    def record(self, content: Content, mimi_id: bytes, sender: str) -> bool:
        """Record a message sent or received; False when it is a redelivery."""
        body = content.body
        reaction = ((body.target, body.emoji)
                    if isinstance(body, Reaction) and not body.remove else None)
        return self._store.mimi_record(self._conv, content.message_id, mimi_id, sender,
                                       reaction)


def index(dev: Device, conv: dict[str, object]) -> StoreIndex:
    return StoreIndex(dev.store, str(conv["conv_id"]), dev.identity.account)
