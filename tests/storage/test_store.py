"""One suite, run on SQLite and on PostgreSQL (see conftest.store)."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from accord.errors import AuthError, Conflict, GroupMoved, NotFound, ValidationError
from accord.storage import CommitChange, DeviceRecord, EpochConflict, NewMessage, SqlStore
from accord.storage.engine import SqliteEngine
from accord.storage.records import AddedLeaf
from accord.storage.schema import MIGRATIONS, migrate

GID = b"group-1"


def dev(device_id: str, account: str = "alice@alpha.test") -> DeviceRecord:
    return DeviceRecord(device_id, account, hashlib.sha256(device_id.encode()).digest(), 1)


def msg(msg_id: str, kind: str = "application", epoch: int = 0, sender: str | None = None):
    return NewMessage(msg_id, kind, GID, epoch, sender, b"ct-" + msg_id.encode(), 1000)


def _encode(*item: object) -> bytes:
    return b"{}"


ACCOUNTS = {"b1": "bob@alpha.test", "c1": "carol@alpha.test"}


def _plan(change: CommitChange):  # type: ignore[no-untyped-def]
    """Each added device as its credential would name it (the MLS content checks
    are mls_check's, tests/federation); the public state of the next epoch is the
    caller's, here the old one with a mark."""
    return lambda group, accepted, state: ({
        d: AddedLeaf(None, ACCOUNTS.get(d, "alice@alpha.test"), dev(d).signature_key)
        for d in change.added}, None if state is None else state + b"+")


async def apply(store: SqlStore, change: CommitChange, commit: NewMessage,
                welcome: NewMessage | None = None):  # type: ignore[no-untyped-def]
    return await store.hub_commit(change, commit, welcome, None, _encode, "alpha.test",
                                  _plan(change))


async def post(store: SqlStore, message: NewMessage, nonce: bytes, expires: int,
               verify=lambda posting_key: None) -> list[str]:  # type: ignore[no-untyped-def]
    return await store.hub_post(message, nonce, expires, _encode, verify)


async def posting_key(store: SqlStore, epoch: int) -> bytes | None:
    async with store.engine.read() as tx:
        row = await tx.fetchone("SELECT public_key FROM posting_keys WHERE group_id = ?"
                                " AND epoch = ?", GID, epoch)
    return None if row is None else bytes(row[0])


async def accounts(store: SqlStore) -> None:
    await store.create_account(dev("a1"))
    await store.add_device(dev("a2"))
    await store.create_account(dev("b1", "bob@alpha.test"))
    await store.create_account(dev("c1", "carol@alpha.test"))


async def test_migrations_are_applied_once(store: SqlStore) -> None:
    latest = max(version for version, _ in MIGRATIONS)
    assert await migrate(store.engine) == latest
    assert await migrate(store.engine) == latest


async def test_accounts_and_devices(store: SqlStore) -> None:
    await accounts(store)
    with pytest.raises(Conflict):
        await store.create_account(dev("x9"))  # alice exists
    with pytest.raises(Conflict):
        await store.add_device(DeviceRecord("a3", "alice@alpha.test", dev("a1").signature_key, 1))
    with pytest.raises(NotFound):
        await store.add_device(dev("z1", "nobody@alpha.test"))
    assert [d.device_id for d in await store.list_devices("alice@alpha.test")] == ["a1", "a2"]
    assert (await store.get_device("b1")).account == "bob@alpha.test"
    await store.put_session(b"h" * 32, "a2", 99)
    await store.remove_device("a2")
    with pytest.raises(NotFound):
        await store.get_device("a2")
    with pytest.raises(NotFound):
        await store.get_session(b"h" * 32)  # removed with its device
    with pytest.raises(NotFound):
        await store.list_devices("nobody@alpha.test")


async def test_challenge_is_single_use(store: SqlStore) -> None:
    await accounts(store)
    await store.put_challenge(b"n" * 32, "a1", 50)
    assert await store.take_challenge(b"n" * 32) == ("a1", 50)
    with pytest.raises(NotFound):
        await store.take_challenge(b"n" * 32)


async def test_key_packages_claim_and_last_resort(store: SqlStore) -> None:
    await accounts(store)
    assert await store.add_key_packages("a1", [b"k1", b"k2"], b"lr1") == 2
    assert await store.add_key_packages("a2", [b"m1"], None) == 1
    assert await store.count_key_packages("a1") == (2, True)
    got = await store.claim_key_packages("alice@alpha.test")
    assert [(c.device_id, c.data, c.last_resort) for c in got] == [
        ("a1", b"k1", False),
        ("a2", b"m1", False),
    ]
    got = await store.claim_key_packages("alice@alpha.test")
    assert [(c.device_id, c.data, c.last_resort) for c in got] == [("a1", b"k2", False)]
    got = await store.claim_key_packages("alice@alpha.test")
    assert [(c.device_id, c.data, c.last_resort) for c in got] == [("a1", b"lr1", True)]
    assert await store.count_key_packages("a1") == (0, True)
    with pytest.raises(NotFound):
        await store.claim_key_packages("nobody@alpha.test")


async def test_T10_key_packages_are_claimed_per_cipher_suite(store: SqlStore) -> None:
    """A claim in one suite never hands out another suite's KeyPackage, and the
    last-resort KeyPackage is kept per suite (RFC 9420 10, 16.8)."""
    await accounts(store)
    assert await store.add_key_packages("a1", [b"pq1"], b"pq-lr", cipher_suite=0x53) == 1
    assert await store.add_key_packages("a1", [b"c1"], b"c-lr") == 1
    assert await store.add_key_packages("a2", [b"c2"], None) == 1
    assert await store.count_key_packages("a1", 0x53) == (1, True)
    assert await store.count_key_packages("a2", 0x53) == (0, False)
    got = await store.claim_key_packages("alice@alpha.test", 0x53)
    assert [(c.device_id, c.data, c.last_resort) for c in got] == [("a1", b"pq1", False)]
    got = await store.claim_key_packages("alice@alpha.test", 0x53)
    assert [(c.device_id, c.data, c.last_resort) for c in got] == [("a1", b"pq-lr", True)]
    got = await store.claim_key_packages("alice@alpha.test")
    assert [(c.device_id, c.data, c.last_resort) for c in got] == [
        ("a1", b"c1", False), ("a2", b"c2", False)]
    got = await store.claim_key_packages("alice@alpha.test")
    assert [(c.device_id, c.data, c.last_resort) for c in got] == [("a1", b"c-lr", True)]


async def test_last_resort_key_packages_migrate_to_suite_1(tmp_path: Path) -> None:
    """Migration 400 keeps a last-resort KeyPackage stored before it, as suite 0x0001's."""
    from accord.storage import schema

    store = SqlStore(SqliteEngine(tmp_path / "old.db"), tmp_path / "blobs")
    await store.engine.open()
    every = schema.MIGRATIONS
    # a database from before 400 has none of the later ones either (1701 alters the new table)
    schema.MIGRATIONS = tuple(mg for mg in every if mg[0] < 400)
    try:
        await migrate(store.engine)
        await accounts(store)
        async with store.engine.transaction() as tx:
            await tx.execute("INSERT INTO last_resort_key_packages (device_id, data)"
                             " VALUES (?, ?)", "a1", b"old-lr")
    finally:
        schema.MIGRATIONS = every
    await migrate(store.engine)
    assert await store.count_key_packages("a1") == (0, True)
    assert await store.count_key_packages("a1", 0x53) == (0, False)
    got = await store.claim_key_packages("alice@alpha.test")
    assert [(c.device_id, c.data, c.last_resort) for c in got] == [("a1", b"old-lr", True)]
    await store.close()


async def test_concurrent_claims_never_hand_out_a_key_package_twice(store: SqlStore) -> None:
    await accounts(store)
    batch = [f"kp{i}".encode() for i in range(40)]
    await store.add_key_packages("b1", batch, b"last")
    results = await asyncio.gather(*(store.claim_key_packages("bob@alpha.test") for _ in range(60)))
    handed = [c.data for r in results for c in r if not c.last_resort]
    assert sorted(handed) == sorted(batch)  # each exactly once, none lost
    assert sum(1 for r in results for c in r if c.last_resort) == 20
    assert await store.count_key_packages("b1") == (0, True)


async def make_group(store: SqlStore) -> None:
    await accounts(store)
    await store.create_group(GID, "alpha.test", "a1", b"pk0", 10, b"state 0")
    change = CommitChange(GID, 0, "a1", ("a2", "b1"), (), b"pk1")
    group, notified = await apply(
        store, change, msg("c0", "commit", 0, "a1"), msg("w0", "welcome", 1, "a1")
    )
    assert group.epoch == 1 and group.members == ("a1", "a2", "b1")
    assert sorted(notified) == ["a2", "b1"]
    # The group's public MLS state moves with its epoch, in the commit's transaction.
    assert await store.hub_public_state(GID) == (1, b"state 0+")


async def test_first_commit_for_an_epoch_wins(store: SqlStore) -> None:
    await make_group(store)
    with pytest.raises(Conflict):
        await store.create_group(GID, "alpha.test", "c1", b"x", 10, b"state")
    a = CommitChange(GID, 1, "a2", (), ("b1",), b"pk2")
    b = CommitChange(GID, 1, "b1", ("c1",), (), b"pk2b")
    results = await asyncio.gather(
        apply(store, a, msg("ca", "commit", 1, "a2")),
        apply(store, b, msg("cb", "commit", 1, "b1"), msg("wb", "welcome", 2, "b1")),
        return_exceptions=True,
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    losses = [r for r in results if isinstance(r, EpochConflict)]
    assert len(wins) == 1 and len(losses) == 1
    assert losses[0].current_epoch == 2
    assert (await store.get_group(GID)).epoch == 2
    assert await store.hub_public_state(GID) == (2, b"state 0++")  # the winner's only
    assert await posting_key(store, 2) in (b"pk2", b"pk2b")
    assert await posting_key(store, 1) is None  # the winner changed the roster: closed
    assert await posting_key(store, 0) is None  # older than the previous epoch


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (CommitChange(GID, 1, "c1", (), (), b"k"), "RFC 9420 12.4"),  # committer not a member
        (CommitChange(GID, 1, "a1", ("b1",), (), b"k"), "RFC 9420 12.1.1"),  # already a member
        (CommitChange(GID, 1, "a1", (), ("c1",), b"k"), "RFC 9420 12.1.3"),  # not a member
        (CommitChange(GID, 1, "a1", ("c1",), ("c1",), b"k"), "RFC 9420 12.1.3"),
        (CommitChange(GID, 1, "a1", (), ("a1",), b"k"), "RFC 9420 12.2"),  # removes itself
    ],
)
async def test_inconsistent_commits_are_refused(store: SqlStore, change: CommitChange,
                                                rule: str) -> None:
    await make_group(store)
    with pytest.raises(ValidationError) as refused:
        await apply(store, change, msg("bad", "commit", 1, change.sender))
    assert refused.value.rule == rule
    with pytest.raises(NotFound):
        await apply(store, CommitChange(GID, 1, "a1", ("ghost",), (), b"k"),
                    msg("g", "commit", 1, "a1"))
    group = await store.get_group(GID)
    assert group.epoch == 1 and group.members == ("a1", "a2", "b1")
    assert [i.msg_id for i in await store.fetch_queue("a2", 0, 10)] == ["w0"]


