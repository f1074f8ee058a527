"""A conversation as a MIMI room (issue 22): its URIs and its index of MIMI message IDs.

The MIMI message ID of a message (draft-ietf-mimi-content-08 3.3) hashes its
sender's URI and its room's URI with it. The sender's is the user URI of the
account MLS authenticates (``mimi://DOMAIN/u/USER``); the room's is
``mimi://HUB/r/GROUP`` (``accord.wire.mimi_uri.mimi_room_uri``), where HUB is
the provider that hubs the MLS group. A device knows the hub of a group it
created from its provider's answer, and learns the hub of a group it joined
from its own provider (``GET /v1/groups/ID``) before the first message of
that group is sent or read (``learn_hub``). A provider that lied about it
would make this device's references miss (the messages stay readable): no
more than it could do by withholding them. The same answer says whether posts
to the group go with the device's session (``named_sender``: the hub is
elsewhere and reached over MIMI, which names the sender); the device takes it
only for a group hubbed elsewhere, so its own provider cannot learn who posts
in the groups it hubs itself (T11). It also says whether the hub's chain links
(T07) come with the group's commits (``hub_links``: not when the provider follows
the group over MIMI fan-out, which carries none); the fork check then rests on
the epoch tags of the application messages alone.

``StoreIndex`` is the ``MessageIndex`` of one conversation over the profile
(``store_mimi``): what the mapping of MIMI references needs of earlier
messages.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from accord.client.mls_session import split_identity
from accord.client.store import ProfileStore
from accord.content.mimi_map import from_mimi, mentions
from accord.content.model import Content, Reaction, Text
from accord.content.sealing import decode_body, seal
from accord.errors import DecodeError, NotFound, ValidationError
from accord.wire.accounts import domain_of
from accord.wire.mimi_uri import (
    account_of_user_uri,
    mimi_group_uri,
    mimi_room_uri,
    mimi_user_uri,
)

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore as Device

_HUB = "hub:"  # kv key prefix: the group id in hex -> the hub's domain
_NAMED = "named:"  # kv key prefix: the group id in hex -> b"1" if posts name their sender
_UNLINKED = "unlinked:"  # kv key prefix: the group id in hex -> b"1": no hub chain links


def remember_hub(dev: Device, group_id: bytes, hub: str, named: bool = False) -> None:
    dev.store.put(_HUB + group_id.hex(), hub.encode())
    remember_named(dev, group_id, named)


def remember_named(dev: Device, group_id: bytes, named: bool) -> None:
    dev.store.put(_NAMED + group_id.hex(), b"1" if named else b"0")


def named_sender(dev: Device, group_id: bytes) -> bool:
    """Posts to ``group_id`` go with this device's session (``GroupState.named_sender``:
    its hub is reached over MIMI, which names the sender); otherwise with a hidden
    sender (T11), the default for a group whose state the device has not read."""
    return dev.store.get(_NAMED + group_id.hex()) == b"1"


async def learn_hub(dev: Device, group_id: bytes, *, again: bool = False) -> None:
    """Ask this device's provider for the hub of ``group_id`` (and whether its posts name
    their sender) once, or ``again``; a group the provider does not show us (not, or no
    longer, a member) stays unknown."""
    if dev.store.get(_HUB + group_id.hex()) is not None and not again:
        return
    try:
        state = await dev.api.group(group_id)
    except NotFound:
        return
    home = domain_of(dev.identity.account)
    remember_hub(dev, group_id, state.hub, state.named_sender and state.hub != home)
    dev.store.put(_UNLINKED + group_id.hex(),
                  b"1" if not state.hub_links and state.hub != home else b"0")


def hub_links(dev: Device, group_id: bytes) -> bool:
    """The hub's chain links (T07) come with this group's commits and Welcomes; False when
    this device's provider follows it over MIMI fan-out, which carries none
    (``GroupState.hub_links``; only for a group hubbed elsewhere)."""
    return dev.store.get(_UNLINKED + group_id.hex()) != b"1"


def room_uri(dev: Device, group_id: bytes) -> str:
    found = uris(dev, group_id)
    if not found:
        raise ValidationError("the hub of this group is not known yet: sync again",
                              "draft-ietf-mimi-content-08 3.3")
    return found["room_uri"]


def uris(dev: Device, group_id: bytes) -> dict[str, str]:
    """The room's and its MLS group's MIMI URIs (draft-ietf-mimi-protocol-06 section 3),
    ``room_uri`` and ``group_uri``; none while the hub is not known yet."""
    raw = dev.store.get(_HUB + group_id.hex())
    if raw is None:
        return {}
    return {"room_uri": mimi_room_uri(raw.decode(), group_id),
            "group_uri": mimi_group_uri(raw.decode(), group_id)}


def sender_uri(account: str) -> str:
    """The URI of the sender a MIMI message ID hashes: the user, as MLS authenticates it."""
    return mimi_user_uri(account)


async def for_room(dev: Device, conv: dict[str, Any], plaintext: bytes) -> bytes:
    """A kept body as it must be posted in the conversation's
    current MLS group: sealed anew when a ReInit moved the conversation since it was
    sealed, since the room URI is in the content and in its MIMI ID (the index follows).
    The same content in the same room seals to the same bytes, so a retry is the same
    message to every recipient."""
    await learn_hub(dev, conv["group_id"])
    room = room_uri(dev, conv["group_id"])
    m = decode_body(plaintext)
    if m.room_uri in (None, room):
        return plaintext
    idx = index(dev, conv)
    content = from_mimi(m, idx, 0)
    if not isinstance(content, Content):
        raise ValidationError("a kept message this device cannot seal again for the new group")
    sealed = seal(content, idx, sender_uri(dev.identity.account), room)
    dev.store.mimi_rekey(conv["conv_id"], content.message_id, sealed.mimi_id)
    return sealed.plaintext


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


def exported_id(dev: Device, conv_id: str, msg_id: bytes) -> str | None:
    """A message's MIMI ID for a history or a backup of this account (hex), if known."""
    mimi_id = dev.store.mimi_id_of(conv_id, msg_id)
    return mimi_id.hex() if mimi_id else None


