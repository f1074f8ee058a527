"""T13, MIMI 5.4.1.2: the hub signs a frank only for a room whose GroupContext names it
as franking agent (its domain, its key) under a suite that signs with Ed25519; any other
room gets an unsigned frank (suite 0). What it franks with is read once per epoch."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.client import mls_room
from accord.federation import franking
from accord.federation.provider_key import ProviderKey
from accord.mls import group as g
from accord.mls.group.public import from_group_info
from accord.mls.structs import Credential, Extension
from accord.mls.structs.app_data import AppDataDictionary, SafeAAD
from accord.mls.structs.enums import ExtensionType
from accord.mls.suites import get_suite
from accord.privacy import server_frank
from accord.privacy.franking import message_aad
from accord.storage import NewMessage
from accord.wire.mimi import Frank, mimi_room_uri
from accord.wire.mimi_room import FRANKING_SIGNATURE_KEY

HUB = "hub.example"


@dataclass
class _Store:
    states: dict[bytes, tuple[int, bytes]] = field(default_factory=dict)
    reads: int = 0

    async def hub_public_state(self, group_id: bytes) -> tuple[int, bytes] | None:
        self.reads += 1
        return self.states.get(group_id)


@dataclass
class _Provider:
    store: _Store
    franking_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))


@dataclass
class _Fed:
    """What ``federation.franking`` reads of a Federation (weakly referenced, hashable)."""

    provider: _Provider
    key: ProviderKey = field(default_factory=ProviderKey.generate)
    domain: str = HUB

    __hash__ = object.__hash__


def _room(agent: bytes | None, suite: int = 1) -> tuple[bytes, bytes]:
    """A room's group id and public state, its GroupContext holding ``agent``."""
    cs = get_suite(suite)
    priv, _pub = cs.generate_signature_key_pair()
    cred, now, gid = Credential.basic(b"alice@hub.example/d"), int(time.time()), secrets.token_bytes(16)
    extensions: tuple[Extension, ...] = ()
    leaf = None
    if agent is not None:
        data = AppDataDictionary().with_data(FRANKING_SIGNATURE_KEY, agent)
        extensions = (Extension(ExtensionType.APP_DATA_DICTIONARY, data.to_bytes()),)
        leaf = g.key_package(cs, cred, priv, now,
                             capabilities=mls_room.capabilities(suite))
    state = g.create_group(cs, gid, cred, priv, now, extensions=extensions,
                           key_package=leaf)
    public, _ = from_group_info(g.group_info(state), now)
    return gid, public.to_bytes()


async def _frank(fed: _Fed, gid: bytes, tag: bytes) -> Frank:
    body = _private(gid, tag)
    raw = await franking.frank_post(fed, NewMessage(  # type: ignore[arg-type]
        "m1", "application", gid, 0, None, body, 1_800_000_000_000), None, 0)
    assert raw is not None
    return Frank.from_bytes(raw)


def _private(gid: bytes, tag: bytes) -> bytes:
    cs, key = get_suite(1), Ed25519PrivateKey.generate()
    state = g.create_group(cs, gid, Credential.basic(b"bob@hub.example/d"),
                           key.private_bytes_raw(), int(time.time()))
    msg, _ = g.protect(state, b"hello", message_aad(bytes(8), tag))
    return bytes(msg.to_bytes())


async def test_T13_the_hub_signs_only_as_the_rooms_franking_agent() -> None:
    fed = _Fed(_Provider(_Store()))
    mine = server_frank.agent(HUB, fed.key.public).to_bytes()
    rooms: dict[str, tuple[bytes, bytes]] = {
        "ours": _room(mine),
        "another domain": _room(server_frank.agent("evil.example", fed.key.public).to_bytes()),
        "another key": _room(server_frank.agent(
            HUB, Ed25519PrivateKey.generate().public_key().public_bytes_raw()).to_bytes()),
        "no agent": _room(None),
        "a suite that does not sign with Ed25519": _room(mine, suite=2),
    }
    for gid, state in rooms.values():
        fed.provider.store.states[gid] = (0, state)
    tag = secrets.token_bytes(32)
    for what, (gid, _) in rooms.items():
        frank = await _frank(fed, gid, tag)
        ctx = server_frank.context(None, mimi_room_uri(HUB, gid), 1_800_000_000_000)
        assert frank.server_frank == server_frank.server_frank(
            fed.provider.franking_key, tag, ctx), what
        if what == "ours":
            assert frank.franking_signature_ciphersuite == 1
            agent = server_frank.agent_of(AppDataDictionary().with_data(
                FRANKING_SIGNATURE_KEY, mine))
            assert server_frank.verify_received(frank, 1, agent, HUB, [ctx]) == ctx
        else:
            assert (frank.franking_signature_ciphersuite,
                    frank.franking_integrity_signature) == (0, b""), what
    # read once per room and epoch
    reads = fed.provider.store.reads
    await _frank(fed, rooms["ours"][0], tag)
    assert fed.provider.store.reads == reads


async def test_T13_a_post_without_a_franking_tag_gets_no_frank() -> None:
    fed = _Fed(_Provider(_Store()))
    gid, state = _room(server_frank.agent(HUB, fed.key.public).to_bytes())
    fed.provider.store.states[gid] = (0, state)
    cs, key = get_suite(1), Ed25519PrivateKey.generate()
    other = g.create_group(cs, gid, Credential.basic(b"bob@hub.example/d"),
                           key.private_bytes_raw(), int(time.time()))
    # no Safe AAD at all, or one without frank_aad
    for aad in (b"", SafeAAD.of({}).to_bytes()):
        msg, other = g.protect(other, b"hello", aad)
        got = await franking.frank_post(fed, NewMessage(  # type: ignore[arg-type]
            "m1", "application", gid, 0, None, bytes(msg.to_bytes()), 1), None, 0)
        assert got is None, aad