async def test_application_fan_out_queue_and_ack(store: SqlStore) -> None:
    await make_group(store)
    assert sorted(await post(store, msg("m1", epoch=1), b"n1", 500)) == [
        "a1",
        "a2",
        "b1",
    ]
    await post(store, msg("m2", epoch=1), b"n2", 500)
    with pytest.raises(Conflict):
        await post(store, msg("m3", epoch=1), b"n1", 500)  # replayed nonce
    with pytest.raises(EpochConflict):
        await post(store, msg("m4", epoch=5), b"n4", 500)
    items = await store.fetch_queue("b1", 0, 100)
    assert [(i.seq, i.msg_id, i.kind) for i in items] == [
        (1, "w0", "welcome"),
        (2, "m1", "application"),
        (3, "m2", "application"),
    ]
    assert items[0].sender == "a1" and items[1].sender is None
    assert [i.msg_id for i in await store.fetch_queue("b1", 1, 1)] == ["m1"]
    assert await store.ack_queue("b1", 2) == 2
    assert [i.msg_id for i in await store.fetch_queue("b1", 0, 100)] == ["m2"]
    assert [i.msg_id for i in await store.fetch_queue("c1", 0, 100)] == []


async def test_a_change_of_members_closes_the_previous_epoch(store: SqlStore) -> None:
    """issue 18: a late post (RFC 9420 15.3) is taken in the previous epoch only when
    the commit that ended it kept the members: otherwise those it added could not read
    it (and those it removed could). The sender is told to catch up (EpochConflict)."""
    await make_group(store)  # epoch 0 -> 1 added a2 and b1
    with pytest.raises(EpochConflict) as closed:
        await post(store, msg("m0", epoch=0), b"n0", 500)
    assert closed.value.current_epoch == 1
    await apply(store, CommitChange(GID, 1, "a1", (), (), b"pk2"), msg("u1", "commit", 1, "a1"))
    await post(store, msg("m1", epoch=1), b"n1", 500)  # after a key update: still taken
    await apply(store, CommitChange(GID, 2, "a1", (), ("a2",), b"pk3"),
                msg("r2", "commit", 2, "a1"))
    with pytest.raises(EpochConflict):
        await post(store, msg("m2", epoch=2), b"n2", 500)
    await post(store, msg("m3", epoch=3), b"n3", 500)
    assert [i.msg_id for i in await store.fetch_queue("b1", 0, 100)] == [
        "w0", "u1", "m1", "r2", "m3"]