def import_id(dev: Device, conv_id: str, msg_id: bytes, mimi_hex: Any, sender: str) -> None:
    """The MIMI ID of a message imported from this account's history or backup, so that
    replies, reactions, edits and receipts can refer to it; one that is malformed or
    clashes with the index is left out (``mimi_record`` writes nothing then)."""
    try:
        mimi_id = bytes.fromhex(mimi_hex) if isinstance(mimi_hex, str) else b""
    except ValueError:
        return
    if len(mimi_id) == 32:
        with contextlib.suppress(ValidationError):
            dev.store.mimi_record(conv_id, msg_id, mimi_id, sender)


def index(dev: Device, conv: dict[str, Any]) -> StoreIndex:
    return StoreIndex(dev.store, str(conv["conv_id"]), dev.identity.account)


def text_meta(dev: Device, conv: dict[str, Any], content: Content) -> dict[str, Any]:
    """What a text carries besides its words, kept with it: markdown (GFM-MIMI), its
    topic (MIMI's topicId, opaque octets) and the members it mentions: a link to a
    user URI is a mention only of a member of the room (draft section 9.6)."""
    body = content.body
    assert isinstance(body, Text)
    out: dict[str, Any] = {}
    if body.markdown:
        out["markdown"] = True
    if content.header.topic:
        out["topic"] = content.header.topic.hex()
    linked = mentions(body.text)
    if linked:
        state = dev.store.load_group(conv["group_id"])
        present = {split_identity(mb.identity)[0] for mb in dev.engine.members(state)}
        out["mentions"] = [a for a in map(_account, linked) if a in present]
    return out


def _account(user_uri: str) -> str | None:
    try:
        return account_of_user_uri(user_uri)
    except DecodeError:
        return None
