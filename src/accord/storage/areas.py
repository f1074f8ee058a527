"""The store's per-area objects (``store.reports``, ``store.rendezvous``, ...).

The tables outside the core interface are kept by functions of their own
modules (``privacy_sql``, ``account_sql``, ``rendezvous_sql``,
``transparency_sql``), which take the SQL engine. The services above storage
never see that engine: they call these objects, which the store builds over
its own engine. Each method is the one SQL function of its name, bound to the
engine; the rules and statements stay in the function.
"""

from __future__ import annotations

from typing import Any

from accord.storage import account_sql, privacy_sql, rendezvous_sql, transparency_sql
from accord.storage.engine import Engine, Tx
from accord.storage.rendezvous_sql import Slot
from accord.storage.transparency_sql import PeerHeadRow
from accord.wire.privacy import AdminReport

OPERATOR_TOKEN = "admin-token-sha256"  # provider_secrets row: SHA-256 of the admin API's token


class _Area:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine


class Reports(_Area):
    """Abuse reports (T13) and the franks a report is checked against here."""

    async def add(self, group_id: bytes, reporter: str, alleged: str | None, content: bytes,
                  message_time: int, now: int, reason_code: int = 0, note: str = "") -> int:
        return await privacy_sql.add_report(self._engine, group_id, reporter, alleged, content,
                                            message_time, now, reason_code, note)

    async def list(self, status: str | None = None) -> list[AdminReport]:
        return await privacy_sql.list_reports(self._engine, status)

    async def close(self, report_id: int, status: str) -> None:
        await privacy_sql.close_report(self._engine, report_id, status)

    async def tag_filed(self, tag: bytes) -> bool:
        return await privacy_sql.tag_filed(self._engine, tag)


class Admin(_Area):
    """The operator's actions (T13): account actions, refused peers, the admin API token."""

    async def set_account_action(self, account: str, action: str | None, reason: str,
                                 now: int) -> None:
        await privacy_sql.set_account_action(self._engine, account, action, reason, now)

    async def account_action(self, account: str) -> str | None:
        return await privacy_sql.account_action(self._engine, account)

    async def set_peer_refused(self, peer: str, refused: bool, reason: str, now: int) -> None:
        await privacy_sql.set_peer_refused(self._engine, peer, refused, reason, now)

    async def refused_peers(self) -> set[str]:
        return await privacy_sql.refused_peers(self._engine)

    async def token_hash(self) -> bytes | None:
        return await privacy_sql.get_secret(self._engine, OPERATOR_TOKEN)

    async def set_token_hash(self, digest: bytes) -> None:
        await privacy_sql.set_secret(self._engine, OPERATOR_TOKEN, digest)


class Backups(_Area):
    """One client-encrypted backup blob per account (T17)."""

    async def put(self, account: str, data: bytes, now: int,
                  fetch_hash: bytes | None = None) -> None:
        await privacy_sql.put_backup(self._engine, account, data, now, fetch_hash)

    async def get(self, account: str) -> bytes:
        return await privacy_sql.get_backup(self._engine, account)

    async def by_capability(self, fetch_hash: bytes) -> bytes:
        return await privacy_sql.backup_by_capability(self._engine, fetch_hash)


class Rendezvous(_Area):
    """Device-linking slots (:mod:`accord.storage.rendezvous_sql`)."""

    async def purge(self, now: int) -> None:
        await rendezvous_sql.purge(self._engine, now)

    async def open_count(self, device_id: str, now: int) -> int:
        return await rendezvous_sql.open_count(self._engine, device_id, now)

    async def create(self, slot_id: bytes, device_id: str, offer: bytes,
                     expires_at: int) -> bool:
        return await rendezvous_sql.create(self._engine, slot_id, device_id, offer, expires_at)

    async def use(self, slot_id: bytes, now: int, max_uses: int) -> Slot | None:
        return await rendezvous_sql.use(self._engine, slot_id, now, max_uses)

    async def get(self, slot_id: bytes, now: int) -> Slot | None:
        return await rendezvous_sql.get(self._engine, slot_id, now)

    async def set_answer(self, slot_id: bytes, answer: bytes, now: int) -> bool:
        return await rendezvous_sql.set_answer(self._engine, slot_id, answer, now)

    async def delete(self, slot_id: bytes, device_id: str) -> bool:
        return await rendezvous_sql.delete(self._engine, slot_id, device_id)


class Franking(_Area):
    """The hub's franks (T13, encoded MIMI Franks) and hash-chain links (T07) of delivered items."""

    async def tags_for(self, msg_ids: list[str]) -> dict[str, bytes]:
        return await privacy_sql.tags_for(self._engine, msg_ids)

    async def chains_for(self, msg_ids: list[str]) -> dict[str, tuple[int, bytes]]:
        return await privacy_sql.chains_for(self._engine, msg_ids)

    async def purge(self, now: int) -> int:
        return await privacy_sql.purge(self._engine, now)


class PeerHeads(_Area):
    """Peer providers' tree heads this provider witnessed (issue 7)."""

    async def put(self, row: PeerHeadRow) -> None:
        await transparency_sql.put_peer_head(self._engine, row)

    async def latest(self, peer: str) -> PeerHeadRow | None:
        return await transparency_sql.latest_peer_head(self._engine, peer)


class Accounts(_Area):
    """Export and erasure of an account (T18, :mod:`accord.storage.account_sql`)."""

    async def export(self, account: str) -> dict[str, Any]:
        return await account_sql.export_account(self._engine, account)

    async def groups_of(self, device_ids: list[str]) -> list[bytes]:
        return await account_sql.groups_of(self._engine, device_ids)

    async def erase(self, account: str) -> dict[str, int]:
        return await account_sql.erase_account_alone(self._engine, account)

    @staticmethod
    async def erase_in(tx: Tx, account: str) -> dict[str, int]:
        """The erasure in the caller's transaction (with the transparency log's tombstone)."""
        return await account_sql.erase_account(tx, account)

    async def erase_remote(self, account: str, peer: str, device_ids: list[str]) -> int:
        return await account_sql.erase_remote_account(self._engine, account, peer, device_ids)


class Secrets(_Area):
    """The provider's secrets filed in the database (``provider_secrets``), for the key
    loader (:mod:`accord.federation.provider_key`)."""

    @property
    def shared(self) -> bool:
        """Whether the keys are the database's (several nodes) rather than the folder's."""
        return self._engine.dialect.name == "postgresql"

    async def offer(self, name: str, candidate: bytes) -> bytes:
        return await privacy_sql.shared_secret(self._engine, name, candidate)

    async def replace(self, name: str, old: bytes, new: bytes) -> None:
        await privacy_sql.replace_secret(self._engine, name, old, new)

    async def legacy(self, name: str) -> bytes | None:
        return await privacy_sql.legacy_secret(self._engine, name)

    async def forget_legacy(self, name: str) -> None:
        await privacy_sql.forget_legacy_secret(self._engine, name)
