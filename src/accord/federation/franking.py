"""The hub's franking tags (T13) and handshake hash chain (T07), around delivery.

When the hub accepts an application post it MACs the sender's franking tag
(the ``frank_aad`` item of the post's Safe AAD, read by
``accord.privacy.franking.split_aad``) with the group and its own
time, keyed by a provider secret, and files the tag under the message id;
every recipient gets the tag with the item (``QueueItem.franking_tag``).
The hub learns nothing about the sender in doing so.

When the hub accepts the commit of an epoch it extends the group's hash
chain (``accord.privacy.fork_chain.chain_next``, one link per epoch) in the
commit's own transaction (``accord.storage.hub_sql``); the
link (epoch and value) goes with the commit and its Welcome
(``QueueItem.chain_seq``/``chain``), and every member checks it
(``accord.client.fork_check``).

Followers cannot compute either: they file what the hub sent with each
fanned-out item (``FedItem.franking_tag``/``chain_seq``/``chain``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from accord.errors import DecodeError
from accord.federation import provider_key
from accord.federation.host import Host
from accord.privacy.franking import franking_tag, franking_tag_of_post
from accord.storage import NewMessage
from accord.wire import messages as m
from accord.wire import mimi as w

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


async def tag_post(p: Host, msg: NewMessage) -> bytes | None:
    """The franking tag of a post; the hub files it in the post's own transaction
    (``hub_sql.hub_post``), before the post is fanned out.

    A post whose Safe AAD carries no ``frank_aad`` (or is no Safe AAD at all)
    gets no tag: it cannot be reported with franking.
    """
    assert msg.group_id is not None
    try:
        sender_tag = franking_tag_of_post(msg.body)
    except DecodeError:
        return None
    if sender_tag is None:
        return None
    return franking_tag(await hub_key(p), sender_tag, msg.group_id, msg.created_at)


async def decorate(p: Host, items: list[m.QueueItem]) -> list[m.QueueItem]:
    """Add the franking tag to application items and the chain link to handshake items."""
    apps = [i.msg_id for i in items if i.kind == "application"]
    shakes = [i.msg_id for i in items if i.kind in CHAINED_KINDS]
    tags = await p.store.franking.tags_for(apps)
    links = await p.store.franking.chains_for(shakes)
    if not tags and not links:
        return items
    out = []
    for i in items:
        link = links.get(i.msg_id)
        if i.msg_id in tags:
            i = dataclasses.replace(i, franking_tag=tags[i.msg_id])
        elif link is not None:
            i = dataclasses.replace(i, chain_seq=link[0], chain=link[1])
        out.append(i)
    return out


async def purge(p: Host, now: int) -> int:
    return await p.store.franking.purge(now)


# Over MIMI (draft-ietf-mimi-protocol-06 5.4.1) the tag is the Frank's server_frank;
# it is the hub's MAC, not signed: no signature suite.
NO_FRANKING_SIGNATURE = 0


def as_frank(tag: bytes | None) -> w.MaybeFrank:
    return w.MaybeFrank(None if tag is None else w.Frank(tag, NO_FRANKING_SIGNATURE, b""))


def tag_of(frank: w.MaybeFrank | None) -> bytes | None:
    return None if frank is None or frank.frank is None else frank.frank.server_frank
