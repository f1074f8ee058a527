"""A local account's consent towards other users (T14), in the provider store.

``fed_blocks`` (users or whole domains an account blocked), ``fed_contacts``
(senders whose message request the account accepted) and ``fed_requests``
(pending message requests), with ``fed_first_contact`` (the sealed first-contact
request of a pending request, per recipient device: ciphertext only, issue 18).
Mixed into ``SqlStore`` through ``FederationSqlMixin``; rows go with the account
(ON DELETE CASCADE, T18).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

from accord.errors import NotFound
from accord.storage.consent_sent_sql import Queued, to_peer
from accord.storage.engine import Engine, Tx
from accord.wire.accounts import domain_of

# The msg_id of a message request no Welcome backs: a peer's consent request (MIMI 5.7).
CONSENT_REQUEST = "mimi-consent"
# Issue 18 numbers its migrations from 1800.
CONSENT_MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1800,
        """
CREATE TABLE fed_first_contact (
    device_id TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
    group_id {BLOB} NOT NULL,
    sealed {BLOB} NOT NULL,
    created_at {BIGINT} NOT NULL,
    PRIMARY KEY (device_id, group_id)
);
""",
    ),
)


async def record_first_contact(tx: Tx, group_id: bytes, created_at: int,
                               requests: Sequence[tuple[str, str]],
                               sealed: Mapping[str, bytes]) -> None:
    """Keep each sealed first-contact request for a device of an account that got a
    message request with this Welcome; the others (contacts, blocked) are dropped."""
    if not sealed:
        return
    for account in sorted({a for a, _ in requests}):
        rows = await tx.fetchall("SELECT device_id FROM devices WHERE account = ?", account)
        await tx.executemany(
            "INSERT INTO fed_first_contact (device_id, group_id, sealed, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(r[0], group_id, sealed[r[0]], created_at) for r in rows if r[0] in sealed])


class ConsentSqlMixin:
    engine: Engine

    async def fed_set_block(self, account: str, target: str, blocked: bool, now: int,
                            revoke: Callable[[str], Queued] | None = None) -> None:
        """Block or unblock ``target`` (a user or a domain). ``revoke``: the MIMI
        ``updateConsent`` revoke (5.7) owed to each peer user the account sent a grant
        and now blocks (by name or domain), queued in this transaction."""
        async with self.engine.transaction() as tx:
            if blocked and revoke is not None:
                rows = await tx.fetchall(
                    "SELECT requester FROM mimi_consent_given WHERE account = ?", account)
                for (requester,) in rows:
                    if target not in (requester, domain_of(requester)):
                        continue
                    await tx.execute("DELETE FROM mimi_consent_given WHERE account = ? AND"
                                     " requester = ?", account, requester)
                    await to_peer(tx, revoke(requester), now)
            if blocked:
                await tx.execute(
                    "INSERT INTO fed_blocks (account, target, created_at) VALUES (?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    account,
                    target,
                    now,
                )
            elif await tx.execute(
                "DELETE FROM fed_blocks WHERE account = ? AND target = ?", account, target
            ) == 0:
                raise NotFound("no such block")

    async def fed_blocks(self, account: str) -> list[str]:
        async with self.engine.transaction() as tx:
            rows = await tx.fetchall(
                "SELECT target FROM fed_blocks WHERE account = ? ORDER BY target", account
            )
        return [r[0] for r in rows]

    async def fed_consent(self, accounts: Collection[str], sender: str) -> dict[str, str]:
        """Per local account: "blocked", "contact" or "stranger" towards ``sender``."""
        domain = domain_of(sender)
        state: dict[str, str] = {}
        async with self.engine.transaction() as tx:
            for account in sorted(set(accounts)):
                if await tx.fetchone(
                    "SELECT 1 FROM fed_blocks WHERE account = ? AND target IN (?, ?)",
                    account, sender, domain,
                ):
                    state[account] = "blocked"
                elif await tx.fetchone(
                    "SELECT 1 FROM fed_contacts WHERE account = ? AND contact = ?",
                    account, sender,
                ):
                    state[account] = "contact"
                else:
                    state[account] = "stranger"
        return state

    async def fed_requests(self, account: str) -> list[tuple[bytes, str, str, int]]:
        async with self.engine.transaction() as tx:
            rows = await tx.fetchall(
                "SELECT group_id, from_account, msg_id, created_at FROM fed_requests"
                " WHERE account = ? ORDER BY created_at, msg_id",
                account,
            )
        return [(bytes(r[0]), r[1], r[2], int(r[3])) for r in rows]

    async def fed_first_contact(self, device_id: str) -> dict[bytes, bytes]:
        """The sealed first-contact requests waiting for ``device_id``, by group."""
        async with self.engine.transaction() as tx:
            rows = await tx.fetchall(
                "SELECT group_id, sealed FROM fed_first_contact WHERE device_id = ?", device_id)
        return {bytes(r[0]): bytes(r[1]) for r in rows}

    async def fed_add_contacts(self, account: str, contacts: Collection[str]) -> None:
        """``account`` invited ``contacts``: what they send it is no message request."""
        async with self.engine.transaction() as tx:
            await tx.executemany(
                "INSERT INTO fed_contacts (account, contact) VALUES (?, ?)"
                " ON CONFLICT DO NOTHING", [(account, c) for c in sorted(contacts)])

    async def fed_consent_request(self, account: str, group_id: bytes, from_account: str,
                                  created_at: int, cancel: bool = False) -> None:
        """A message request from ``from_account`` for ``group_id`` that no Welcome backs
        (yet): a peer's consent request (MIMI 5.7), or its cancel, which removes only
        such a request (one a Welcome backs stays until the account answers it)."""
        async with self.engine.transaction() as tx:
            if cancel:
                await tx.execute(
                    "DELETE FROM fed_requests WHERE account = ? AND group_id = ? AND"
                    " from_account = ? AND msg_id = ?", account, group_id, from_account,
                    CONSENT_REQUEST)
            else:
                await tx.execute(
                    "INSERT INTO fed_requests (account, group_id, from_account, msg_id,"
                    " created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    account, group_id, from_account, CONSENT_REQUEST, created_at)

    async def fed_accept_request(
        self, account: str, group_id: bytes, now: int = 0,
        grant: Callable[[str, str], Queued | None] | None = None,
    ) -> tuple[str, str]:
        """Accept a message request: its sender becomes a contact; (sender, msg_id).
        ``grant(sender, msg_id)``: the MIMI ``updateConsent`` grant (5.7) owed to the
        sender's provider, if any, queued in this transaction and remembered (a later
        block revokes it)."""
        async with self.engine.transaction() as tx:
            row = await tx.fetchone(
                "DELETE FROM fed_requests WHERE account = ? AND group_id = ?"
                " RETURNING from_account, msg_id",
                account,
                group_id,
            )
            if row is None:
                raise NotFound("no such message request")
            await tx.execute(
                "DELETE FROM fed_first_contact WHERE group_id = ? AND device_id IN"
                " (SELECT device_id FROM devices WHERE account = ?)", group_id, account)
            await tx.execute(
                "INSERT INTO fed_contacts (account, contact) VALUES (?, ?)"
                " ON CONFLICT DO NOTHING",
                account,
                row[0],
            )
            queued = grant(row[0], row[1]) if grant is not None else None
            if queued is not None:
                await tx.execute(
                    "INSERT INTO mimi_consent_given (account, requester, granted_at)"
                    " VALUES (?, ?, ?) ON CONFLICT (account, requester) DO UPDATE SET"
                    " granted_at = excluded.granted_at", account, row[0], now)
                await to_peer(tx, queued, now)
        return row[0], row[1]