async def test_T10_a_reinit_commit_closes_the_group(store: SqlStore) -> None:
    """issue 18: once the hub took a ReInit commit (RFC 9420 11.2, 12.4.2) the old group
    takes no post, in any epoch, and no commit: the typed answer sends the members to
    the new group, so no post is accepted into a group nobody reads any more."""
    await make_group(store)
    await apply(store, CommitChange(GID, 1, "a1", (), (), b"pk2"), msg("u1", "commit", 1, "a1"))
    await apply(store, CommitChange(GID, 2, "a1", (), (), b"pk3", ends_group=True),
                msg("ri", "commit", 2, "a1"))
    for epoch in (2, 3):
        with pytest.raises(GroupMoved):
            await post(store, msg(f"m{epoch}", epoch=epoch), b"n%d" % epoch, 500)
    with pytest.raises(GroupMoved):
        await apply(store, CommitChange(GID, 3, "a1", (), (), b"pk4"),
                    msg("c3", "commit", 3, "a1"))
    assert (await store.get_group(GID)).epoch == 3
    assert [i.msg_id for i in await store.fetch_queue("b1", 0, 100)] == ["w0", "u1", "ri"]


async def test_T07_the_hub_files_each_chain_link_in_the_commits_transaction(
        store: SqlStore) -> None:
    """link(e) = H(link(e-1), e, commit), read and written under the group's lock: two
    commits in a row never see a missing previous link (no false fork alerts)."""
    from accord.privacy.fork_chain import ZERO, chain_next
    from accord.storage import privacy_sql

    await make_group(store)
    await apply(store, CommitChange(GID, 1, "a1", (), ("b1",), b"pk2"),
                msg("c1", "commit", 1, "a1"))
    links = await privacy_sql.chains_for(store.engine, ["c0", "w0", "c1"])
    first = chain_next(ZERO, 0, b"ct-c0")
    assert links == {"c0": (0, first), "w0": (0, first),
                     "c1": (1, chain_next(first, 1, b"ct-c1"))}
    # A refused commit files no link.
    with pytest.raises(EpochConflict):
        await apply(store, CommitChange(GID, 1, "a2", (), (), b"x"), msg("c9", "commit", 1, "a2"))
    assert await privacy_sql.chains_for(store.engine, ["c9"]) == {}


