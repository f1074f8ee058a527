"""The federation half of the store, on SQLite and PostgreSQL (see conftest.store)."""

from __future__ import annotations

import hashlib
import json

import pytest

from accord.errors import AuthError, Conflict, NotFound, ValidationError
from accord.storage import CommitChange, DeviceRecord, NewMessage, SqlStore
from accord.storage.records import AddedLeaf, Delivered

GID = b"fed-group"
ME = "alpha.test"


def dev(device_id: str, account: str) -> DeviceRecord:
    return DeviceRecord(device_id, account, hashlib.sha256(device_id.encode()).digest(), 1)


def encode(msg: NewMessage, recipients: list[str], roster, group_epoch, link) -> bytes:  # type: ignore[no-untyped-def]
    return json.dumps({"msg": msg.msg_id, "to": recipients, "roster": roster,
                       "sender": msg.sender}).encode()


ACCOUNTS = {"a2": "ann@alpha.test", "a3": "abe@alpha.test", "b1": "bob@beta.test", "c1": "carol@gamma.test"}


def plan(change: CommitChange):  # type: ignore[no-untyped-def]
    """Each added device as its credential names it (mls_check reads the real one)."""
    return lambda group, accepted, state: (
        {d: AddedLeaf(None, ACCOUNTS[d], dev(d, "").signature_key) for d in change.added},
        state)


async def hub_group(store: SqlStore) -> None:
    """alice (a1, ours) in a group with b1 at beta.test and c1 at gamma.test."""
    await store.create_account(dev("a1", "alice@alpha.test"))
    await store.create_account(dev("a2", "ann@alpha.test"))
    await store.create_group(GID, ME, "a1", b"P" * 32, 1, b"state")
    await store.fed_bind_confirmed([("bob@beta.test", "b1"), ("carol@gamma.test", "c1")], ME)
    change = CommitChange(GID, 0, "a1", ("b1", "c1", "a2"), (), b"Q" * 32)
    commit = NewMessage("m-commit", "commit", GID, 0, "a1", b"c", 10)
    welcome = NewMessage("m-welcome", "welcome", GID, 1, "a1", b"w", 10)
    group, notified = await store.hub_commit(change, commit, welcome, None, encode, ME,
                                             plan(change))
    assert group.epoch == 1 and set(group.members) == {"a1", "a2", "b1", "c1"}
    assert group.where() == {"a1": None, "a2": None, "b1": "beta.test", "c1": "gamma.test"}
    assert notified == ["a2"]  # a2's Welcome; remote members go to the outbox


async def test_nonces_are_single_use(store: SqlStore) -> None:
    await store.fed_use_nonce("beta.test", "n1", 100)
    await store.fed_use_nonce("gamma.test", "n1", 100)  # per peer
    with pytest.raises(AuthError):
        await store.fed_use_nonce("beta.test", "n1", 100)
    assert (await store.fed_purge(now=101, outbox_cutoff=0))["fed_nonces"] == 2
    await store.fed_use_nonce("beta.test", "n1", 200)


async def test_T08_bindings_are_keyed_by_account(store: SqlStore) -> None:
    """Issue 17: a binding is an (account, device id) pair its own provider confirmed;
    another provider's account naming the same id is another device, and takes
    nothing from the first."""
    await store.create_account(dev("a1", "alice@alpha.test"))
    await store.fed_bind_confirmed([("g@gamma.test", "b1")], ME)  # gamma saw b1 first
    await store.fed_bind_confirmed([("bob@beta.test", "b1")], ME)
    await store.fed_bind_confirmed([("bob@beta.test", "b1")], ME)  # idempotent
    assert await store.fed_confirmed([("bob@beta.test", "b1"), ("g@gamma.test", "b1"),
                                      ("g@gamma.test", "b2")]) == {
        ("bob@beta.test", "b1"), ("g@gamma.test", "b1")}
    with pytest.raises(Conflict):  # our accounts' devices are ours, never bound from elsewhere
        await store.fed_bind_confirmed([("x@alpha.test", "a1")], ME)
    assert await store.fed_ours(["a1", "b1", "zz"]) == {"a1": "alice@alpha.test"}


async def test_T08_an_added_device_lives_where_its_credential_says(store: SqlStore) -> None:
    """The hub places each added device by its credential's account: ours must be that
    account's device here, the forwarding follower's are its word, others confirmed."""
    await store.create_account(dev("a1", "alice@alpha.test"))
    await store.create_account(dev("a2", "ann@alpha.test"))
    await store.create_group(GID, ME, "a1", b"P" * 32, 1, b"state")
    await store.fed_bind_confirmed([("g@gamma.test", "b1")], ME)  # a squat on bob's id

    async def add(device: str, account: str, by: str | None = None, key: bytes = b"") -> None:
        change = CommitChange(GID, 0, "a1", (device,), (), b"Q" * 32)
        leaf = AddedLeaf(None, account, key or dev(device, "").signature_key)
        await store.hub_commit(change, NewMessage(f"c-{device}-{account}", "commit", GID, 0,
                                                  "a1", b"c", 10), None, None, encode, ME,
                               lambda group, accepted, state: ({device: leaf}, state),
                               placed_by=by)

    for device, account, key in (("a2", "alice@alpha.test", b""),  # ann's device, not alice's
                                 ("a2", "ann@alpha.test", b"K" * 32),  # not ann's device key
                                 ("zz", "alice@alpha.test", b""),  # no such device here
                                 ("b1", "bob@beta.test", b"")):  # gamma's squat is not bob's
        with pytest.raises(NotFound):
            await add(device, account, key=key)
    await add("b1", "bob@beta.test", by="beta.test")  # beta's word about its own account
    assert (await store.get_group(GID)).where() == {"a1": None, "b1": "beta.test"}


