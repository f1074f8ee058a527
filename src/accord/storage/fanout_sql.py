"""Roster checks, the admission of application posts, and the fan-out of one message
to device queues, inside a transaction.

Shared by :class:`~accord.storage.sql_store.SqlStore` and the federation mixin.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from accord.errors import Conflict, EpochConflict, GroupMoved, NotFound, ValidationError
from accord.storage.engine import Tx, placeholders
from accord.storage.records import CommitChange, GroupRecord, NewMessage
from accord.wire.messages import ERASED, erased_leaf


def check_roster(group: GroupRecord, change: CommitChange) -> None:
    members = set(group.members)
    if change.joins:  # a member rejoining (a resync) removes its old leaf
        if change.sender in members and change.sender not in change.removed:
            raise ValidationError("an external committer is already a member",
                                  "RFC 9420 12.4.3.2")
    elif change.sender not in members:
        raise ValidationError("the committer is not a member of this group", "RFC 9420 12.4")
    elif change.sender in change.removed:
        raise ValidationError("a committer cannot remove itself", "RFC 9420 12.2")
    entering = change.entering
    if any(d.startswith(ERASED) for d in entering):
        raise ValidationError("a device id that names an erased leaf cannot be added",
                              "Accord hub: erased leaves (T18)")
    if members & set(change.added):
        raise ValidationError("an added device is already a member", "RFC 9420 12.1.1")
    erased = {erased_leaf(leaf) for leaf in group.erased}
    if not set(change.removed) <= members | erased:
        raise ValidationError("a removed device is not a member", "RFC 9420 12.1.3")
    if set(change.added) & set(change.removed):
        raise ValidationError("a device is both added and removed", "RFC 9420 12.2")
    if len(set(entering)) != len(entering) or len(set(change.removed)) != len(
        change.removed
    ):
        raise ValidationError("a device is listed twice in one commit", "RFC 9420 12.2")


def _moved() -> GroupMoved:
    return GroupMoved("this group was reinitialized; sync to follow the conversation"
                      " into its new group")


async def require_open(tx: Tx, group: GroupRecord) -> None:
    """Raise ``GroupMoved`` once a ReInit commit ended ``group`` (RFC 9420 11.2, 12.4.2).

    Every commit files the posting key of the epoch it makes, but a ReInit commit
    files none and drops the others (``hub_sql._advance``): a group without a key
    for its current epoch is closed for posts and commits, and its members follow
    the conversation into the new group (issue 18: no post is taken into a group
    nobody reads any more)."""
    row = await tx.fetchone(
        "SELECT 1 FROM posting_keys WHERE group_id = ? AND epoch = ?",
        group.group_id, group.epoch)
    if row is None:
        raise _moved()


async def posting_keys(tx: Tx, group: GroupRecord) -> dict[int, bytes]:
    """The posting keys of the group's current and previous epochs that are filed."""
    rows = await tx.fetchall(
        "SELECT epoch, public_key FROM posting_keys WHERE group_id = ? AND epoch IN (?, ?)",
        group.group_id, group.epoch, group.epoch - 1)
    return {int(r[0]): bytes(r[1]) for r in rows}


async def used_nonces(tx: Tx, group_id: bytes, nonces: Sequence[bytes]) -> set[bytes]:
    """Which of ``nonces`` this group has seen (read under the group's lock)."""
    if not nonces:
        return set()
    rows = await tx.fetchall(
        f"SELECT nonce FROM post_nonces WHERE group_id = ? AND nonce IN"
        f" ({placeholders(len(nonces))})", group_id, *nonces)
    return {bytes(r[0]) for r in rows}


