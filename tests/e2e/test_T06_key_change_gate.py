"""T06 / issue 18: the key-change gate is the library's, on every path that encrypts
content for a conversation (the shape of WhatsApp's 2017 re-encryption flaw).

alice verified bob's keys when they were others than bob's keys in the group now
(the store holds the verified key set, as ``safety.mark_verified`` leaves it).
Texts, files, reactions, edits, deletions, read receipts, timers, renames, admin
changes and the automatic retry after an epoch conflict are all held back until
alice confirms; nothing reaches bob's queue meanwhile.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from accord.client import conversations as convs
from accord.client import cover, linking, messaging, safety
from accord.client.device import Device
from accord.client.local_server import LocalServer
from accord.wire import b64e
from tests.e2e.helpers import PASS, Clock, engine, new_device, run_cli
from tests.federation.groups import arrive


def verified_before_a_change(dev: Any, account: str) -> None:
    """``dev`` verified ``account`` when its key set was another one."""
    dev.store.upsert_contact(account, verified_fingerprint=bytes(32))
    dev.store.put_json("safety:" + account, [b64e(b"\x02" * 32)])


async def _devices(server: LocalServer, tmp_path: Path, names: list[str], clock: Clock
                   ) -> list[Any]:
    tag = os.urandom(3).hex()
    return [await new_device(tmp_path / n, f"{n}{tag}@alpha.test", server.url, clock)
            for n in names]


async def test_T06_every_send_path_is_gated(server: LocalServer, tmp_path: Path) -> None:
    clock = Clock()
    alice, bob = await _devices(server, tmp_path, ["alice", "bob"], clock)
    b_acct = bob.identity.account
    try:
        conv = await convs.create(alice, "gate", [b_acct], clock())
        mine = await messaging.send_text(alice, conv, "mine", clock())
        await arrive(bob, conv["conv_id"], clock)
        await messaging.send_text(bob, convs.find(bob, conv["conv_id"]), "theirs", clock())
        await alice.sync(clock())
        await bob.sync(clock())
        await bob.sync(clock())  # the delivery report bob's sync sent, back on his queue
        conv = alice.store.conversation(conv["conv_id"])
        verified_before_a_change(alice, b_acct)

        paths = {
            "text": lambda: messaging.send_text(alice, conv, "hi", clock()),
            "file": lambda: messaging.send_file(alice, conv, b"data", "f.txt", "text/plain",
                                                clock()),
            "reaction": lambda: messaging.react(alice, conv, mine, "👍", clock()),
            "edit": lambda: messaging.edit(alice, conv, mine, "changed", clock()),
            "delete": lambda: messaging.delete(alice, conv, mine, clock()),
            "receipt": lambda: messaging.mark_read(alice, conv, clock()),
            "timer": lambda: messaging.set_timer(alice, conv, 60, clock()),
            "rename": lambda: convs.rename(alice, conv, "renamed", clock()),
            "admins": lambda: convs.set_admins(alice, conv, [b_acct], clock()),
        }
        let_through = []
        for name, send in paths.items():
            try:
                await send()
                let_through.append(name)
            except safety.KeyChangeUnconfirmed as exc:
                assert exc.accounts == {b_acct}
                assert exc.rule == "issue 7 safety numbers"
        assert let_through == []
        assert (await bob.api.fetch(bob.cursor)).items == []  # nothing left the device

        # The person's confirmation, for exactly the accounts they were shown.
        await messaging.send_text(alice, conv, "confirmed", clock(), confirmed={b_acct})
        assert alice.store.get_json("safety:" + b_acct) is None  # the verification is cleared
        await arrive(bob, conv["conv_id"], clock)
        bconv = convs.find(bob, conv["conv_id"])
        assert [m.body for m in bob.store.messages(bconv["conv_id"])][-1] == "confirmed"
    finally:
        for d in (alice, bob):
            await d.disconnect()


async def test_T06_a_confirmation_covers_only_the_accounts_shown(
        server: LocalServer, tmp_path: Path) -> None:
    clock = Clock()
    alice, bob, carol = await _devices(server, tmp_path, ["alice", "bob", "carol"], clock)
    try:
        conv = await convs.create(alice, "gate2", [bob.identity.account,
                                                   carol.identity.account], clock())
        verified_before_a_change(alice, bob.identity.account)
        verified_before_a_change(alice, carol.identity.account)
        with pytest.raises(safety.KeyChangeUnconfirmed):
            await messaging.send_text(alice, conv, "hi", clock(),
                                      confirmed={bob.identity.account})
    finally:
        for d in (alice, bob, carol):
            await d.disconnect()


async def test_T06_the_retry_after_an_epoch_conflict_is_gated(
        server: LocalServer, tmp_path: Path) -> None:
    """dave, whom alice verified with other keys, is added while alice is sending:
    her post meets an epoch conflict, she syncs, and the retry would encrypt for dave."""
    clock = Clock()
    alice, carol, dave = await _devices(server, tmp_path, ["alice", "carol", "dave"], clock)
    try:
        cconv = await convs.create(carol, "retry", [alice.identity.account], clock())
        await arrive(alice, "retry", clock)
        conv = alice.store.conversation(cconv["conv_id"])
        verified_before_a_change(alice, dave.identity.account)
        await messaging.send_text(alice, conv, "before dave", clock())  # dave is not here
        assert await convs.add_members(carol, cconv, [dave.identity.account], clock())
        assert await convs.commit(carol, carol.store.conversation(cconv["conv_id"]), clock(),
                                  update=True)  # two epochs on: alice's post is refused
        with pytest.raises(safety.KeyChangeUnconfirmed) as caught:
            await messaging.send_text(alice, conv, "after dave", clock())
        assert caught.value.accounts == {dave.identity.account}
        await arrive(dave, cconv["conv_id"], clock)
        dconv = convs.find(dave, cconv["conv_id"])
        assert "after dave" not in [m.body for m in dave.store.messages(dconv["conv_id"])]
    finally:
        for d in (alice, carol, dave):
            await d.disconnect()


def test_T06_send_body_is_the_only_encryption_of_content() -> None:
    """The gate lives in ``posting.post_sealed`` (what ``send_body`` and the outbox's
    retries call): no other code of the device encrypts application content (a new
    path would skip the gate)."""
    import ast

    import accord

    root = Path(accord.__file__).parent
    callers = []
    for path in sorted([*(root / "client").glob("*.py"), *(root / "cli").glob("*.py")]):
        if path.name == "mls_rfc.py":
            continue  # the engine itself (RfcEngine.protect)
        tree = ast.parse(path.read_text())
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr == "protect"):
                    callers.append(f"{path.name}:{fn.name}")
    assert callers == ["posting.py:post_sealed"]


def _cli(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ACCORD_PROFILE=str(profile), ACCORD_PASSPHRASE=PASS)
    return subprocess.run([sys.executable, "-c", "from accord.cli.main import main; main()",
                           *args], env=env, capture_output=True, text=True, timeout=90,
                          stdin=subprocess.DEVNULL)


async def test_T06_the_cli_reads_without_receipts_and_asks_before_reacting(
        server: LocalServer, tmp_path: Path) -> None:
    clock = Clock()
    alice, bob = await _devices(server, tmp_path, ["alice", "bob"], clock)
    b_acct = bob.identity.account
    try:
        conv = await convs.create(alice, "cli gate", [b_acct], clock())
        await arrive(bob, conv["conv_id"], clock)
        said = await messaging.send_text(bob, convs.find(bob, conv["conv_id"]), "hi", clock())
        await alice.sync(clock())
        await bob.sync(clock())
        verified_before_a_change(alice, b_acct)
    finally:
        await alice.disconnect()
    alice.close()
    try:
        read = _cli(tmp_path / "alice", "read", conv["conv_id"])
        assert read.returncode == 0, read.stderr
        assert "hi" in read.stdout and "no read receipts sent" in read.stderr
        react = _cli(tmp_path / "alice", "react", conv["conv_id"], said.hex()[:8], "👍")
        assert react.returncode == 1 and "changed" in react.stderr
        assert (await bob.api.fetch(bob.cursor)).items == []  # neither receipt nor reaction
        react = _cli(tmp_path / "alice", "react", conv["conv_id"], said.hex()[:8], "👍",
                     "--confirm-key-change")
        assert react.returncode == 0, react.stderr
        assert [i.kind for i in (await bob.api.fetch(bob.cursor)).items] == ["application"]
    finally:
        await bob.disconnect()


async def test_T06_a_device_of_ours_not_in_the_log_gets_no_history(
        server: LocalServer, tmp_path: Path) -> None:
    """The history for a new device goes through the gate too; held, it does not stop
    the sync (the device's alert was shown when its key failed the log check)."""
    clock = Clock()
    (alice,) = await _devices(server, tmp_path, ["alice"], clock)
    laptop = await new_device(tmp_path / "laptop", None, server.url, clock)
    try:
        slot = await linking.open_slot(alice, clock())
        await linking.join(laptop, slot.code, server.url)
        new = await linking.poll_answer(alice, slot)
        assert new is not None
        await linking.certify(alice, slot, new)  # the history is due for the laptop
        assert await laptop.complete_link(clock()) is not None
        account = alice.identity.account
        alice.store.put_json("kt:bad", [f"{account}|{b64e(new.signature_key)}"])
        await alice.sync(clock())  # no exception: the rest of the sync went on
        assert alice.store.get_json("history_pending") != []
        assert await cover.send_cover(alice, clock()) is None
        await laptop.sync(clock())
        assert laptop.store.get_json("history_inbox", []) == []
    finally:
        for d in (alice, laptop):
            await d.disconnect()


def _nothing_changed(dev: Any, account: str, convs_before: list[str]) -> None:
    """A refused add left the device as it was: the same conversations, the contact
    still verified with the set it was verified with."""
    assert [c["conv_id"] for c in dev.store.conversations()] == convs_before
    assert safety.is_verified(dev, account)
    assert dev.store.get_json("safety:" + account) == [b64e(b"\x02" * 32)]


async def test_T06_adding_a_changed_contact_is_refused_before_the_commit(
        server: LocalServer, tmp_path: Path) -> None:
    """issue 18: `chat new` and `chat add` with a verified contact whose keys changed
    are refused before any KeyPackage is claimed: no commit, no Welcome, no state."""
    clock = Clock()
    alice, bob, carol = await _devices(server, tmp_path, ["alice", "bob", "carol"], clock)
    b_acct = bob.identity.account
    try:
        conv = await convs.create(alice, "three", [carol.identity.account], clock())
        await arrive(carol, "three", clock)
        verified_before_a_change(alice, b_acct)
        before = [c["conv_id"] for c in alice.store.conversations()]
        with pytest.raises(safety.KeyChangeUnconfirmed) as caught:
            await convs.create(alice, "direct", [b_acct], clock())
        assert caught.value.accounts == {b_acct} and b_acct in str(caught.value)
        with pytest.raises(safety.KeyChangeUnconfirmed):
            await convs.add_members(alice, conv, [b_acct], clock())
        _nothing_changed(alice, b_acct, before)
        assert list(convs.members(alice, alice.store.conversation(conv["conv_id"]))) == \
            sorted([alice.identity.account, carol.identity.account])
        assert (await bob.api.fetch(bob.cursor)).items == []  # no Welcome
        assert (await carol.api.fetch(carol.cursor)).items == []  # no commit

        # Confirmed for exactly the account shown: added, and the verification cleared.
        assert await convs.add_members(alice, conv, [b_acct], clock(), confirmed={b_acct})
        assert not safety.is_verified(alice, b_acct)
        assert await arrive(bob, conv["conv_id"], clock)
    finally:
        for d in (alice, bob, carol):
            await d.disconnect()


async def test_T06_the_cli_names_the_changed_contact_and_adds_nobody(
        server: LocalServer, tmp_path: Path) -> None:
    clock = Clock()
    alice, bob, carol = await _devices(server, tmp_path, ["alice", "bob", "carol"], clock)
    b_acct = bob.identity.account
    try:
        conv = await convs.create(alice, "cli three", [carol.identity.account], clock())
        await arrive(carol, "cli three", clock)
        verified_before_a_change(alice, b_acct)
        before = [c["conv_id"] for c in alice.store.conversations()]
    finally:
        await alice.disconnect()
    alice.close()
    try:
        for args in (["chat", "new", "direct", b_acct], ["chat", "add", "cli three", b_acct]):
            out = run_cli(tmp_path / "alice", *args)
            assert out.returncode == 1, out.stdout + out.stderr
            said = " ".join(out.stderr.split())
            assert f"the keys of verified contact {b_acct} changed" in said
        assert (await bob.api.fetch(bob.cursor)).items == []  # no Welcome
        assert (await carol.api.fetch(carol.cursor)).items == []  # no commit
        alice = Device.open(tmp_path / "alice", PASS, engine=engine())
        try:
            _nothing_changed(alice, b_acct, before)
        finally:
            alice.close()
        out = run_cli(tmp_path / "alice", "chat", "add", "cli three", b_acct,
                      "--confirm-key-change")
        assert out.returncode == 0, out.stderr
        assert await arrive(bob, conv["conv_id"], clock)
    finally:
        for d in (bob, carol):
            await d.disconnect()