async def test_a_post_is_verified_under_its_epochs_posting_key_in_the_transaction(
        store: SqlStore) -> None:
    await make_group(store)
    seen: list[bytes] = []

    def refuse(key: bytes) -> None:
        seen.append(key)
        raise AuthError("bad posting signature")

    # a key update: the previous epoch stays open for late posts, under its own key
    await apply(store, CommitChange(GID, 1, "a1", (), (), b"pk2"), msg("u1", "commit", 1, "a1"))
    with pytest.raises(AuthError):
        await post(store, msg("m1", epoch=2), b"n1", 500, refuse)
    with pytest.raises(AuthError):
        await post(store, msg("m0", epoch=1), b"n1", 500, refuse)
    assert seen == [b"pk2", b"pk1"]
    assert await store.fetch_queue("b1", 2, 10) == []
    # The refused post burnt no nonce.
    assert sorted(await post(store, msg("m2", epoch=2), b"n1", 500)) == ["a1", "a2", "b1"]


async def test_handshake_post_needs_member_and_current_epoch(store: SqlStore) -> None:
    await make_group(store)
    with pytest.raises(ValidationError):
        await store.hub_proposal("c1", msg("p0", "proposal", 1, "c1"), _encode)
    with pytest.raises(EpochConflict):
        await store.hub_proposal("a1", msg("p1", "proposal", 0, "a1"), _encode)
    assert sorted(await store.hub_proposal("a1", msg("p2", "proposal", 1, "a1"), _encode)) == [
        "a2",
        "b1",
    ]


