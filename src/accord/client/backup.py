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
certifies it (and signs it as its successor in key transparency, so nobody
sees a key change) and the old device is removed from the provider.
Conversations come back with their history, inactive, until a member (or
another device of ours) adds this device again; the Welcome then reactivates
them with the history kept (``accord.client.inbox``: added back after a
removal).

A conversation whose group had the backed-up device as its only member (notes
to self, everyone else left) has nobody to add this device: the backup names
each group's members, the hub confirms (asked as the old device, before it is
removed) that no one else is in it, and the conversation continues at once in
a new group of this device alone (``rejoin_alone``), with its id, name and
history, as a ReInit would move it. The old group keeps only the dead leaf.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.client import conversations as convs
from accord.client import rooms
from accord.client.api import ProviderApi
from accord.client.mls_session import OFFERED_SUITES
from accord.client.store import StoredMessage
from accord.errors import AccordError, AuthError, DecodeError, NotFound, ValidationError
from accord.privacy.backup_format import KdfCost, open_backup, parse_recovery_key, seal_backup
from accord.wire import b64e, parse, signing
from accord.wire import privacy as w
from accord.wire.accounts import domain_of

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore

FORMAT = 1
MAX_CONVERSATIONS = 10_000
MAX_MESSAGES = 1_000_000
FETCH_LABEL = b"accord backup fetch v1"


def fetch_token(recovery_key: str) -> bytes:
    """The capability that fetches the provider's copy (the provider keeps its hash)."""
    return hashlib.sha256(FETCH_LABEL + parse_recovery_key(recovery_key)).digest()


def _message_json(dev: DeviceCore, m: StoredMessage) -> dict[str, Any]:
    d = asdict(m)
    d["msg_id"] = m.msg_id.hex()
    d["reply_to"] = m.reply_to.hex() if m.reply_to else None
    d["mimi_id"] = rooms.exported_id(dev, m.conv_id, m.msg_id)  # MIMI references (issue 22)
    return d


def snapshot(dev: DeviceCore, now: int) -> bytes:
    """The backup's plaintext: JSON of history, contacts and settings."""
    ident = dev.identity
    saved = []
    for c in dev.store.conversations()[:MAX_CONVERSATIONS]:
        saved.append({"group_id": c["group_id"].hex(), "conv_id": c["conv_id"],
                      "name": c["name"], "kind": c["kind"], "created_at": c["created_at"],
                      "meta": c["meta"], "members": _member_identities(dev, c),
                      "messages": [_message_json(dev, m) for m in
                                   dev.store.messages(c["conv_id"], MAX_MESSAGES)],
                      "events": dev.store.events(c["conv_id"])})
    doc = {"format": FORMAT, "created_at": now, "account": ident.account,
           "server": ident.server, "device_id": ident.device_id,
           "device_key": (dev.store.get("sig_priv") or b"").hex(),
           "settings": dev.store.get_json("settings", {}), "contacts": dev.store.contacts(),
           "conversations": saved}
    return json.dumps(doc).encode()


def _member_identities(dev: DeviceCore, conv: dict[str, Any]) -> list[str]:
    """The MLS identities of ``conv``'s members (none when we are out of its group)."""
    if not conv["meta"].get("active", True):
        return []
    try:
        state = dev.store.load_group(conv["group_id"])
    except NotFound:
        return []
    return sorted(mb.identity.decode() for mb in dev.engine.members(state))


def create(dev: DeviceCore, now: int, recovery_key: str, cost: KdfCost | None = None) -> bytes:
    return seal_backup(recovery_key, snapshot(dev, now), dev.random_bytes, cost)


async def upload(dev: DeviceCore, sealed: bytes, recovery_key: str) -> None:
    token = fetch_token(recovery_key)
    body = w.Backup(data=sealed, fetch_hash=hashlib.sha256(token).digest())
    await dev.api._send("PUT", "/v1/account/backup", body=body, auth=True)


