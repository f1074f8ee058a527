"""Sealed first-contact requests on the device (issue 18, T14).

The format and its checks are ``accord.content.first_contact``; this module
holds the device's part:

- the first-contact key: made once, kept in the encrypted profile, published
  in every KeyPackage the device uploads (``DeviceCore.first_contact_key``);
- sealing (``seal_for``): when a commit adds other accounts' devices, one
  sealed request per device whose KeyPackage carries a key, bound to the
  Welcome of that commit, with the preview the person gave (may be empty);
- the provider lists a request's sealed blob for this device with the
  request (``GET /v1/requests``; ``remember``); ``open_waiting`` opens the
  blobs of waiting invitations, checks them (recipient, group, Welcome,
  sender, signature, preview bound) and asks key transparency whether the
  signing key is the sender account's. The result, a checked preview or the
  reason it was dropped, is kept with the invitation (``invites``).

None of this parses the MLS Welcome: it waits until Accept (``inbox.join_invitation``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from accord.client import invites
from accord.client.mls_session import split_identity
from accord.content import first_contact as fc
from accord.errors import AccordError, ValidationError
from accord.wire import messages as m
from accord.wire import parse

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore
    from accord.wire import federation as fw

SEALED = "first_contact:sealed"  # group id hex -> this device's sealed request (hex)


def seal_for(dev: DeviceCore, group_id: bytes, welcome: bytes, adds: list[tuple[str, bytes]],
             suite: int, preview: str, now: int) -> list[m.SealedFirstContact]:
    """A sealed request for each added device of another account that publishes a key."""
    out = []
    for device_id, kp in adds:
        identity, _ = dev.engine.key_package_identity(kp, now, suite)
        key = dev.engine.key_package_extension(kp, fc.REQUEST_KEY_EXTENSION)
        if key is None or split_identity(identity)[0] == dev.identity.account:
            continue
        sealed = fc.seal(sender=dev.identity.mls_identity, signature_priv=dev._sig_priv(),
                         recipient=identity, request_key=key, group_id=group_id,
                         welcome=welcome, sent_at=now, preview=fc.preview_of(preview))
        out.append(m.SealedFirstContact(device_id=device_id, sealed=sealed))
    return out


def remember(dev: DeviceCore, listed: fw.MessageRequestList) -> None:
    """Keep the sealed requests the provider lists for this device, by group, until
    ``open_waiting`` decides them."""
    decided = invites.decided(dev)
    kept = dev.store.get_json(SEALED, {})
    kept.update({r.group_id.hex(): r.first_contact.hex() for r in listed.requests
                 if r.first_contact is not None and r.group_id.hex() not in decided})
    dev.store.put_json(SEALED, kept)


async def open_waiting(dev: DeviceCore, now: int) -> int:
    """Open and check the sealed requests of waiting invitations; how many were decided.

    A request that fails a check is dropped with its reason (``FirstContactRefused``);
    one key transparency could not answer for yet is tried again at the next sync.
    """
    kept = dev.store.get_json(SEALED, {})
    decided = 0
    for gid_hex, entry in invites.undecided(dev):
        sealed = kept.get(gid_hex)
        if sealed is None:
            continue
        try:
            tbs = await _checked(dev, bytes.fromhex(sealed), bytes.fromhex(gid_hex), entry, now)
            result: dict[str, Any] = {"state": "checked", "preview": tbs.preview,
                                      "sent_at": tbs.sent_at, "sender": tbs.sender.decode()}
        except fc.FirstContactRefused as exc:
            result = {"state": "dropped", "reason": exc.reason}
        except AccordError:
            continue  # key transparency unreachable: the next sync tries again
        invites.decide_first_contact(dev, bytes.fromhex(gid_hex), result)
        decided += 1
    # Kept only while its invitation waits undecided (bounded by the waiting ones).
    undecided = {g for g, _ in invites.undecided(dev)}
    dev.store.put_json(SEALED, {g: s for g, s in kept.items() if g in undecided})
    return decided


async def _checked(dev: DeviceCore, sealed: bytes, group_id: bytes, entry: dict[str, Any],
                   now: int) -> fc.FirstContactTBS:
    from accord.client import device_kt  # key transparency: ~0.1 s of imports, only here
    from accord.client.keycheck import require_device_key

    signed = fc.open_request(sealed, dev.first_contact_key()[0])
    welcome = parse(m.QueueItem, bytes.fromhex(entry["welcome"])).body  # JSON, not MLS
    tbs = fc.check(signed, recipient=dev.identity.mls_identity, group_id=group_id,
                   welcome=welcome, sender_account=entry["from"])
    async with device_kt.checker(dev) as kc:
        log_entry = await kc.current_entry(entry["from"], now)
    try:
        require_device_key(log_entry, tbs.signature_key)
    except ValidationError:
        raise fc.FirstContactRefused("key_not_in_log", "the signing key is not the sender's"
                                     " in its transparency log") from None
    return tbs
