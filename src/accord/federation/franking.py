"""The hub's franks (T13, MIMI 5.4.1) and handshake hash chain (T07), around delivery.

When the hub accepts an application post it franks it
(:mod:`accord.privacy.server_frank`): ``server_frank`` over the sender's
franking_tag (the ``frank_aad`` item of the post's Safe AAD, read by
:func:`accord.privacy.franking.franking_tag_of_post`) and the context (the
sender URI the submitter named, or the empty one of a hidden sender; the room
URI; the hub's accepted time), signed with the provider's Ed25519 key when the room's
GroupContext names this hub as its ``franking_agent``. The encoded ``Frank`` is
filed under the message id in the post's own transaction and goes with the item
to every recipient (``QueueItem.frank``, ``FedItem.frank``; MIMI: the submit
answer and the FanoutMessage). The sender URI itself is not sent: the receiver
knows it from MLS, as 5.4.1.2 has it.

When the hub accepts the commit of an epoch it extends the group's hash
chain (``accord.privacy.fork_chain.chain_next``, one link per epoch) in the
commit's own transaction (``accord.storage.hub_sql``); the
link (epoch and value) goes with the commit and its Welcome
(``QueueItem.chain_seq``/``chain``), and every member checks it
(``accord.client.fork_check``).

Followers cannot compute either: they file what the hub sent with each
fanned-out item (``FedItem.frank``/``chain_seq``/``chain``).
"""

from __future__ import annotations

import dataclasses
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accord.content.mimi import MimiContent
from accord.errors import DecodeError
from accord.federation import provider_key
from accord.federation.host import Host
from accord.mls.group.app_proposals import app_data
from accord.mls.group.public import context_of
from accord.mls.structs.app_data import AppDataDictionary
from accord.privacy import server_frank
from accord.privacy.franking import franking_tag_of_post, reported_tag
from accord.storage import NewMessage
from accord.wire import messages as m
from accord.wire import mimi as w
from accord.wire.mimi_frank import decode_frank

if TYPE_CHECKING:
    from accord.federation.service import Federation

SECRET_NAME = provider_key.FRANKING
CHAINED_KINDS = ("commit", "welcome")

async def hub_key(p: Host) -> bytes:
    """The hub's franking key, the provider's on every node (``accord.federation.provider_key``)."""
    key = p.franking_key
    if key is None:
        key = await provider_key.franking_key(Path(p.config.data_dir), p.store.secrets,
                                              provider_key.key_of(p.config.key_file))
        p.franking_key = key
    return key


async def frank_post(fed: Federation, msg: NewMessage, sender_uri: str | None,
                     group_epoch: int) -> bytes | None:
    """The encoded Frank of a post (MIMI 5.4.1.2); the hub files it in the post's own
    transaction (``hub_sql.hub_post``), before the post is fanned out. ``sender_uri``:
    the user URI the submitter named, None for a hidden sender (T11); ``group_epoch``:
    the room's epoch as the hub read it for this post.

    A post whose Safe AAD carries no ``frank_aad`` (or is no Safe AAD at all) gets
    no frank: it cannot be reported with franking.
    """
    assert msg.group_id is not None
    try:
        tag = franking_tag_of_post(msg.body)
    except DecodeError:
        return None
    if tag is None:
        return None
    suite, signing = await _signer(fed, msg.group_id, group_epoch)
    ctx = server_frank.context(sender_uri, w.mimi_room_uri(fed.domain, msg.group_id),
                               msg.created_at)
    return server_frank.make(await hub_key(fed.provider), tag, ctx, suite,
                             signing).to_bytes()


# What the hub franks with, per room and epoch (its GroupContext does not change within
# an epoch): a post reads the room's whole public state only at an epoch's first post.
_SIGNERS: weakref.WeakKeyDictionary[Any, OrderedDict[tuple[bytes, int], tuple[int, bool]]] = (
    weakref.WeakKeyDictionary())
MAX_SIGNERS = 4096


async def _signer(fed: Federation, group_id: bytes, epoch: int) -> tuple[int, bytes | None]:
    """The group's suite and the key the hub franks with: the provider's Ed25519 key when
    the GroupContext's franking_agent is this hub with that key, and the suite signs
    with Ed25519; None (an unsigned frank) otherwise (docs/PROTOCOL.md "Franking")."""
    known = _SIGNERS.setdefault(fed, OrderedDict())
    found = known.get((group_id, epoch))
    if found is None:
        public = await fed.provider.store.hub_public_state(group_id)
        if public is None:
            return server_frank.UNSIGNED, None
        found = _read_signer(fed, public[1])
        known[(group_id, public[0])] = found
        while len(known) > MAX_SIGNERS:
            known.popitem(last=False)
    suite, signs = found
    return (suite, fed.key.raw()) if signs else (server_frank.UNSIGNED, None)


def _read_signer(fed: Federation, state: bytes) -> tuple[int, bool]:
    """``(suite, whether the hub signs)`` of a room's public state (:func:`_signer`)."""
    try:
        gc = context_of(state)
        agent = server_frank.agent_of(app_data(gc) or AppDataDictionary())
    except DecodeError:
        return server_frank.UNSIGNED, False
    suite = int(gc.cipher_suite)
    signs = (agent is not None and agent.franking_signature_key == fed.key.public
             and server_frank.names_hub(agent, fed.domain)
             and server_frank.signs_with_ed25519(suite))
    return suite, signs


async def decorate(p: Host, items: list[m.QueueItem]) -> list[m.QueueItem]:
    """Add the Frank to application items and the chain link to handshake items."""
    apps = [i.msg_id for i in items if i.kind == "application"]
    shakes = [i.msg_id for i in items if i.kind in CHAINED_KINDS]
    franks = await p.store.franking.tags_for(apps)
    links = await p.store.franking.chains_for(shakes)
    if not franks and not links:
        return items
    out = []
    for i in items:
        link = links.get(i.msg_id)
        if i.msg_id in franks:
            i = dataclasses.replace(i, frank=franks[i.msg_id])
        elif link is not None:
            i = dataclasses.replace(i, chain_seq=link[0], chain=link[1])
        out.append(i)
    return out


async def purge(p: Host, now: int) -> int:
    return await p.store.franking.purge(now)


def as_frank(frank: bytes | None) -> w.MaybeFrank:
    """An item's encoded Frank as MIMI's ``optional<Frank>`` (5.4, 5.5)."""
    return w.MaybeFrank(decode_frank(frank))


def frank_of(frank: w.MaybeFrank | None) -> bytes | None:
    """The encoded Frank of a MIMI answer or FanoutMessage, as Accord's items carry it."""
    return None if frank is None or frank.frank is None else frank.frank.to_bytes()


def check_report(fed: Federation, group_id: bytes, accepted: int, content: bytes,
                 frank: bytes, hub: bytes) -> MimiContent:
    """The hub's check of a reported message (MIMI 5.9, T13): the content's
    franking_tag, then the server frank over the context with the content's sender URI
    (extension 1) or the hidden sender, then the hub's own signature. The reported
    content; ``CryptoError``/``DecodeError`` when it does not verify. ``hub``: the
    hub's franking key (:func:`hub_key`)."""
    found = decode_frank(frank)
    if found is None:
        raise DecodeError("not a Frank")
    decoded, tag = reported_tag(content)
    room = w.mimi_room_uri(fed.domain, group_id)
    senders = ([decoded.sender_uri] if decoded.sender_uri else []) + [None]
    server_frank.check_report(hub, fed.key.public, found, tag,
                              [server_frank.context(s, room, accepted) for s in senders])
    return decoded
