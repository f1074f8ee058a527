"""Two providers on loopback (alpha.test hub, beta.test follower) and posting like a real client."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from accord.content import Content, Opened, Text, decode_body, make_content, open_content, seal
from accord.content.mimi_map import MemoryIndex
from accord.privacy.franking import franking_tag_in, message_aad
from accord.privacy.sizes import private_message
from accord.wire import b64e, signing
from accord.wire import messages as m
from accord.wire.accounts import domain_of
from accord.wire.mimi import mimi_room_uri, mimi_user_uri
from tests.engine import provider_tables, running
from tests.federation.providers import MlsDevice, Provider

__all__ = ["MlsDevice", "Provider"]

def two_providers(root: Path, mimi: bool = True) -> Iterator[dict[str, Provider]]:
    with running(root, ["alpha.test", "beta.test"], mimi=mimi) as provs:
        yield provs


def content(text: str) -> Content:
    return make_content(Text(text), random_bytes=secrets.token_bytes, sent_at=1)


def post_body(dev: MlsDevice, c: Content, tag: bytes | None = None) -> dict[str, Any]:
    """A real client's post: franked MIMI content (MLS pads it), its Safe AAD holding
    the franking tag and the epoch tag (random unless ``tag``)."""
    from accord.mls import group as g

    gid = dev.state_group_id()
    sealed = seal(c, MemoryIndex(), mimi_user_uri(dev.account),
                  mimi_room_uri(domain_of(dev.account), gid))
    aad = message_aad(tag or secrets.token_bytes(8), sealed.franking_tag)
    msg, dev.state = g.protect(dev.state, sealed.plaintext, aad)
    ciphertext = bytes(msg.to_bytes())
    epoch, nonce = dev.epoch(), secrets.token_bytes(16)
    sig = dev.posting_key().sign(signing.post_input(gid, epoch, nonce, ciphertext))
    return {"epoch": epoch, "nonce": b64e(nonce), "ciphertext": b64e(ciphertext),
            "signature": b64e(sig)}


async def post(anon: httpx.AsyncClient, dev: MlsDevice, c: Content) -> httpx.Response:
    body = post_body(dev, c)
    r = await anon.post(f"/v1/groups/{b64e(dev.state_group_id())}/messages",
                        content=json.dumps(body), headers={"content-type": "application/json"})
    return r


def open_item(dev: MlsDevice, item: m.QueueItem) -> Opened:
    """Decrypt an application item and check its franking tag (these tests'
    posts name their sender and room; the sender is not taken from MLS here)."""
    tag = franking_tag_in(bytes(private_message(item.body).authenticated_data))
    plaintext = dev.read(item.body)
    assert plaintext is not None
    named = decode_body(plaintext)
    assert named.sender_uri is not None and named.room_uri is not None
    return open_content(plaintext, tag, MemoryIndex(), sender_uri=named.sender_uri,
                        room_uri=named.room_uri, received_at=item.created_at)


def rows(provider: Provider) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the provider stores, on whichever engine it runs."""
    return provider_tables(provider.data_dir, provider.database)