async def download(server: str, recovery_key: str, *, transport: Any = None) -> bytes:
    """Fetch the provider's copy with the recovery key's capability (no session needed);
    ``transport``: the HTTP transport (None: the network)."""
    async with ProviderApi(server, transport=transport) as api:
        resp = await api._send("GET", "/v1/backups/" + b64e(fetch_token(recovery_key)))
        return parse(w.Backup, resp.content).data


def read(sealed: bytes, recovery_key: str) -> dict[str, Any]:
    doc = json.loads(open_backup(recovery_key, sealed))
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise DecodeError("unknown backup format")
    return doc


async def relink(dev: DeviceCore, doc: dict[str, Any], now: int) -> set[str]:
    """Make this unregistered profile a new device of the backed-up account; the ids of
    the conversations whose group had the old device alone (``rejoin_alone``)."""
    if dev.registered:
        raise ValidationError("restore into a new profile, or use history_only")
    account, server, old_id = doc["account"], doc["server"], doc["device_id"]
    old_key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(doc["device_key"]))
    dev.link_request(account, server)  # remembered for complete_link below

    async with dev.provider_session(server) as old:
        try:
            await old.login(domain_of(account), old_id, old_key.sign)
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
        alone = await _alone(old, doc)  # asked as the old device: a member of its groups
        await old.remove_device(old_id)  # the lost device can no longer log in
    return alone


async def _alone(old: ProviderApi, doc: dict[str, Any]) -> set[str]:
    """The conversations whose group had only the backed-up device: in the backup's
    roster, and in the hub's now (nobody joined since the backup)."""
    me = f"{doc['account']}/{doc['device_id']}"
    out = set()
    for c in doc["conversations"][:MAX_CONVERSATIONS]:
        if c.get("members") != [me]:
            continue
        try:
            roster = (await old.group(bytes.fromhex(c["group_id"]))).members
        except AccordError:
            continue  # the hub does not answer for it: left to the members, as before
        if list(roster) == [doc["device_id"]]:
            out.add(c["conv_id"])
    return out


async def rejoin_alone(dev: DeviceCore, conv_id: str, now: int) -> None:
    """``conv_id`` continues in a new group of this device alone (its old group has only
    the old device's dead leaf, so nobody could add this one back)."""
    conv = dev.store.conversation(conv_id)
    suite = OFFERED_SUITES[0]
    group_id, state = await convs.new_group(dev, now, suite)
    account = dev.identity.account
    with dev.store.transaction():
        dev.store.save_group(group_id, state, now)
        dev.store.move_conversation(conv_id, group_id)
        dev.store.update_conversation(conv_id, meta=dict(
            conv["meta"], active=True, admins=[account], admins_known=True,
            sent_since_update=0, last_update=now))
        dev.store.add_event(conv_id, now, "rejoined",
                            {"by": account, "cipher_suite": f"0x{suite:04x}"})


async def restore(dev: DeviceCore, doc: dict[str, Any], recovery_key: str, now: int, *,
                  reseal: bool, cost: KdfCost | None = None) -> int:
    """Restore ``doc`` into this profile; messages added. An unregistered profile
    becomes a new device of the account (``relink``: the backed-up device is removed
    at the provider; its leaves leave every group, and this device joins them, when
    a member's ``device_replace`` commits, or at once where it was alone:
    ``rejoin_alone``). ``reseal``: the backup came from the
    provider, so its copy is replaced by one under the same recovery key that names
    THIS device (the old one can no longer log in, so the old copy could never be
    restored again)."""
    alone: set[str] = set()
    if not dev.registered:
        alone = await relink(dev, doc, now)
    else:
        await dev.connect()
    added = import_history(dev, doc, now)
    for conv_id in sorted(alone):
        if not dev.store.conversation(conv_id)["meta"].get("active", True):
            await rejoin_alone(dev, conv_id, now)
    if reseal:
        await upload(dev, create(dev, now, recovery_key, cost), recovery_key)
    return added


def import_history(dev: DeviceCore, doc: dict[str, Any], now: int) -> int:
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
                rooms.import_id(dev, c["conv_id"], bytes.fromhex(m["msg_id"]), m.get("mimi_id"),
                                m["sender"])
    return added
