"""Device lifecycle as a person meets it (issue 19), real CLI processes against a
real provider: restore asks first and can be done again; a removed device still
reads its history offline and says it was removed; a removed member who posts is
told so."""

from __future__ import annotations

import asyncio
import json

from accord.client import conversations as convs
from accord.client import housekeeping, linking, messaging
from tests.e2e.helpers import Clock, accord, accord_json, fresh_account, new_device
from tests.federation.groups import arrive

js = accord_json


def test_restore_asks_first_and_the_provider_copy_restores_again(server, tmp_path) -> None:
    alice = tmp_path / "alice"
    account = fresh_account("alice")
    accord(alice, "init")
    accord(alice, "register", account, "--server", server.url)
    accord(alice, "chat", "new", "notes")
    accord(alice, "send", "notes", "the spare key is under the mat")
    key = js(alice, "backup", "create", "--provider")["recovery_key"]

    # without --yes (and no terminal to ask on) nothing happens: alice's device still works
    asked = accord(tmp_path / "new", "backup", "restore", "--server", server.url,
                   "--recovery-key", key, check=False)
    assert asked.returncode == 1
    assert "REMOVES the backed-up device" in asked.stderr and "--yes" in asked.stderr
    assert not (tmp_path / "new").exists()
    assert js(alice, "devices", "list")[0]["this_device"]

    done = js(tmp_path / "new", "backup", "restore", "--server", server.url,
              "--recovery-key", key, "--yes")
    assert done["account"] == account and done["messages"] == 1
    # the old device reads its history offline and says it was removed
    old = accord(alice, "search", "spare", "--json")
    assert [h["text"] for h in json.loads(old.stdout)] == ["the spare key is under the mat"]
    assert "this device was removed" in old.stderr
    sent = accord(alice, "send", "notes", "still here?", check=False)
    assert sent.returncode == 1 and "this device was removed" in sent.stderr
    assert "Traceback" not in sent.stderr

    # the provider's copy now names the restored device: it restores once more
    again = js(tmp_path / "again", "backup", "restore", "--server", server.url,
               "--recovery-key", key, "--yes")
    assert again["account"] == account and again["messages"] == 1
    assert "this device was removed" in accord(tmp_path / "new", "search", "spare").stderr


def test_removed_device_and_removed_member(server, tmp_path) -> None:
    """A device removed from another device of the account reads its history and
    says why it cannot send; a member removed from a conversation is told so."""
    clock = Clock()
    a_acct, b_acct = fresh_account("alice"), fresh_account("bob")

    async def setup() -> str:
        alice = await new_device(tmp_path / "alice", a_acct, server.url, clock)
        bob = await new_device(tmp_path / "bob", b_acct, server.url, clock)
        laptop = await new_device(tmp_path / "laptop", None, server.url, clock)
        try:
            slot = await linking.open_slot(alice, clock())
            await linking.join(laptop, slot.code, server.url)
            answer = await linking.poll_answer(alice, slot)
            assert answer is not None
            laptop_id = await linking.certify(alice, slot, answer)
            await laptop.complete_link(clock())
            conv = await convs.create(alice, "harbour", [b_acct], clock())
            await messaging.send_text(alice, conv, "boats at noon", clock())
            for d in (laptop, bob):
                await arrive(d, "harbour", clock)
            assert [m.body for m in laptop.store.messages(
                convs.find(laptop, "harbour")["conv_id"])] == ["boats at noon"]
            await housekeeping.remove_device(alice, laptop_id, clock())
            await convs.remove_member(alice, convs.find(alice, "harbour"), b_acct, clock())
        finally:
            for d in (alice, bob, laptop):
                await d.disconnect()
                d.close()
        return laptop_id

    asyncio.run(setup())
    laptop, bob = tmp_path / "laptop", tmp_path / "bob"
    read = accord(laptop, "read", "harbour", "--json", "--no-receipts")
    assert [i["text"] for i in json.loads(read.stdout)["items"] if i["type"] == "message"] \
        == ["boats at noon"]
    assert "this device was removed" in read.stderr
    sent = accord(laptop, "send", "harbour", "hello?", check=False)
    assert sent.returncode == 1 and "this device was removed" in sent.stderr

    # bob has not synced since alice removed him: his post tells him
    posted = accord(bob, "send", "harbour", "wait for me", check=False)
    assert posted.returncode == 1, posted.stdout
    assert "you were removed from harbour" in posted.stderr
    assert "Traceback" not in posted.stderr
    again = accord(bob, "send", "harbour", "wait for me", check=False)
    assert again.returncode == 1 and "you were removed from harbour" in again.stderr
    # and his history stays readable
    assert "boats at noon" in accord(bob, "read", "harbour", "--no-receipts").stdout