async def test_hub_fan_out_goes_to_each_peer_in_order(store: SqlStore) -> None:
    await hub_group(store)
    msg = NewMessage("m-app", "application", GID, 1, None, b"x", 20)
    assert sorted(await store.hub_post(msg, b"nonce", 999, encode, lambda key: None)) == ["a1", "a2"]
    with pytest.raises(Conflict):
        await store.hub_post(msg, b"nonce", 999, encode, lambda key: None)
    batches = {b.peer: b for b in await store.fed_outbox_due(0, 100, 10, lease_ms=0)}
    assert set(batches) == {"beta.test", "gamma.test"}
    items = [json.loads(raw) for _, raw in batches["beta.test"].items]
    assert [i["msg"] for i in items] == ["m-welcome", "m-app"]
    assert items[0]["to"] == ["b1"] and items[0]["roster"] is not None
    assert items[1]["sender"] is None and items[1]["roster"] is None  # T11
    # A lease: while one node sends a peer's items, no other node takes them.
    assert len(await store.fed_outbox_due(0, 100, 10, lease_ms=1000)) == 2
    assert await store.fed_outbox_due(999, 100, 10) == []
    # Backoff: a failed peer is not due until its time; success clears it.
    await store.fed_outbox_failed("gamma.test", 0, 0)
    await store.fed_outbox_failed("beta.test", 3, 500)
    assert {b.peer for b in await store.fed_outbox_due(499, 100, 10)} == {"gamma.test"}
    due = {b.peer: b for b in await store.fed_outbox_due(500, 100, 10)}
    assert due["beta.test"].failures == 3
    await store.fed_outbox_sent("beta.test", [i for i, _ in due["beta.test"].items])
    assert await store.fed_outbox_size() == {"gamma.test": 2}
    assert (await store.fed_purge(now=0, outbox_cutoff=10**6))["fed_outbox"] == 2


async def test_follower_files_items_once_and_only_for_its_members(store: SqlStore) -> None:
    await store.create_account(dev("b1", "bob@beta.test"))
    await store.create_account(dev("b2", "bea@beta.test"))
    roster = [("a1", "alpha.test"), ("b1", "beta.test")]
    welcome = NewMessage("w1", "welcome", GID, 1, "a1", b"w", 10)
    d = Delivered(welcome, ["b1"], roster, 1)
    with pytest.raises(NotFound):  # an application item for a group we never heard of
        await store.fed_deliver("alpha.test", Delivered(
            NewMessage("x", "application", GID, 1, None, b"x", 10), ["b1"], None, None),
            "beta.test", [])
    assert await store.fed_deliver("alpha.test", d, "beta.test", [("bob@beta.test", "a@x")]) \
        == ["b1"]
    assert await store.fed_deliver("alpha.test", d, "beta.test", []) is None  # duplicate
    assert (await store.get_group(GID)).hub == "alpha.test"
    assert await store.fed_requests("bob@beta.test") == [(GID, "a@x", "w1", 10)]
    app = NewMessage("a1m", "application", GID, 1, None, b"x", 11)
    with pytest.raises(ValidationError):  # b2 is ours but not a member
        await store.fed_deliver("alpha.test", Delivered(app, ["b2"], None, None), "beta.test", [])
    with pytest.raises(AuthError):  # only the hub feeds its group
        await store.fed_deliver("gamma.test", Delivered(app, ["b1"], None, None), "beta.test",
                                [])
    assert await store.fed_deliver("alpha.test", Delivered(app, ["b1"], None, None),
                                   "beta.test", []) == ["b1"]


async def test_refused_devices_get_nothing_of_the_group(store: SqlStore) -> None:
    await store.create_account(dev("b1", "bob@beta.test"))
    roster = [("a1", "alpha.test"), ("b1", "beta.test")]
    welcome = NewMessage("w1", "welcome", GID, 1, "a1", b"w", 10)
    assert await store.fed_deliver("alpha.test", Delivered(welcome, ["b1"], roster, 1),
                                   "beta.test", [], refuse=["b1"]) == []
    app = NewMessage("m2", "application", GID, 1, None, b"x", 11)
    assert await store.fed_deliver("alpha.test", Delivered(app, ["b1"], None, None),
                                   "beta.test", []) == []
    assert await store.fetch_queue("b1", 0, 10) == []


