"""The hub's statements: accepting a commit, a proposal or a post, in one transaction each.

Mixed into :class:`~accord.storage.sql_store.SqlStore`. Each method is the
transactional half of one acceptance function of :mod:`accord.federation.hub`
(the same for a local device and for a follower provider); everything a
concurrent request could change is checked here, on the locked group:

- a commit: the epoch (first commit wins), the roster change, and the caller's
  plan (:data:`~accord.storage.interface.LeafPlan`), which reads the MLS
  content against the locked roster and the proposals this hub accepted in
  the epoch; then the hub's chain link (T07) is computed from the previous
  link and filed with the commit, in the same transaction;
- a proposal: the sender is a member and the epoch is current; the proposal
  is kept (``hub_proposals``) until its epoch ends, so that a commit can
  include it by reference (RFC 9420 12.4);
- a post: the epoch window (the previous epoch is closed by a commit that
  changed the members), the posting key's signature (the caller's
  ``verify``), the post nonce (replay).

Fan-out follows the delivery rule of T11: an application message's rows name
its recipients, never its sender.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

from accord.errors import EpochConflict, ValidationError
from accord.privacy.fork_chain import ZERO, chain_next
from accord.storage import binding_sql
from accord.storage.consent_sql import record_first_contact
from accord.storage.engine import Engine, Tx, placeholders
from accord.storage.fanout_sql import (
    check_roster,
    enqueue,
    require_open,
)
from accord.storage.federation_sql import (
    local_devices,
    record_requests,
    refuse_devices,
    refused_devices,
    to_outbox,
)
from accord.storage.post_batch import PendingPost, PostWriter
from accord.storage.records import (
    AddedLeaf,
    CommitChange,
    GroupRecord,
    ItemEncoder,
    LeafPlan,
    NewMessage,
    ProposalCheck,
)
from accord.wire.messages import erased_leaves

MAX_EPOCH_PROPOSALS = 256
HUB_MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1700,
        # Issue 17: the proposals the hub accepted in a group's current epoch,
        # so that it resolves a commit's proposals by reference itself.
        """
CREATE TABLE hub_proposals (
    msg_id TEXT PRIMARY KEY,
    group_id {BLOB} NOT NULL,
    epoch {BIGINT} NOT NULL,
    body {BLOB} NOT NULL
);
CREATE INDEX hub_proposals_by_epoch ON hub_proposals(group_id, epoch);
""",
    ),
    (
        1710,
        # Issue 17: each hubbed group's public MLS state (GroupContext, ratchet
        # tree, interim transcript hash; accord.mls.group.public), against which
        # the hub checks every commit and proposal. Groups created earlier have
        # no row and keep the roster checks only (docs/THREATS.md, T05).
        """
CREATE TABLE hub_public_state (
    group_id {BLOB} PRIMARY KEY,
    epoch {BIGINT} NOT NULL,
    state {BLOB} NOT NULL
);
""",
    ),
    (
        1720,
        # T18: the leaves of erased accounts' devices, by group, until a member's
        # commit removes them (``wire.messages.erased_leaf``). Only the leaf index: no
        # device, no account (``account_sql.erase_account``).
        """
CREATE TABLE hub_erased_leaves (
    group_id {BLOB} NOT NULL,
    leaf_index {BIGINT} NOT NULL,
    PRIMARY KEY (group_id, leaf_index)
);
""",
    ),
    (
        1730,
        # Issue 22 (MIMI 5.6): the signed GroupInfo of a hubbed group's epoch, from the
        # latest accepted commit that carried one (a MIMI update), checked against
        # the hub's public state; served for external joins while it is current.
        """