async def test_retention_purges_old_items_and_acked_messages(store: SqlStore) -> None:
    await make_group(store)
    await post(store, msg("m1", epoch=1), b"n1", 2000)
    late = NewMessage("m2", "application", GID, 1, None, b"x", 5000)
    await post(store, late, b"n2", 9000)
    await store.put_blob(b"cap-old", hashlib.sha256(b"old").digest(), b"old", 100)
    await store.put_blob(b"cap-new", hashlib.sha256(b"new").digest(), b"new", 9000)
    counts = await store.purge(now=3000, message_cutoff=4000, blob_cutoff=4000)
    assert counts["nonces"] == 1 and counts["blobs"] == 1
    assert [i.msg_id for i in await store.fetch_queue("a1", 0, 100)] == ["m2"]
    with pytest.raises(Conflict):
        await post(store, msg("m3", epoch=1), b"n2", 9000)  # nonce still kept
    await post(store, msg("m4", epoch=1), b"n1", 9000)  # expired nonce forgotten
    with pytest.raises(NotFound):
        await store.get_blob(b"cap-old")
    assert await store.get_blob(b"cap-new") == b"new"


async def test_blobs_share_content_by_hash(store: SqlStore) -> None:
    sha = hashlib.sha256(b"data").digest()
    await store.put_blob(b"c1", sha, b"data", 1)
    await store.put_blob(b"c2", sha, b"data", 2)
    assert await store.get_blob(b"c1") == await store.get_blob(b"c2") == b"data"
    with pytest.raises(NotFound):
        await store.get_blob(b"c3")
    await store.purge(now=0, message_cutoff=0, blob_cutoff=2)
    assert await store.get_blob(b"c2") == b"data"  # still referenced by c2


async def test_sqlite_is_durable_by_configuration(tmp_path: Path) -> None:
    """SQLite only: an acknowledged write must survive a crash (WAL + synchronous=FULL)."""
    store = await SqlStore(SqliteEngine(tmp_path / "p.sqlite3"), tmp_path / "blobs").open()
    engine = store.engine
    mode = await engine.run(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0])  # type: ignore[attr-defined]
    sync = await engine.run(lambda c: c.execute("PRAGMA synchronous").fetchone()[0])  # type: ignore[attr-defined]
    await store.close()
    assert (mode, sync) == ("wal", 2)  # 2 = FULL


async def test_concurrent_transactions_fail_alone(store: SqlStore) -> None:
    """Under SQLite's group commit, a failing transaction rolls back only its own work."""
    results = await asyncio.gather(
        *(store.create_account(dev(f"x{i}", f"user{i % 10}@alpha.test")) for i in range(20)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Conflict) for r in results) == 10
    assert all(r is None or isinstance(r, Conflict) for r in results)
    for i in range(10):
        assert len(await store.list_devices(f"user{i}@alpha.test")) == 1


async def test_the_hub_keeps_a_bounded_number_of_proposals_for_one_epoch_only(
        store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from accord.storage import hub_sql

    monkeypatch.setattr(hub_sql, "MAX_EPOCH_PROPOSALS", 2)
    await make_group(store)
    seen: list[list[bytes]] = []

    def plan(group: object, accepted: list[bytes], state: bytes | None
             ) -> tuple[dict[str, AddedLeaf], bytes | None]:
        seen.append(accepted)
        return {}, state

    for i in range(2):
        await store.hub_proposal("a1", msg(f"p{i}", "proposal", 1, "a1"), _encode)
    with pytest.raises(ValidationError) as refused:
        await store.hub_proposal("a2", msg("p2", "proposal", 1, "a2"), _encode)
    assert refused.value.rule == "RFC 9420 12.4"
    await store.hub_commit(CommitChange(GID, 1, "a1", (), (), b"pk2"),
                           msg("c1", "commit", 1, "a1"), None, None, _encode, "alpha.test", plan)
    assert seen == [[b"ct-p0", b"ct-p1"]]  # the commit saw its epoch's proposals
    # A commit ends the epoch and its proposals: the next epoch starts empty.
    await store.hub_proposal("a1", msg("p3", "proposal", 2, "a1"), _encode)
    await store.hub_commit(CommitChange(GID, 2, "a1", (), (), b"pk3"),
                           msg("c2", "commit", 2, "a1"), None, None, _encode, "alpha.test", plan)
    assert seen[-1] == [b"ct-p3"]
