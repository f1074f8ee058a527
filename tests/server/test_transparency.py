"""The provider's key transparency log (issue 7), on SQLite and PostgreSQL.

Process tests: a real provider on loopback; every device change is in the
log, checked with the device's own verifier (``accord.client.keycheck``).
Service tests: persistence, rollback with the device change, several nodes
on one database, the tombstone of a deleted account.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.harness import ServerProcess, SimDevice

from accord.client import alerts
from accord.client.keycheck import KeyChecker, KeyNotInLog, KtHttp
from accord.errors import Conflict
from accord.federation.provider_key import ProviderKey
from accord.server.transparency import TransparencyLog
from accord.storage import DeviceRecord
from accord.transparency import decode_signed_head, verify_lookup, verify_signed_head
from accord.wire import decode
from accord.wire.federation import WellKnown


class Kv:
    def __init__(self) -> None:
        self.data: dict[str, object] = {}

    def get_json(self, key: str, default: object = None) -> object:
        return self.data.get(key, default)

    def put_json(self, key: str, value: object) -> None:
        self.data[key] = value


async def test_every_device_change_is_logged(server: ServerProcess, http: httpx.AsyncClient,
                                             names) -> None:
    alice = await SimDevice(http, names("alice")).register()
    kv = Kv()
    kt = KtHttp(server.url, "alpha.test")
    checker = KeyChecker(kv, kt)
    try:
        now = 1_800_000_000_000
        entry = await checker.verify_device_key(alice.account, alice.public, now)
        assert entry.version == 1 and entry.device_keys == (alice.public,)
        size1 = checker.last_head("alpha.test").head.size  # type: ignore[union-attr]

        phone = SimDevice(http, alice.account)
        await alice.link(phone)
        entry = await checker.verify_device_key(alice.account, phone.public, now + 1)
        assert set(entry.device_keys) == {alice.public, phone.public} and entry.version == 2
        assert checker.last_head("alpha.test").head.size > size1  # type: ignore[union-attr]

        await alice.call("DELETE", f"/v1/devices/{phone.device_id}", expect=204)
        with pytest.raises(KeyNotInLog):
            await checker.verify_device_key(alice.account, phone.public, now + 2)
        assert [a["kind"] for a in alerts.pending(kv)] == ["key_not_in_log"]
        await checker.verify_device_key(alice.account, alice.public, now + 3)

        # The head in discovery is signed by the provider key discovery publishes.
        doc = decode(WellKnown, (await http.get("/.well-known/accord")).json())
        assert doc.transparency_head is not None
        head = verify_signed_head(decode_signed_head(doc.transparency_head), doc.signing_key,
                                  "alpha.test")
        assert head.size >= 3
        r = await http.get("/v1/transparency/consistency", params={"old": 5, "new": 10**9})
        assert r.status_code == 422
    finally:
        await kt.close()


def _device(account: str, key: bytes | None = None) -> DeviceRecord:
    pub = key or Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    return DeviceRecord(pub.hex()[:22], account, pub, 1)


async def test_log_survives_restart_and_rolls_back_with_the_change(provider, tmp_path: Path
                                                                   ) -> None:
    engine = provider.store.engine
    key, index_key = ProviderKey.generate(), b"k" * 32
    kt = TransparencyLog("alpha.test", engine, key, index_key)
    await kt.backfill(10)
    first = _device("ann@alpha.test")
    await kt.create_account(first, 11)
    await kt.add_device(_device("ann@alpha.test"), 12)
    size, root = kt.directory.size, kt.directory.log.root()
    # A duplicate device key fails inside the transaction: no entry, no device.
    with pytest.raises(Conflict):
        await kt.add_device(_device("ann@alpha.test", first.signature_key), 13)
    assert kt.directory.size == size
    assert len(await provider.store.list_devices("ann@alpha.test")) == 2

    again = TransparencyLog("alpha.test", engine, key, index_key)
    await again.reload()
    assert (again.directory.size, again.directory.log.root()) == (size, root)

    # Another node appends; this one catches up before answering.
    await again.remove_device(first, 14)
    sth, proof = await kt.lookup("ann@alpha.test", 15)
    entry = verify_lookup(sth.head, "ann@alpha.test", proof)
    assert entry is not None and first.signature_key not in entry.device_keys
    assert sth.head.size == size + 1
    # Caught up entry by entry, it is the log a fresh load builds.
    fresh = TransparencyLog("alpha.test", engine, key, index_key)
    await fresh.reload()
    assert (kt.directory.log.root(), kt.directory.map.root) == (
        fresh.directory.log.root(), fresh.directory.map.root)


async def test_account_deletion_leaves_a_tombstone(provider) -> None:
    engine = provider.store.engine
    kt = TransparencyLog("alpha.test", engine, ProviderKey.generate(), b"i" * 32)
    await kt.create_account(_device("bo@alpha.test"), 1)

    async def erase(tx) -> None:  # type: ignore[no-untyped-def]
        await tx.execute("DELETE FROM accounts WHERE account = ?", "bo@alpha.test")

    await kt.delete_account("bo@alpha.test", erase, 2)
    sth, proof = await kt.lookup("bo@alpha.test", 3)
    entry = verify_lookup(sth.head, "bo@alpha.test", proof)
    assert entry is not None and entry.deleted and entry.device_keys == ()
