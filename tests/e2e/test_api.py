"""The provider API client against a real server process (loopback)."""

from __future__ import annotations

import os
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from accord.client.api import ProviderApi
from accord.client.mls_rfc import RfcEngine
from accord.client.mls_session import identity_of
from accord.errors import AuthError, Conflict, CryptoError, EpochConflict, NotFound
from accord.wire import messages as m
from accord.wire import signing


def _key_packages(account: str, device_id: str, sk: Ed25519PrivateKey, pk: bytes,
                  n: int) -> list[bytes]:
    engine = RfcEngine()
    now = time.time_ns() // 1_000_000
    priv = sk.private_bytes_raw()
    return [engine.key_package(identity_of(account, device_id), priv, pk, now).public
            for _ in range(n)]


def _group(account: str, device_id: str, sk: Ed25519PrivateKey, pk: bytes,
           group_id: bytes) -> bytes:
    return RfcEngine().create_group(group_id, identity_of(account, device_id),
                                    sk.private_bytes_raw(), pk, time.time_ns() // 1_000_000)


def _app_message(account: str, device_id: str, sk: Ed25519PrivateKey, pk: bytes,
                 group_id: bytes, text: bytes) -> bytes:
    """A real MLS PrivateMessage (the provider checks the framing, not the content)."""
    state = _group(account, device_id, sk, pk, group_id)
    return RfcEngine().protect(state, text, b"")[0]


def keypair() -> tuple[Ed25519PrivateKey, bytes]:
    sk = Ed25519PrivateKey.generate()
    return sk, sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


async def test_register_login_devices_keypackages_groups_queue_blobs(server) -> None:
    sk, pk = keypair()
    account = f"u{os.urandom(4).hex()}@alpha.test"
    async with ProviderApi(server.url) as api:
        reg = await api.register(account, pk, sk.sign)
        with pytest.raises(AuthError):
            await api.key_package_count()
        await api.login("alpha.test", reg.device_id, sk.sign)
        assert (await api.key_package_count()).count == 0
        kps = _key_packages(account, reg.device_id, sk, pk, 3)
        await api.upload_key_packages(kps[:2], last_resort=kps[2])
        assert (await api.key_package_count()).count == 2
        claim = await api.claim_key_packages(account)
        assert [k.device_id for k in claim.key_packages] == [reg.device_id]

        sk2, pk2 = keypair()
        poss = sk2.sign(signing.possession_input(account, pk2))
        added = await api.add_device(account, pk2, sk.sign, poss)
        devices = await api.list_devices(account)
        assert {d.device_id for d in devices.devices} == {reg.device_id, added.device_id}
        await api.remove_device(added.device_id)
        with pytest.raises(NotFound):
            await api.remove_device(added.device_id)

        post_sk, post_pk = keypair()
        gid = os.urandom(16)
        # The hub keeps the group's public state from this GroupInfo, so the commit
        # below must come from this very group state.
        mls_state = _group(account, reg.device_id, sk, pk, gid)
        state = await api.create_group(gid, post_pk, RfcEngine().group_info(mls_state))
        assert state.epoch == 0
        ct = _app_message(account, reg.device_id, sk, pk, gid, b"hello")
        await api.post_application(gid, 0, os.urandom(16), ct, post_sk.sign)
        with pytest.raises(CryptoError):
            await api.post_application(gid, 0, os.urandom(16), ct, sk.sign)
        page = await api.fetch(0)
        assert [i.body for i in page.items] == [ct]
        assert page.items[0].sender is None
        await api.ack(page.next_after)
        assert (await api.fetch(0)).items == []

        c0 = RfcEngine().commit(mls_state, add=[], remove=[], update=True,
                                now=time.time_ns() // 1_000_000).commit
        resp = await api.commit(gid, m.CommitRequest(epoch=0, commit=c0, posting_key=post_pk))
        assert resp.epoch == 1
        with pytest.raises(EpochConflict) as info:
            await api.commit(gid, m.CommitRequest(epoch=0, commit=c0, posting_key=post_pk))
        assert info.value.current_epoch == 1
        assert isinstance(info.value, Conflict)

        blob = await api.upload_blob(b"\x01" * 1000)
        assert await api.download_blob(blob.blob_id) == b"\x01" * 1000


async def test_push_and_relogin(server) -> None:
    sk, pk = keypair()
    account = f"u{os.urandom(4).hex()}@alpha.test"
    async with ProviderApi(server.url) as api:
        reg = await api.register(account, pk, sk.sign)
        await api.login("alpha.test", reg.device_id, sk.sign)
        post_sk, post_pk = keypair()
        gid = os.urandom(16)
        await api.create_group(
            gid, post_pk, RfcEngine().group_info(_group(account, reg.device_id, sk, pk, gid)))
        ct = _app_message(account, reg.device_id, sk, pk, gid, b"pushed")
        await api.post_application(gid, 0, os.urandom(16), ct, post_sk.sign)
        frames = [f async for f in api.push(0, max_frames=1, idle_timeout=5)]
        assert frames and frames[0][0].body == ct
        api._token = "x" * 43  # an unknown session is renewed by logging in again
        assert (await api.key_package_count()).count == 0
