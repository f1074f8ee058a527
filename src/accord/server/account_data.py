"""Account export and deletion (T18), and the per-account backup blob (T17).

``export``: everything the provider holds about the caller's account, as
JSON (``store.accounts``, :mod:`accord.storage.account_sql`).

``delete``: needs a session *and* a signature by a device of the account
over ``accord.wire.privacy.delete_input`` (a stolen session token alone
cannot erase an account). Everything naming the account is erased in one
transaction with the transparency log's tombstone (when a log runs), the
in-memory rate-limit state of its devices is dropped, and every peer
provider that hosts a member of one of its groups is told
(``/federation/v1/account-deleted``), best effort: peers that cannot be
reached are listed in the answer.

``put_backup``/``get_backup``: one opaque, client-encrypted blob per
account; the provider cannot read it (``accord.privacy.backup_format``).
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

from accord.errors import AccordError, AuthError, DecodeError, NotFound, ValidationError
from accord.server.state import Provider
from accord.storage import DeviceRecord
from accord.wire import b64d, signing
from accord.wire import privacy as w
from accord.wire.accounts import domain_of

if TYPE_CHECKING:
    from accord.federation.service import Federation

log = logging.getLogger("accord.server.account_data")
FED_DELETED = "/federation/v1/account-deleted"


async def export(p: Provider, by: DeviceRecord, now: int) -> w.AccountExport:
    tables = await p.store.accounts.export(by.account)
    return w.AccountExport(account=by.account, exported_at=now, tables=tables)


async def _peers_of(p: Provider, devices: list[str]) -> set[str]:
    """The account's group ids' peer providers (to tell) before the rows go."""
    peers: set[str] = set()
    for gid in await p.store.accounts.groups_of(devices):
        group = await p.store.get_group(gid)
        peers |= {d for d in group.where().values() if d and d != p.config.domain}
        if group.hub != p.config.domain:
            peers.add(group.hub)
    return peers


async def delete(p: Provider, by: DeviceRecord, req: w.DeleteAccountRequest, now: int
                 ) -> w.DeleteAccountResult:
    if req.account != by.account:
        raise AuthError("a device can only delete its own account")
    signing.verify(by.signature_key, req.signature, w.delete_input(p.config.domain, by.account))
    devices = [d.device_id for d in await p.store.list_devices(by.account)]
    peers = await _peers_of(p, devices)
    erased: dict[str, int] = {}

    async def erase(tx: Any) -> None:
        erased.update(await p.store.accounts.erase_in(tx, by.account))

    kt = getattr(p, "transparency", None)
    if kt is not None and hasattr(kt, "delete_account"):
        await kt.delete_account(by.account, erase, now)  # tombstone in the same transaction
    else:
        erased.update(await p.store.accounts.erase(by.account))
    for device_id in devices:
        for kind in ("device", "blob_bytes"):
            p.limiter.forget(kind, device_id)
    told = await _tell_peers(p, sorted(peers), by.account, devices, now)
    log.info("an account was deleted (%d rows)", sum(erased.values()))
    return w.DeleteAccountResult(erased=[w.ErasedRows(t, n) for t, n in sorted(erased.items())],
                                 peers_told=told)


async def _tell_peers(p: Provider, peers: list[str], account: str, devices: list[str],
                      now: int) -> list[str]:
    fed: Federation = p.federation  # a running provider always federates
    told = []
    note = w.FedAccountDeleted(account=account, device_ids=devices)
    for peer in peers[:1000]:
        try:
            if not await fed.accord_api_to(peer, now):
                continue  # a plain MIMI peer: MIMI has no deletion notice
            await fed.client.post(peer, FED_DELETED, note, w.DeleteAccountResult, now)
            told.append(peer)
        except AccordError as exc:
            log.warning("could not tell a peer about a deletion: %s", type(exc).__name__)
    return told


async def accept_deleted(fed: Federation, peer: str, req: w.FedAccountDeleted, now: int
                         ) -> w.DeleteAccountResult:
    """A peer's account is gone: forget it here.

    The peer speaks only for its own account and its devices (issue 17): what is
    erased is keyed by that account, and by the peer's own domain for group
    members, so a device id that another provider's account also uses is never
    touched. Naming one of our devices is refused (401); an id known here only
    at other providers is refused too, and unknown ids name nothing here.
    """
    if domain_of(req.account) != peer:
        raise AuthError("a provider can only delete its own accounts")
    n = await fed.provider.store.accounts.erase_remote(req.account, peer,
                                                       sorted(set(req.device_ids)))
    return w.DeleteAccountResult(erased=[w.ErasedRows("rows", n)], peers_told=[])


async def put_backup(p: Provider, by: DeviceRecord, req: w.Backup, now: int) -> None:
    if len(req.data) < 64:
        raise ValidationError("this is not an Accord backup")
    await p.store.backups.put(by.account, req.data, now, req.fetch_hash)


async def fetch_backup(p: Provider, token_b64: str) -> w.Backup:
    """The provider's copy, for whoever holds the recovery key's fetch token."""
    try:
        token = b64d(token_b64)
    except DecodeError as exc:
        raise NotFound("no such backup") from exc
    return w.Backup(data=await p.store.backups.by_capability(hashlib.sha256(token).digest()))


async def get_backup(p: Provider, by: DeviceRecord) -> w.Backup:
    return w.Backup(data=await p.store.backups.get(by.account))


