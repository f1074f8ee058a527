"""A local account's consent towards other providers' users (T14), in the provider store.

``fed_blocks`` (users or whole domains an account blocked), ``fed_contacts``
(senders whose message request the account accepted) and ``fed_requests``
(pending message requests). Mixed into ``SqlStore`` through
``FederationSqlMixin``; rows go with the account (ON DELETE CASCADE, T18).
"""

from __future__ import annotations

from collections.abc import Collection

from accord.errors import NotFound
from accord.storage.engine import Engine


class ConsentSqlMixin:
    engine: Engine

    async def fed_set_block(self, account: str, target: str, blocked: bool, now: int) -> None:
        async with self.engine.transaction() as tx:
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
        domain = sender.rsplit("@", 1)[-1]
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

    async def fed_add_contacts(self, account: str, contacts: Collection[str]) -> None:
        """``account`` invited ``contacts``: what they send it is no message request."""
        async with self.engine.transaction() as tx:
            await tx.executemany(
                "INSERT INTO fed_contacts (account, contact) VALUES (?, ?)"
                " ON CONFLICT DO NOTHING", [(account, c) for c in sorted(contacts)])

    async def fed_accept_request(self, account: str, group_id: bytes) -> None:
        async with self.engine.transaction() as tx:
            row = await tx.fetchone(
                "DELETE FROM fed_requests WHERE account = ? AND group_id = ?"
                " RETURNING from_account",
                account,
                group_id,
            )
            if row is None:
                raise NotFound("no such message request")
            await tx.execute(
                "INSERT INTO fed_contacts (account, contact) VALUES (?, ?)"
                " ON CONFLICT DO NOTHING",
                account,
                row[0],
            )