CREATE TABLE hub_group_info (
    group_id {BLOB} PRIMARY KEY,
    epoch {BIGINT} NOT NULL,
    group_info {BLOB} NOT NULL
);
""",
    ),
)


async def _extend_chain(tx: Tx, msg_ids: Sequence[str], group_id: bytes, epoch: int,
                        commit: bytes) -> bytes:
    """The link of ``epoch`` from the link of ``epoch - 1``, filed under the commit's
    (and its Welcome's) ids, in the commit's own transaction (T07).

    The previous link is read on the locked group, so it is always there: a
    missing one is possible only for a group whose earlier commits predate the
    chain, which then starts again from zeros.
    """
    row = await tx.fetchone("SELECT chain FROM fork_chain WHERE group_id = ? AND seq = ? LIMIT 1",
                            group_id, epoch - 1) if epoch > 0 else None
    link = chain_next(ZERO if row is None else bytes(row[0]), epoch, commit)
    await tx.executemany(
        "INSERT INTO fork_chain (msg_id, group_id, seq, chain) VALUES (?, ?, ?, ?)",
        [(msg_id, group_id, epoch, link) for msg_id in msg_ids],
    )
    return link


async def _epoch_proposals(tx: Tx, group_id: bytes, epoch: int) -> list[bytes]:
    rows = await tx.fetchall(
        "SELECT body FROM hub_proposals WHERE group_id = ? AND epoch = ? ORDER BY msg_id",
        group_id, epoch)
    return [bytes(r[0]) for r in rows]


async def _public_state(tx: Tx, group: GroupRecord) -> bytes | None:
    """The group's public MLS state, which must be of the group's epoch."""
    row = await tx.fetchone("SELECT epoch, state FROM hub_public_state WHERE group_id = ?",
                            group.group_id)
    if row is None:
        return None
    if int(row[0]) != group.epoch:
        raise ValidationError("the hub's public group state is not of the group's epoch",
                              "RFC 9420 8.1")
    return bytes(row[1])


async def _advance(tx: Tx, group: GroupRecord, change: CommitChange, now: int,
                   leaves: Mapping[str, AddedLeaf], where: Mapping[str, str | None]) -> int:
    """Apply a checked commit's roster change and posting key; return the new epoch."""
    new_epoch = group.epoch + 1
    await require_open(tx, group)
    await tx.execute(
        "UPDATE mls_groups SET epoch = ?, updated_at = ? WHERE group_id = ?",
        new_epoch, now, change.group_id,
    )
    if change.removed:
        await tx.execute(
            "DELETE FROM group_members WHERE group_id = ? AND device_id IN"
            f" ({placeholders(len(change.removed))})",
            change.group_id,
            *change.removed,
        )
    gone = erased_leaves(change.removed)
    if gone:
        await tx.execute(
            "DELETE FROM hub_erased_leaves WHERE group_id = ? AND leaf_index IN"
            f" ({placeholders(len(gone))})", change.group_id, *gone)
    await tx.executemany(
        "INSERT INTO group_members (group_id, device_id, leaf_index, domain) VALUES (?, ?, ?, ?)",
        [(change.group_id, d, leaves[d].leaf, where[d]) for d in change.entering],
    )
    if not change.ends_group:  # a ReInit files none: the group is closed (require_open)
        await tx.execute(
            "INSERT INTO posting_keys (group_id, epoch, public_key) VALUES (?, ?, ?)",
            change.group_id, new_epoch, change.next_posting_key,
        )
    # The epochs that can never be posted to again: those before the previous one; the
    # previous one too when this commit changed the members (``fanout_sql.
    # admit_application``: a post there would be unreadable to those added, readable
    # to those removed); every one after a ReInit. A proposal lives for its epoch only
    # (RFC 9420 12.4: a commit ends it).
    open_from = (new_epoch + 1 if change.ends_group
                 else new_epoch if change.entering or change.removed else new_epoch - 1)
    await tx.execute("DELETE FROM posting_keys WHERE group_id = ? AND epoch < ?",
                     change.group_id, open_from)
    await tx.execute("DELETE FROM hub_proposals WHERE group_id = ? AND epoch < ?",
                     change.group_id, new_epoch)
    return new_epoch


class HubSqlMixin:
    """The hub's half of acceptance; ``SqlStore`` provides ``engine``, ``_group`` and
    ``posts`` (its :class:`~accord.storage.post_batch.PostWriter`)."""

    engine: Engine
    posts: PostWriter

    async def hub_commit(
        self,
        change: CommitChange,
        commit: NewMessage,
        welcome: NewMessage | None,
        welcome_local: Collection[str] | None,
        encode: ItemEncoder,
        local_domain: str,
        plan: LeafPlan,
        requests: Sequence[tuple[str, str]] = (),
        placed_by: str | None = None,
        first_contact: Mapping[str, bytes] | None = None,
        group_info: bytes | None = None,
    ) -> tuple[GroupRecord, list[str]]:
        """Order one commit, fan it out locally and to every follower, file its chain link.

        ``plan`` reads the commit against the locked group and this epoch's
        accepted proposals and returns each added device's leaf, and an external
        committer's (``change.joins``), or refuses.
        ``welcome_local`` (None: all) are the added local devices that get the
        Welcome (the others' owners blocked the sender, T14); ``requests`` are
        (account, from_account) message requests to record with the Welcome.
        Each added device lives at the domain of its credential's account, on
        the word of that account's provider only (``binding_sql.place_added``:
        ``placed_by`` is the follower forwarding the commit, issue 17);
        ``first_contact`` the sealed first-contact requests by added device (issue 18),
        kept for the local ones that get a request. ``group_info``: the new epoch's
        signed GroupInfo (MIMI 5.6), checked by ``plan``, filed as the group's current.
        """
        async with self.engine.transaction() as tx:
            group = await self._group(tx, change.group_id, lock=True)  # type: ignore[attr-defined]
            if change.epoch != group.epoch:
                raise EpochConflict(group.epoch)
            check_roster(group, change)
            public = await _public_state(tx, group)
            planned, next_public = plan(
                group, await _epoch_proposals(tx, group.group_id, group.epoch), public)
            leaves = dict(planned)
            where = group.where()
            where.update(await binding_sql.place_added(
                tx, {d: (leaves[d].account, leaves[d].signature_key) for d in change.entering},
                local_domain, placed_by))
            new_epoch = await _advance(tx, group, change, commit.created_at, leaves, where)
            if next_public is not None:
                await tx.execute(
                    "UPDATE hub_public_state SET epoch = ?, state = ? WHERE group_id = ?",
                    new_epoch, next_public, group.group_id)
            if group_info is not None and next_public is not None:  # checked by the plan
                await tx.execute("DELETE FROM hub_group_info WHERE group_id = ?", group.group_id)
                await tx.execute(
                    "INSERT INTO hub_group_info (group_id, epoch, group_info) VALUES (?, ?, ?)",
                    group.group_id, new_epoch, group_info)
            link = (change.epoch, await _extend_chain(
                tx, [x.msg_id for x in (commit, welcome) if x is not None], change.group_id,
                change.epoch, commit.body))
            members = sorted((set(group.members) - set(change.removed)) | set(change.entering))
            roster = [(d, where.get(d) or local_domain) for d in members]
            old = [d for d in group.members if d != change.sender]
            refused = await refused_devices(tx, change.group_id)
            # Everyone of the old roster but the committer learns the commit,
            # removed devices included (that is how they learn they are out).
            notified = await enqueue(tx, commit, local_devices(old, where, refused))
            followers = {where[d] for d in group.members if where.get(d)}
            await to_outbox(tx, commit, old, where, roster, new_epoch, encode, link,
                             also=[f for f in followers if f is not None])
            if welcome is not None and change.added:
                local_added = [d for d in local_devices(change.added, where)
                               if welcome_local is None or d in welcome_local]
                await refuse_devices(tx, change.group_id,
                              set(local_devices(change.added, where)) - set(local_added))
                notified += await enqueue(tx, welcome, local_added)
                await record_requests(tx, welcome, requests)
                await record_first_contact(tx, change.group_id, welcome.created_at, requests,
                                           {d: s for d, s in (first_contact or {}).items()
                                            if d in local_added})
                await to_outbox(tx, welcome, change.added, where, roster, new_epoch, encode,
                                 link)
        kept = {d: leaf for d, leaf in zip(group.members, group.leaves, strict=False)
                if d not in change.removed}
        kept.update({d: leaves[d].leaf for d in change.entering})
        after = GroupRecord(group.group_id, group.hub, new_epoch, tuple(members),
                            tuple(kept.get(d) for d in members),
                            tuple(where[d] for d in members))
        return after, notified

    async def hub_proposal(
        self, sender: str, message: NewMessage, encode: ItemEncoder,
        check: ProposalCheck | None = None,
    ) -> list[str]:
        """Fan out a member's proposal of the current epoch and keep it for the commit;
        ``check`` reads it against the locked group's accepted proposals and public
        MLS state first (or refuses)."""
        assert message.group_id is not None and message.epoch is not None
        async with self.engine.transaction() as tx:
            group = await self._group(tx, message.group_id, lock=True)  # type: ignore[attr-defined]
            if sender not in group.members:
                raise ValidationError("the sender is not a member of this group", "RFC 9420 12.1")
            if message.epoch != group.epoch:
                raise EpochConflict(group.epoch)
            row = await tx.fetchone("SELECT COUNT(*) FROM hub_proposals WHERE group_id = ?",
                                    message.group_id)
            if row is not None and int(row[0]) >= MAX_EPOCH_PROPOSALS:
                # Each commit resolves its references against these: keep it bounded.
                raise ValidationError("too many proposals in this epoch: commit first",
                                      "RFC 9420 12.4")
            if check is not None:
                check(await _epoch_proposals(tx, group.group_id, group.epoch),
                      await _public_state(tx, group))
            await tx.execute(
                "INSERT INTO hub_proposals (msg_id, group_id, epoch, body) VALUES (?, ?, ?, ?)",
                message.msg_id, message.group_id, message.epoch, message.body)
            others = [d for d in group.members if d != sender]
            where = group.where()
            refused = await refused_devices(tx, message.group_id)
            notified: list[str] = await enqueue(tx, message, local_devices(others, where, refused))
            # every follower keeps the epoch's proposals, the sender's own provider too: a
            # follower over MIMI resolves a commit's references against them (RFC 9420 12.4)
            followers = {where[d] for d in group.members if where.get(d)}
            await to_outbox(tx, message, others, where, None, None, encode, None,
                            also=[f for f in followers if f is not None])
            return notified

    async def hub_public_state(self, group_id: bytes) -> tuple[int, bytes] | None:
        """(epoch, public MLS state) of a group hubbed here; None: created before the
        hub kept it."""
        async with self.engine.read() as tx:
            row = await tx.fetchone(
                "SELECT epoch, state FROM hub_public_state WHERE group_id = ?", group_id)
        return None if row is None else (int(row[0]), bytes(row[1]))

    async def hub_epoch_proposals(self, group_id: bytes, epoch: int
                                  ) -> list[tuple[bytes, int]]:
        """The proposals this hub accepted in ``epoch`` of a group (a commit may name
        them), each with the time the hub accepted it."""
        async with self.engine.read() as tx:
            rows = await tx.fetchall(
                "SELECT p.body, m.created_at FROM hub_proposals p JOIN messages m"
                " ON m.msg_id = p.msg_id WHERE p.group_id = ? AND p.epoch = ?"
                " ORDER BY p.msg_id", group_id, epoch)
        return [(bytes(r[0]), int(r[1])) for r in rows]

    async def hub_group_info(self, group_id: bytes) -> tuple[int, bytes] | None:
        """(epoch, signed GroupInfo) last filed for a group hubbed here (MIMI 5.6)."""
        async with self.engine.read() as tx:
            row = await tx.fetchone(
                "SELECT epoch, group_info FROM hub_group_info WHERE group_id = ?", group_id)
        return None if row is None else (int(row[0]), bytes(row[1]))

    async def hub_post(
        self, message: NewMessage, nonce: bytes, nonce_expires_at: int, encode: ItemEncoder,
        verify: Callable[[bytes], None], frank: bytes | None = None,
    ) -> list[str]:
        """Admit a hidden-sender post (``verify`` checks it against the epoch's posting
        key), file its ``frank`` (T13, kept as long as the nonce) and fan it out
        to every member, the sender's own devices included (T11); in the transaction of
        a batch of posts (group commit, ``accord.storage.post_batch``), answered once
        that transaction is durable."""
        assert message.group_id is not None and message.epoch is not None
        return await self.posts.submit(
            PendingPost(message, nonce, nonce_expires_at, encode, verify, frank))
