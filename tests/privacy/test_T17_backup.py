"""T17 evidence: a backup restores with the recovery key only, and the provider's
copy contains no plaintext string of the history."""

from __future__ import annotations

import os

import pytest

from accord.client import backup, messaging
from accord.client import conversations as convs
from accord.client.device import Device
from accord.errors import AuthError, DecodeError, NotFound
from accord.privacy.backup_format import KdfCost, WrongRecoveryKey, new_recovery_key
from tests.e2e.helpers import CHEAP, PASS, Clock, engine, new_device
from tests.engine import start_server, stored_needles
from tests.federation.groups import arrive

COST = KdfCost(time_cost=1, memory_kib=8 * 1024, parallelism=1)


async def test_T17_backup_restores_with_the_recovery_key_only(tmp_path) -> None:
    server = start_server(tmp_path / "provider", "alpha.test", log_path=tmp_path / "srv.log")
    clock = Clock()
    devs: list[Device] = []
    try:
        alice = await new_device(tmp_path / "a", "alice@alpha.test", server.url, clock)
        bob = await new_device(tmp_path / "b", "bob@alpha.test", server.url, clock)
        devs = [alice, bob]
        conv = await convs.create(alice, "lighthouse", ["bob@alpha.test"], clock())
        texts = ["the lighthouse keeper counts seventeen gulls",
                 "and the fog horn sounds at dawn"]
        await messaging.send_text(alice, conv, texts[0], clock())
        bconv = await arrive(bob, "lighthouse", clock)
        await messaging.send_text(bob, bconv, texts[1], clock())
        await alice.sync(clock())

        key = new_recovery_key(os.urandom)
        assert len(key.replace("-", "")) == 36  # 160 bits + checksum, nine groups of four
        sealed = backup.create(alice, clock(), key, COST)
        await backup.upload(alice, sealed, key)
        (tmp_path / "alice.backup").write_bytes(sealed)
        old_id = alice.identity.device_id

        # the provider's copy reveals nothing of the history
        needles = [t.encode() for t in texts] + [b"lighthouse", b"fog horn"]
        assert stored_needles(tmp_path / "provider", needles) == []

        # a wrong key: a clear error; a mistyped key: caught by the checksum
        other = new_recovery_key(os.urandom)
        with pytest.raises(WrongRecoveryKey):
            backup.read(sealed, other)
        with pytest.raises(DecodeError):
            backup.read(sealed, key[:-1] + ("0" if key[-1] != "0" else "2"))
        with pytest.raises(NotFound):
            await backup.download(server.url, other)

        # all devices lost: a new profile with the recovery key only
        fresh = Device.init(tmp_path / "a2", PASS, engine=engine(), kdf=CHEAP)
        devs.append(fresh)
        doc = backup.read(await backup.download(server.url, key), key)
        await backup.relink(fresh, doc, clock())
        assert fresh.identity.account == "alice@alpha.test"
        assert fresh.identity.device_id != old_id
        added = backup.import_history(fresh, doc, clock())
        assert added >= 2
        restored = convs.find(fresh, "lighthouse")
        assert [m.body for m in fresh.store.messages(restored["conv_id"])] == texts
        assert not restored["meta"]["active"]  # no MLS secret came back
        assert "sig_priv" not in str(doc["conversations"])

        # the lost device can no longer log in
        with pytest.raises(AuthError):  # every login refusal is one AuthError (T14)
            await alice.connect()

        # bob adds the new device back: it reads new messages, history kept
        await arrive(bob, "lighthouse", clock)
        await convs.add_members(bob, convs.find(bob, "lighthouse"), ["alice@alpha.test"],
                                clock())
        await fresh.sync(clock())
        await messaging.send_text(bob, convs.find(bob, "lighthouse"), "welcome back", clock())
        await fresh.sync(clock())
        bodies = [m.body for m in fresh.store.messages(restored["conv_id"])]
        assert bodies == [*texts, "welcome back"]
        assert convs.find(fresh, "lighthouse")["meta"]["active"]
    finally:
        for d in devs:
            await d.disconnect()
        server.stop()
