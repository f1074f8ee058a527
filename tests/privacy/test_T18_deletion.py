"""T18 evidence: export returns what the provider holds; after deletion no row in
the provider's store names the account or its keys (every table scanned), except
the documented transparency-log entries (pseudonymous index, tombstone).

The groups the account was in keep its devices' leaves until a member's commit
removes them: the hub knows each such leaf by its index only (``erased_leaf``),
takes that commit, and checks it against the group's public state as any other;
its public state names the account until then (docs/PRIVACY.md)."""

from __future__ import annotations

import base64
import secrets

import httpx

from accord.mls.structs import Remove
from accord.wire import b64e, decode, encode
from accord.wire import privacy as w
from accord.wire.messages import erased_leaf
from tests.federation.groups import alice_and_bob
from tests.federation.malicious_member import bad_signature
from tests.federation.providers import MlsDevice
from tests.privacy.helpers import content, post, rows

# The key-transparency log is append-only by design (issue 7): its past entries
# keep the device public keys under a keyed pseudonym (never the name), and
# deletion appends a tombstone. Documented in docs/PRIVACY.md.
LOG_TABLES = ("kt_entries",)


def _forms(b: bytes) -> list[bytes]:
    return [b, b.hex().encode(), b64e(b).encode(), base64.b64encode(b).rstrip(b"=")]


def _hits(db_rows: dict[str, list[tuple[object, ...]]], needles: list[bytes]
          ) -> list[tuple[str, bytes]]:
    found = []
    for table, table_rows in db_rows.items():
        for row in table_rows:
            for value in row:
                raw = value if isinstance(value, bytes) else str(value).encode()
                for n in needles:
                    if any(f in raw for f in _forms(n)):
                        found.append((table, n))
    return found


def _leaves_of(member: MlsDevice, account: str) -> list[int]:
    """The leaves of ``account``'s devices in ``member``'s view of the group."""
    return [i for i, leaf in member.state.tree.leaves()
            if leaf.credential.identity.startswith(f"{account}/".encode())]


async def _delete(http: httpx.AsyncClient, who: MlsDevice) -> w.DeleteAccountResult:
    sig = who.key.sign(w.delete_input("alpha.test", who.account))
    req = w.DeleteAccountRequest(account=who.account, signature=sig)
    r = await http.post("/v1/account/delete", json=encode(req), headers=who.auth)
    assert r.status_code == 200, r.text
    return decode(w.DeleteAccountResult, r.json())


async def test_T18_export_then_delete_leaves_no_row(two) -> None:  # type: ignore[no-untyped-def]
    alpha, beta = two["alpha"], two["beta"]
    async with httpx.AsyncClient(base_url=alpha.url, timeout=20) as ha, \
            httpx.AsyncClient(base_url=beta.url, timeout=20) as hb:
        alice, bob, gid = await alice_and_bob(ha, hb, "t18")
        phone = MlsDevice(ha, alice.account)
        await alice.link(phone)
        await alice.call("POST", "/v1/blocks", {"target": "mallory@beta.test"})
        assert (await post(ha, alice, content("before I go"))).status_code == 201
        assert (await post(hb, bob, content("bye alice"))).status_code == 201
        await ha.put("/v1/account/backup", json=encode(w.Backup(data=secrets.token_bytes(500))),
                     headers=alice.auth)
        await bob.wait_items(2)
        needles = [alice.account.encode(), alice.device_id.encode(), phone.device_id.encode(),
                   alice.public, phone.public]
        assert _hits(rows(alpha), needles)  # the scan sees the account now

        r = await ha.get("/v1/account/export", headers=alice.auth)
        assert r.status_code == 200
        export = r.json()  # JSON for a person or a script (dict tables: not decoded)
        assert export["account"] == alice.account
        tables = export["tables"]
        assert {d["device_id"] for d in tables["devices"]} == {alice.device_id, phone.device_id}
        assert tables["key_packages"] and tables["group_members"] and tables["sessions"]
        assert tables["account_backups.account"]

        log_before = len(rows(alpha).get("kt_entries", []))
        # deletion needs a device signature, not only a session
        bad = w.DeleteAccountRequest(account=alice.account, signature=bytes(64))
        r = await ha.post("/v1/account/delete", json=encode(bad), headers=alice.auth)
        assert r.status_code == 401
        result = await _delete(ha, alice)
        assert result.peers_told == ["beta.test"]
        assert {e.table: e.rows for e in result.erased}["devices"] == 2
        # the session is gone with the account
        assert (await ha.get("/v1/queue", headers=alice.auth)).status_code == 401
        # bob still uses the group and his provider
        assert (await hb.get("/v1/queue", headers=bob.auth)).status_code == 200
        # alice's leaf stays in the group until bob removes it, named by its index only
        [leaf] = _leaves_of(bob, alice.account)
        await bob.commit_remove([leaf], [erased_leaf(leaf)])
        assert _leaves_of(bob, alice.account) == []

    alpha_rows = rows(alpha)
    if "kt_entries" in alpha_rows:  # the transparency log appended the tombstone
        assert len(alpha_rows["kt_entries"]) == log_before + 1
    left = [(t, n) for t, n in _hits(alpha_rows, needles) if t not in LOG_TABLES]
    assert left == []
    beta_left = _hits(rows(beta), needles)
    assert [t for t, _ in beta_left if t not in LOG_TABLES] == []


