"""A received item applies whole or not at all (issue 18).

bob's device receives, from a real provider, an item whose processing fails
after it has written something: a message that decrypts (the ratchet moves,
the fork monitor looks at it) but whose content is not what its franking tag
says (T03), and a commit that the fork monitor steps over before the engine
refuses it (T07). Afterwards every table of bob's store is as it was, except
one ``error`` event and the cursor past the item.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from accord.client import alerts, inbox, messaging
from accord.client import conversations as convs
from accord.client.local_server import LocalServer
from accord.client.mls_session import epoch_tag, posting_key
from accord.errors import CryptoError
from accord.privacy.franking import message_aad
from tests.e2e.helpers import Clock, new_device
from tests.federation.groups import arrive


def snapshot(dev: Any) -> dict[str, list[tuple[Any, ...]]]:
    db = dev.store._conn()  # noqa: SLF001 - the test reads every table as stored
    names = [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {n: sorted(map(tuple, db.execute(f'SELECT * FROM "{n}"')), key=repr) for n in names}


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, tuple[list, list]]:
    out = {}
    for name in sorted(set(before) | set(after)):
        gone = [r for r in before.get(name, []) if r not in after.get(name, [])]
        new = [r for r in after.get(name, []) if r not in before.get(name, [])]
        if gone or new:
            out[name] = (gone, new)
    return out


async def _pair(server: LocalServer, tmp_path: Path) -> tuple[Any, Any, Any, Clock]:
    clock = Clock()
    tag = os.urandom(3).hex()
    alice = await new_device(tmp_path / "a", f"alice{tag}@alpha.test", server.url, clock)
    bob = await new_device(tmp_path / "b", f"bob{tag}@alpha.test", server.url, clock)
    conv = await convs.create(alice, "atomic", [bob.identity.account], clock())
    await messaging.send_text(alice, conv, "hello", clock())
    await arrive(bob, conv["conv_id"], clock)
    assert [m.body for m in bob.store.messages(convs.find(bob, conv["conv_id"])["conv_id"])] \
        == ["hello"]
    return alice, bob, conv, clock


async def _apply_next(bob: Any, clock: Clock, kind: str) -> dict[str, Any]:
    """Apply the one queued item (no housekeeping, no key checks); the store's changes."""
    page = await bob.api.fetch(bob.cursor)
    assert [i.kind for i in page.items] == [kind]
    before = snapshot(bob)
    await inbox.apply_items(bob, page.items, clock())
    return changes(before, snapshot(bob))


def _only_error_and_cursor(diff: dict[str, Any], kind: str) -> None:
    assert set(diff) == {"events", "kv"}, diff
    gone, new = diff["events"]
    assert gone == [] and len(new) == 1 and "error" in new[0], new
    assert f"a {kind} could not be applied" in repr(new[0])
    gone, new = diff["kv"]
    assert [r[0] for r in gone] == [r[0] for r in new] == ["cursor"], diff["kv"]


async def test_T03_a_message_that_fails_after_decryption_changes_nothing(
        server: LocalServer, tmp_path: Path) -> None:
    alice, bob, conv, clock = await _pair(server, tmp_path)
    try:
        # alice (a malicious member) posts a ciphertext whose content does not open
        # with the franking tag in its Safe AAD.
        state = alice.store.load_group(conv["group_id"])
        aad = message_aad(epoch_tag(alice.engine, state), os.urandom(32))
        ciphertext, _ = alice.engine.protect(state, b"\x00not content", aad)
        await alice.api.post_application(conv["group_id"], alice.engine.epoch(state),
                                         os.urandom(16), ciphertext,
                                         posting_key(alice.engine, state).sign)
        _only_error_and_cursor(await _apply_next(bob, clock, "application"), "application")
    finally:
        for d in (alice, bob):
            await d.disconnect()


async def test_T07_a_commit_that_fails_leaves_the_fork_monitor_where_it_was(
        server: LocalServer, tmp_path: Path) -> None:
    alice, bob, conv, clock = await _pair(server, tmp_path)
    try:
        assert await convs.commit(alice, conv, clock(), update=True)

        def refuse(*_a: Any, **_k: Any) -> Any:
            raise CryptoError("this commit does not verify")

        bob.engine.process = refuse  # the engine refuses what the fork monitor stepped over
        _only_error_and_cursor(await _apply_next(bob, clock, "commit"), "commit")
    finally:
        for d in (alice, bob):
            await d.disconnect()


async def test_T07_an_alert_raised_by_a_failed_item_is_kept(
        server: LocalServer, tmp_path: Path) -> None:
    """The hub's broken chain link is evidence whatever became of the item."""
    alice, bob, conv, clock = await _pair(server, tmp_path)
    try:
        assert await convs.commit(alice, conv, clock(), update=True)
        page = await bob.api.fetch(bob.cursor)
        forged = [dataclasses.replace(i, chain=bytes(32)) for i in page.items]

        def refuse(*_a: Any, **_k: Any) -> Any:
            raise CryptoError("this commit does not verify")

        bob.engine.process = refuse
        await inbox.apply_items(bob, forged, clock())
        assert [a["kind"] for a in alerts.pending(bob.store)] == ["split_view"]
        assert bob.cursor == forged[-1].seq
    finally:
        for d in (alice, bob):
            await d.disconnect()