async def test_consent_blocks_contacts_requests(store: SqlStore) -> None:
    await store.create_account(dev("b1", "bob@beta.test"))
    await store.create_account(dev("b2", "bea@beta.test"))
    await store.fed_set_block("bob@beta.test", "gamma.test", True, 1)
    await store.fed_set_block("bob@beta.test", "gamma.test", True, 1)  # idempotent
    assert await store.fed_blocks("bob@beta.test") == ["gamma.test"]
    states = await store.fed_consent(["bob@beta.test", "bea@beta.test"], "eve@gamma.test")
    assert states == {"bob@beta.test": "blocked", "bea@beta.test": "stranger"}
    roster = [("e1", "gamma.test"), ("b2", "beta.test")]
    await store.fed_deliver("gamma.test", Delivered(
        NewMessage("w", "welcome", GID, 1, "e1", b"w", 5), ["b2"], roster, 1), "beta.test",
        [("bea@beta.test", "eve@gamma.test")])
    await store.fed_accept_request("bea@beta.test", GID)
    with pytest.raises(NotFound):
        await store.fed_accept_request("bea@beta.test", GID)
    assert (await store.fed_consent(["bea@beta.test"], "eve@gamma.test")) == {
        "bea@beta.test": "contact"}
    await store.fed_set_block("bob@beta.test", "gamma.test", False, 1)
    with pytest.raises(NotFound):
        await store.fed_set_block("bob@beta.test", "gamma.test", False, 1)


async def test_bindings_migrate_to_account_keys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Migration 1751: members keep the provider their id was bound to; only confirmed
    bindings carry over, keyed by their account."""
    from accord.storage import schema
    from accord.storage.engine import SqliteEngine

    store = SqlStore(SqliteEngine(tmp_path / "old.db"), tmp_path / "blobs")
    await store.engine.open()
    every = schema.MIGRATIONS
    schema.MIGRATIONS = tuple(mg for mg in every if mg[0] < 1751)
    try:
        await schema.migrate(store.engine)
        await store.create_account(dev("a1", "alice@alpha.test"))
        await store.create_group(GID, ME, "a1", b"P" * 32, 1, b"state")
        async with store.engine.transaction() as tx:
            for device_id in ("b1", "c1"):
                await tx.execute("INSERT INTO group_members (group_id, device_id) VALUES (?, ?)",
                                 GID, device_id)
            await tx.execute("INSERT INTO fed_remote_devices (device_id, domain, confirmed,"
                             " account) VALUES ('b1', 'beta.test', 1, 'bob@beta.test'),"
                             " ('c1', 'gamma.test', 0, NULL)")
        schema.MIGRATIONS = every
        await schema.migrate(store.engine)
        assert (await store.get_group(GID)).where() == {
            "a1": None, "b1": "beta.test", "c1": "gamma.test"}
        assert await store.fed_confirmed([("bob@beta.test", "b1"), ("x@gamma.test", "c1")]) == {
            ("bob@beta.test", "b1")}
    finally:
        schema.MIGRATIONS = every
        await store.close()


async def test_T14_sealed_first_contact_is_kept_only_with_a_request(store: SqlStore) -> None:
    """Issue 18: a hub keeps a Welcome's sealed first-contact request for the local devices
    of accounts that get a message request (ann), not for others (a contact, abe); the
    accept removes it."""
    await store.create_account(dev("a1", "alice@alpha.test"))
    await store.create_account(dev("a2", "ann@alpha.test"))
    await store.create_account(dev("a3", "abe@alpha.test"))
    await store.create_group(GID, ME, "a1", b"P" * 32, 1, b"state")
    change = CommitChange(GID, 0, "a1", ("a2", "a3"), (), b"Q" * 32)
    await store.hub_commit(change, NewMessage("m-c", "commit", GID, 0, "a1", b"c", 10),
                           NewMessage("m-w", "welcome", GID, 1, "a1", b"w", 10), None, encode,
                           ME, plan(change), [("ann@alpha.test", "alice@alpha.test")],
                           first_contact={"a2": b"for ann", "a3": b"for abe"})
    assert await store.fed_first_contact("a2") == {GID: b"for ann"}
    assert await store.fed_first_contact("a3") == {}
    await store.fed_accept_request("ann@alpha.test", GID)
    assert await store.fed_first_contact("a2") == {}


async def test_keypackages_handed_out_are_found_by_ref_until_retention(store: SqlStore) -> None:
    """MIMI 5.5: a Welcome names its recipients by KeyPackageRef; the provider knows
    the device and the claimer of each KeyPackage it handed out (the latest claimer of
    a last-resort one), until retention ends."""
    await store.create_account(dev("k1", "kim@alpha.test"))
    await store.kp_handed_out([(b"r1", "k1"), (b"r2", "k1")], "bob@beta.test", 10)
    await store.kp_handed_out([(b"r2", "k1")], "carol@gamma.test", 20)
    assert await store.kp_handed([b"r1", b"r2", b"r3"]) == {
        b"r1": ("k1", "bob@beta.test"), b"r2": ("k1", "carol@gamma.test")}
    assert await store.kp_handed([]) == {}
    assert (await store.fed_purge(now=0, outbox_cutoff=15))["kp_handed"] == 1
    assert await store.kp_handed([b"r1", b"r2"]) == {b"r2": ("k1", "carol@gamma.test")}