def admit_application(group: GroupRecord, keys: Mapping[int, bytes], message: NewMessage,
                      nonce_used: bool, verify: Callable[[bytes], None]) -> None:
    """The one admission rule of an application post, over what the caller read in its
    transaction with the group locked (``posting_keys``, ``used_nonces``): the group is
    open (``require_open``), the current or previous epoch only (the previous for late
    messages, RFC 9420 15.3, unless the commit that ended it added or removed members:
    ``hub_sql`` drops its posting key then), signed under that epoch's posting key
    (``verify``), a nonce this group has not seen (a replayed post).

    A closed epoch is an ``EpochConflict``: the sender syncs and encrypts again in
    the current epoch, so an accepted post is readable by every member it is
    delivered to (issue 18: posts go out before the sender syncs, T11)."""
    if group.epoch not in keys:
        raise _moved()
    if message.epoch not in (group.epoch, group.epoch - 1):
        raise EpochConflict(group.epoch)
    key = keys.get(message.epoch)  # type: ignore[arg-type]
    if key is None:  # the previous epoch, closed by a change of members
        raise EpochConflict(group.epoch)
    verify(key)
    if nonce_used:
        raise Conflict("this nonce was already used in this group (replay)")


async def enqueue(tx: Tx, message: NewMessage, device_ids: Sequence[str]) -> list[str]:
    """Store one message and put it on each device's queue, in the caller's transaction."""
    return (await enqueue_many(tx, [(message, device_ids)]))[0]


LOCK_CHUNK = 1000  # device ids per locking statement (both engines take 32,766 parameters)


async def enqueue_many(tx: Tx, fanouts: Sequence[tuple[NewMessage, Sequence[str]]]
                       ) -> list[list[str]]:
    """Store messages and put each on its devices' queues, in the order given, in the
    caller's transaction, with a fixed number of statements whatever their count (the
    rows in bulk); per message, the devices that got it (a deleted device gets nothing).
    """
    if not fanouts:
        return []
    await tx.executemany(
        "INSERT INTO messages (msg_id, kind, group_id, epoch, sender, body, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(msg.msg_id, msg.kind, msg.group_id, msg.epoch, msg.sender, msg.body, msg.created_at)
         for msg, _ in fanouts],
    )
    wanted = [sorted(set(ids)) for _, ids in fanouts]
    every = sorted(set().union(*wanted))
    # Lock the devices in one fixed order so concurrent fan-outs cannot deadlock; under
    # the lock each device's counter is ours, and hands out gap-free, commit-ordered
    # sequence numbers.
    last: dict[str, int] = {}
    for start in range(0, len(every), LOCK_CHUNK):
        chunk = every[start:start + LOCK_CHUNK]
        rows = await tx.fetchall(
            f"SELECT device_id, next_seq FROM devices WHERE device_id IN"
            f" ({placeholders(len(chunk))}) ORDER BY device_id {{FOR_UPDATE}}",
            *chunk,
        )
        last.update((r[0], int(r[1])) for r in rows)
    seq = dict(last)
    queued: list[tuple[str, int, str]] = []
    out: list[list[str]] = []
    for (msg, _), ids in zip(fanouts, wanted, strict=True):
        got = [d for d in ids if d in seq]
        for d in got:
            seq[d] += 1
            queued.append((d, seq[d], msg.msg_id))
        out.append(got)
    if queued:
        await tx.executemany("UPDATE devices SET next_seq = ? WHERE device_id = ?",
                             [(seq[d], d) for d in sorted(seq) if seq[d] != last[d]])
        await tx.executemany("INSERT INTO queue (device_id, seq, msg_id) VALUES (?, ?, ?)",
                             queued)
    return out


async def read_group(tx: Tx, group_id: bytes, lock: bool) -> GroupRecord:
    """A group, its members, their leaves and where they live."""
    row = await tx.fetchone(
        "SELECT hub, epoch FROM mls_groups WHERE group_id = ?"
        + (" {FOR_UPDATE}" if lock else ""),
        group_id,
    )
    if row is None:
        raise NotFound("no such group")
    members = await tx.fetchall(
        "SELECT device_id, leaf_index, domain FROM group_members WHERE group_id = ?"
        " ORDER BY device_id",
        group_id,
    )
    erased = await tx.fetchall(
        "SELECT leaf_index FROM hub_erased_leaves WHERE group_id = ? ORDER BY leaf_index",
        group_id)
    return GroupRecord(
        group_id,
        row[0],
        int(row[1]),
        tuple(m[0] for m in members),
        tuple(None if m[1] is None else int(m[1]) for m in members),
        tuple(m[2] for m in members),
        tuple(int(e[0]) for e in erased),
    )
