"""The MIMI consent messages this provider sent for its users (5.7, T14), in the store.

``mimi_consent_sent``: one row per ConsentScope (requester, target, room; ``""`` for
no room) this provider sent a ``requestConsent`` for: its state (``pending``,
``granted`` or ``revoked``) and when it last changed. Only the target's provider's
``updateConsent`` for a scope that has a row changes it (an unsolicited grant or
revoke finds none); the requester cancels by deleting it.

``mimi_consent_given``: the peers' users our account sent an ``updateConsent`` grant
(it accepted their consent request); a block of such a user (or its domain) sends
the ``revoke`` and deletes the row (``ConsentSqlMixin.fed_set_block``).

Every consent message goes out through the outbound queue (``fed_outbox``, one row
per message, :func:`to_peer`), written in the transaction that changes the state it
announces: once the provider answered, the message is owed to the peer and survives
a crash. Rows go with the account (ON DELETE CASCADE, T18).
"""

from __future__ import annotations

from dataclasses import dataclass

from accord.storage.engine import Engine, Tx

CONSENT_SENT_MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        2291,
        """
CREATE TABLE mimi_consent_sent (
    requester TEXT NOT NULL REFERENCES accounts(account) ON DELETE CASCADE,
    target TEXT NOT NULL,
    room TEXT NOT NULL,
    state TEXT NOT NULL,
    changed_at {BIGINT} NOT NULL,
    PRIMARY KEY (requester, target, room)
);
""",
    ),
    (
        2292,
        """
CREATE TABLE mimi_consent_given (
    account TEXT NOT NULL REFERENCES accounts(account) ON DELETE CASCADE,
    requester TEXT NOT NULL,
    granted_at {BIGINT} NOT NULL,
    PRIMARY KEY (account, requester)
);
""",
    ),
)
# One consent message owed to a peer: (peer domain, outbound queue row).
Queued = tuple[str, bytes]
STATES = ("pending", "granted", "revoked")


@dataclass(frozen=True, slots=True)
class SentScope:
    target: str
    room: str  # "" for a request for no room
    state: str
    changed_at: int


async def to_peer(tx: Tx, queued: Queued, created_at: int) -> None:
    """Queue one consent message for its peer, in the caller's transaction."""
    await tx.execute("INSERT INTO fed_outbox (peer, item, created_at) VALUES (?, ?, ?)",
                     queued[0], queued[1], created_at)


class SentConsent:
    """``store.consent_sent``: the requests of :mod:`accord.federation.consent_out`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def get(self, requester: str, target: str, room: str) -> SentScope | None:
        async with self._engine.transaction() as tx:
            row = await tx.fetchone(
                "SELECT state, changed_at FROM mimi_consent_sent WHERE requester = ? AND"
                " target = ? AND room = ?", requester, target, room)
        return None if row is None else SentScope(target, room, row[0], int(row[1]))

    async def sent(self, requester: str, target: str, room: str, now: int,
                   queue: Queued | None = None) -> None:
        """A request for this scope goes out at ``now`` (``queue``: its message, queued
        in the same transaction): pending from now on."""
        async with self._engine.transaction() as tx:
            if queue is not None:
                await to_peer(tx, queue, now)
            await tx.execute(
                "INSERT INTO mimi_consent_sent (requester, target, room, state, changed_at)"
                " VALUES (?, ?, ?, 'pending', ?) ON CONFLICT (requester, target, room)"
                " DO UPDATE SET state = 'pending', changed_at = excluded.changed_at",
                requester, target, room, now)

    async def answered(self, requester: str, target: str, room: str | None, state: str,
                       now: int) -> list[str]:
        """The target's answer (``granted`` or ``revoked``) to the requests of this scope
        (``room`` None: every room of the pair); the rooms it changed, none when no
        request of ours matches."""
        assert state in STATES[1:]
        async with self._engine.transaction() as tx:
            if room is None:
                rows = await tx.fetchall(
                    "SELECT room FROM mimi_consent_sent WHERE requester = ? AND target = ?",
                    requester, target)
            else:
                rows = await tx.fetchall(
                    "SELECT room FROM mimi_consent_sent WHERE requester = ? AND target = ?"
                    " AND room = ?", requester, target, room)
            rooms = sorted(r[0] for r in rows)
            for r in rooms:
                await tx.execute(
                    "UPDATE mimi_consent_sent SET state = ?, changed_at = ? WHERE"
                    " requester = ? AND target = ? AND room = ?",
                    state, now, requester, target, r)
        return rooms

    async def cancel(self, requester: str, target: str, room: str,
                     queue: Queued | None = None, now: int = 0) -> bool:
        """Forget a pending request (and queue ``queue``, its cancel, only then);
        whether there was one."""
        async with self._engine.transaction() as tx:
            gone = await tx.execute(
                "DELETE FROM mimi_consent_sent WHERE requester = ? AND target = ? AND"
                " room = ? AND state = 'pending'", requester, target, room) > 0
            if gone and queue is not None:
                await to_peer(tx, queue, now)
        return gone

    async def given(self, account: str) -> list[str]:
        """The peers' users ``account`` sent a grant it has not revoked."""
        async with self._engine.transaction() as tx:
            rows = await tx.fetchall("SELECT requester FROM mimi_consent_given WHERE"
                                     " account = ? ORDER BY requester", account)
        return [r[0] for r in rows]

    async def list(self, requester: str) -> list[SentScope]:
        async with self._engine.transaction() as tx:
            rows = await tx.fetchall(
                "SELECT target, room, state, changed_at FROM mimi_consent_sent WHERE"
                " requester = ? ORDER BY changed_at, target, room", requester)
        return [SentScope(r[0], r[1], r[2], int(r[3])) for r in rows]
