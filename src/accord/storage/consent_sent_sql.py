"""The consent requests this provider sent for its users (MIMI 5.7, T14), in the store.

One row per ConsentScope (requester, target, room; ``""`` for no room) this provider
sent a ``requestConsent`` for: its state (``pending``, ``granted`` or ``revoked``) and
when it last changed. Only the target's provider's ``updateConsent`` for a scope
that has a row changes it (an unsolicited grant or revoke finds none); the requester
cancels by deleting it. Rows go with the requesting account (ON DELETE CASCADE, T18).
"""

from __future__ import annotations

from dataclasses import dataclass

from accord.storage.engine import Engine

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
)
STATES = ("pending", "granted", "revoked")


@dataclass(frozen=True, slots=True)
class SentScope:
    target: str
    room: str  # "" for a request for no room
    state: str
    changed_at: int


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

    async def sent(self, requester: str, target: str, room: str, now: int) -> None:
        """A request for this scope went out at ``now``: pending from now on."""
        async with self._engine.transaction() as tx:
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

    async def cancel(self, requester: str, target: str, room: str) -> bool:
        """Forget a pending request; whether there was one."""
        async with self._engine.transaction() as tx:
            return await tx.execute(
                "DELETE FROM mimi_consent_sent WHERE requester = ? AND target = ? AND"
                " room = ? AND state = 'pending'", requester, target, room) > 0

    async def list(self, requester: str) -> list[SentScope]:
        async with self._engine.transaction() as tx:
            rows = await tx.fetchall(
                "SELECT target, room, state, changed_at FROM mimi_consent_sent WHERE"
                " requester = ? ORDER BY changed_at, target, room", requester)
        return [SentScope(r[0], r[1], r[2], int(r[3])) for r in rows]