async def test_T18_a_deleted_members_groups_still_check_commits(two) -> None:  # type: ignore[no-untyped-def]
    """Deleting an account does not turn off the hub's checks of the groups it was in
    (a throwaway account would otherwise unlock any group for forged commits): a
    commit removing its leaf with a broken signature is refused, the right one taken."""
    alpha, beta = two["alpha"], two["beta"]
    async with httpx.AsyncClient(base_url=alpha.url, timeout=20) as ha, \
            httpx.AsyncClient(base_url=beta.url, timeout=20) as hb:
        alice, bob, gid = await alice_and_bob(ha, hb, "t18c")
        await _delete(ha, alice)
        [leaf] = _leaves_of(bob, alice.account)
        r = await bob.commit_proposals([Remove(leaf)], [], [erased_leaf(leaf)], expect=422,
                                       forge=bad_signature)
        assert r.json()["error"] == "validation_error" and "RFC 9420 6.1" in r.text
        await bob.commit_remove([leaf], [erased_leaf(leaf)])


async def test_T18_a_deleted_members_leaf_is_declared_as_erased(accord_two) -> None:  # type: ignore[no-untyped-def]
    """On Accord's earlier route a commit declares its removals (CommitRequest.removed),
    held to the commit: a deleted member's leaf is declared as its erased leaf, nothing
    else. (Over MIMI no declaration travels: the hub reads the Remove from the commit.)"""
    alpha, beta = accord_two["alpha"], accord_two["beta"]
    async with httpx.AsyncClient(base_url=alpha.url, timeout=20) as ha, \
            httpx.AsyncClient(base_url=beta.url, timeout=20) as hb:
        alice, bob, gid = await alice_and_bob(ha, hb, "t18d")
        await _delete(ha, alice)
        [leaf] = _leaves_of(bob, alice.account)
        r = await bob.commit_remove([leaf], ["x" * 22], expect=422)  # not what it removes
        assert "RFC 9420 12.1.3" in r.text
        await bob.commit_remove([leaf], [erased_leaf(leaf)])


async def test_T18_an_admin_removes_a_deleted_members_leaves(two, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The client names a deleted account's leaves as the hub knows them (the group's
    ``erased`` leaves): the admin's removal is taken, and the hub's public state of
    the group names the account until then only."""
    from accord.client import account_data
    from accord.client import conversations as convs
    from tests.e2e.helpers import Clock, new_device

    alpha, clock, tag = two["alpha"], Clock(), secrets.token_hex(3)
    alice = await new_device(tmp_path / "a", f"alice{tag}@alpha.test", alpha.url, clock)
    carol = await new_device(tmp_path / "c", f"carol{tag}@alpha.test", alpha.url, clock)
    try:
        conv = await convs.create(alice, "t18", [carol.identity.account], clock())
        await carol.sync(clock())
        await account_data.delete(carol)
        name = carol.identity.account.encode()

        def named() -> list[str]:
            return [t for t, _ in _hits(rows(alpha), [name])]

        assert named() == ["hub_public_state"]  # until a member removes its leaves
        await alice.sync(clock())
        assert await convs.remove_member(alice, alice.store.conversation(conv["conv_id"]),
                                         carol.identity.account, clock()) == 1
        assert named() == []
    finally:
        for dev in (alice, carol):
            await dev.disconnect()
