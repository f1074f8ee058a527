"""Encrypted backups of a profile (T17): history, contacts and settings.

A backup holds what a person would lose with their last device: every
conversation's history and events, contacts, settings, and the device
signature key (only to certify a new device of the account at restore).
It holds no live MLS secret: no group state, no KeyPackage private key, no
epoch secret. It is sealed under a recovery key shown once
(:mod:`accord.privacy.backup_format`) and kept in a file or with the
provider (``PUT /v1/account/backup``). The provider's copy is fetched back
with a capability derived from the recovery key, so a person with no device
left can still get it: ``GET /v1/backups/{fetch token}``.

Restore makes this profile a *new* device of the account: the backed-up key
certifies it and the old device is removed from the provider. Conversations
come back with their history, inactive, until a member (or another device of
ours) adds this device again; the Welcome then reactivates them with the
history kept (``accord.client.inbox``: added back after a removal).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.client.api import ProviderApi
from accord.client.store import StoredMessage
from accord.errors import AuthError, DecodeError, ValidationError
from accord.privacy.backup_format import KdfCost, open_backup, parse_recovery_key, seal_backup
from accord.wire import b64e, parse, signing
from accord.wire import privacy as w

if TYPE_CHECKING:
    from accord.client.device import Device

FORMAT = 1
MAX_CONVERSATIONS = 10_000
MAX_MESSAGES = 1_000_000
FETCH_LABEL = b"accord backup fetch v1"


def fetch_token(recovery_key: str) -> bytes:
    """The capability that fetches the provider's copy (the provider keeps its hash)."""
    return hashlib.sha256(FETCH_LABEL + parse_recovery_key(recovery_key)).digest()


def _message_json(m: StoredMessage) -> dict[str, Any]:
    d = asdict(m)
    d["msg_id"] = m.msg_id.hex()
    d["reply_to"] = m.reply_to.hex() if m.reply_to else None
    return d


def snapshot(dev: Device, now: int) -> bytes:
    """The backup's plaintext: JSON of history, contacts and settings."""
    ident = dev.identity
    convs = []
    for c in dev.store.conversations()[:MAX_CONVERSATIONS]:
        convs.append({"group_id": c["group_id"].hex(), "conv_id": c["conv_id"],
                      "name": c["name"], "kind": c["kind"], "created_at": c["created_at"],
                      "meta": c["meta"],
                      "messages": [_message_json(m) for m in
                                   dev.store.messages(c["conv_id"], MAX_MESSAGES)],
                      "events": dev.store.events(c["conv_id"])})
    doc = {"format": FORMAT, "created_at": now, "account": ident.account,
           "server": ident.server, "device_id": ident.device_id,
           "device_key": (dev.store.get("sig_priv") or b"").hex(),
           "settings": dev.store.get_json("settings", {}), "contacts": dev.store.contacts(),
           "conversations": convs}
    return json.dumps(doc).encode()


def create(dev: Device, now: int, recovery_key: str, cost: KdfCost | None = None) -> bytes:
    return seal_backup(recovery_key, snapshot(dev, now), dev.random_bytes, cost)


async def upload(dev: Device, sealed: bytes, recovery_key: str) -> None:
    token = fetch_token(recovery_key)
    body = w.Backup(data=sealed, fetch_hash=hashlib.sha256(token).digest())
    await dev.api._send("PUT", "/v1/account/backup", body=body, auth=True)


async def download(server: str, recovery_key: str) -> bytes:
    """Fetch the provider's copy with the recovery key's capability (no session needed)."""
    async with ProviderApi(server) as api:
        resp = await api._send("GET", "/v1/backups/" + b64e(fetch_token(recovery_key)))
        return parse(w.Backup, resp.content).data


def read(sealed: bytes, recovery_key: str) -> dict[str, Any]:
    doc = json.loads(open_backup(recovery_key, sealed))
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise DecodeError("unknown backup format")
    return doc


async def relink(dev: Device, doc: dict[str, Any], now: int) -> None:
    """Make this unregistered profile a new device of the backed-up account."""
    if dev.registered:
        raise ValidationError("restore into a new profile, or use history_only")
    account, server, old_id = doc["account"], doc["server"], doc["device_id"]
    old_key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(doc["device_key"]))
    dev.link_request(account, server)  # remembered for complete_link below

    async with ProviderApi(server) as old:
        try:
            await old.login(account.rsplit("@", 1)[1], old_id, old_key.sign)
        except AuthError:
            raise AuthError("the backed-up device is no longer on the account: link this "
                            "profile from another device, then restore the history only"
                            ) from None
        pub = dev.signature_public_key
        # The old key names the new one its successor in the transparency log, so
        # contacts who verified the account, and its other devices, see a
        # continuation, not a stranger's key (issue 19).
        await old.add_device(account, pub, old_key.sign,
                             dev.sign(signing.possession_input(account, pub)),
                             succeeds=old_key.public_key().public_bytes_raw())
        if await dev.complete_link(now) is None:
            raise AuthError("the provider did not list the new device")
        await old.remove_device(old_id)  # the lost device can no longer log in


async def restore(dev: Device, doc: dict[str, Any], recovery_key: str, now: int, *,
                  reseal: bool, cost: KdfCost | None = None) -> int:
    """Restore ``doc`` into this profile; messages added. An unregistered profile
    becomes a new device of the account (``relink``: the backed-up device is removed
    at the provider; its leaves leave every group, and this device joins them, when
    a member's ``device_replace`` commits). ``reseal``: the backup came from the
    provider, so its copy is replaced by one under the same recovery key that names
    THIS device (the old one can no longer log in, so the old copy could never be
    restored again)."""
    if not dev.registered:
        await relink(dev, doc, now)
    else:
        await dev.connect()
    added = import_history(dev, doc, now)
    if reseal:
        await upload(dev, create(dev, now, recovery_key, cost), recovery_key)
    return added


def import_history(dev: Device, doc: dict[str, Any], now: int) -> int:
    """Restore settings, contacts, conversations (inactive until re-added) and messages."""
    added = 0
    with dev.store.transaction():
        dev.store.put_json("settings", doc.get("settings", {}))
        for c in doc.get("contacts", [])[:MAX_CONVERSATIONS]:
            fields = {k: v for k, v in c.items() if k != "identity"}
            dev.store.upsert_contact(c["identity"], **fields)
        have = {c["conv_id"] for c in dev.store.conversations()}
        for c in doc["conversations"][:MAX_CONVERSATIONS]:
            if c["conv_id"] not in have:
                meta = dict(c["meta"], active=False, restored=True)
                dev.store.add_conversation(c["conv_id"], bytes.fromhex(c["group_id"]),
                                           c["name"], c["kind"], c["created_at"], meta)
                for e in c["events"]:
                    dev.store.add_event(c["conv_id"], e["at"], e["kind"], e["detail"])
            for m in c["messages"][:MAX_MESSAGES]:
                added += dev.store.add_message(StoredMessage(
                    bytes.fromhex(m["msg_id"]), c["conv_id"], m["sender"], m["sender_device"],
                    m["sent_at"], m["received_at"], m["kind"], m["body"],
                    bytes.fromhex(m["reply_to"]) if m["reply_to"] else None, m["edited"],
                    m["deleted"], m["expires_at"], m["meta"]))
    return added
