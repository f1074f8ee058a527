"""Safety numbers (issue 7, T06): a fingerprint two people compare out of band.

For accounts A and B with device signature key sets K_A and K_B (from
their transparency logs, proven by lookups), each side's half is

    h_X = SHA-512^5200(0x0001 || len(X) || X || for k in sorted(K_X): len(k) || k)

(iterated as ``h <- SHA-512(h || input)``, as Signal does, to make a
second-preimage search for a given half costly), and its 30 digits are
six 5-byte chunks of ``h_X``, each read as a big-endian integer modulo
100000. The safety number is the two halves ordered by account name: 60
digits in 12 groups of 5, the same on both sides. The QR code carries
``accord-safety:1:`` and the 60 digits.

Verifying a contact stores the combined digest in ``contacts.verified_fingerprint``
and the contact's key set at that moment. A key that a verified key signed
as its successor in the contact's transparency log (a restore from backup,
``accord.transparency.vouched``) continues the verification (issue 19).
If the contact's keys change otherwise (in its log, or among the leaves of
a conversation), the contact is shown as changed, a ``contact_key_changed`` alert is raised, and sending to a
conversation with that contact needs a confirmation, which also clears
the verification (compare again to restore it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

from accord.client import alerts
from accord.client.mls_session import split_identity
from accord.client.successions import successions
from accord.errors import NotFound, ValidationError
from accord.wire import b64d, b64e

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore

ITERATIONS = 5200
VERSION = b"\x00\x01"
QR_PREFIX = "accord-safety:1:"


class KeyChangeUnconfirmed(ValidationError):
    """A verified contact's keys changed; sending waits for the person's confirmation.
    ``accounts``: the accounts whose keys the person is asked about."""

    def __init__(self, message: str, rule: str, accounts: Iterable[str]) -> None:
        super().__init__(message, rule)
        self.accounts = frozenset(accounts)


def _half(account: str, keys: Iterable[bytes]) -> tuple[bytes, str]:
    name = account.encode()
    data = VERSION + len(name).to_bytes(2, "big") + name
    for k in sorted(set(keys)):
        data += len(k).to_bytes(2, "big") + k
    h = b""
    for _ in range(ITERATIONS):
        h = hashlib.sha512(h + data).digest()
    digits = "".join(f"{int.from_bytes(h[i:i + 5], 'big') % 100000:05d}" for i in range(0, 30, 5))
    return h, digits


def safety_number(a: str, keys_a: Iterable[bytes], b: str, keys_b: Iterable[bytes]
                  ) -> tuple[str, bytes]:
    """``(60 digits, digest)``; the same whichever side computes it."""
    (ha, da), (hb, db) = _half(a, keys_a), _half(b, keys_b)
    if b < a:
        (ha, da), (hb, db) = (hb, db), (ha, da)
    return da + db, hashlib.sha256(ha + hb).digest()


def grouped(digits: str) -> str:
    return " ".join(digits[i:i + 5] for i in range(0, len(digits), 5))


def qr_text(digits: str) -> str:
    """The QR code of a safety number, drawn with text characters for a terminal."""
    import io

    import segno

    out = io.StringIO()
    segno.make(QR_PREFIX + digits, error="m").terminal(out=out, compact=True, border=2)
    return out.getvalue()


def log_keys(dev: DeviceCore, account: str) -> list[bytes]:
    """``account``'s device keys as last proven by a lookup (``keycheck``)."""
    raw = dev.store.get_json("kt:keys:" + account)
    if raw is None:
        raise NotFound(f"no proven keys for {account} yet; run `accord verify {account}`")
    return [b64d(k) for k in raw]


def current(dev: DeviceCore, account: str) -> tuple[str, bytes]:
    """The safety number with ``account``; an account with no device key in its
    provider's log (no such account, or deleted) has none: NotFound, not a number
    made of nothing that someone might read aloud and "verify"."""
    me = dev.identity.account
    theirs = log_keys(dev, account)
    if not theirs:
        raise NotFound(f"{account} has no devices in its provider's transparency log "
                       "(no such account?)")
    return safety_number(me, log_keys(dev, me), account, theirs)


def mark_verified(dev: DeviceCore, account: str) -> str:
    digits, digest = current(dev, account)
    with dev.store.transaction():
        dev.store.upsert_contact(account, verified_fingerprint=digest)
        dev.store.put_json("safety:" + account, [b64e(k) for k in log_keys(dev, account)])
    return digits


def unverify(dev: DeviceCore, account: str) -> None:
    with dev.store.transaction():
        dev.store.upsert_contact(account, verified_fingerprint=None)
        dev.store.delete("safety:" + account)


def _group_keys(dev: DeviceCore, conv: dict[str, Any], account: str) -> set[bytes]:
    state = dev.store.load_group(conv["group_id"])
    return {mb.signature_key for mb in dev.engine.members(state)
            if split_identity(mb.identity)[0] == account}


def is_verified(dev: DeviceCore, account: str) -> bool:
    contact = dev.store.contact(account)
    return (contact is not None and contact.get("verified_fingerprint") is not None
            and dev.store.get_json("safety:" + account) is not None)


def _changed_keys(dev: DeviceCore, account: str, keys: Iterable[bytes]) -> set[bytes] | None:
    """The keys seen for verified contact ``account`` (its proven log keys and ``keys``)
    when they are not the set verified; None when unchanged (or no set was verified)."""
    snap = dev.store.get_json("safety:" + account)
    if snap is None:
        return None
    seen = {b64d(k) for k in dev.store.get_json("kt:keys:" + account, snap)} | set(keys)
    verified = {b64d(k) for k in snap}
    return None if continues(verified, seen, successions(dev.store, account)) else seen


def changed_contacts(dev: DeviceCore, conv: dict[str, Any] | None, now: int) -> list[str]:
    """Verified contacts (of ``conv``, or all) whose keys differ from the verified set."""
    out = []
    for c in dev.store.contacts():
        account = c["identity"]
        if c.get("verified_fingerprint") is None:
            continue
        leaves = _group_keys(dev, conv, account) if conv is not None else set()
        if conv is not None and not leaves:
            continue
        seen = _changed_keys(dev, account, leaves)
        if seen is not None:
            _alert_once(dev, account, seen, now)
            out.append(account)
    return out


def unchanged(dev: DeviceCore, account: str, keys: Iterable[bytes]) -> bool:
    """Whether ``keys`` (with ``account``'s proven log keys) continue the verified set."""
    return _changed_keys(dev, account, keys) is None


def check_before_add(dev: DeviceCore, account: str, keys: Iterable[bytes], *,
                     confirmed: bool | Collection[str]) -> None:
    """Raise :class:`KeyChangeUnconfirmed` if ``account`` is a verified contact whose
    device keys (``keys``, as its provider lists them now, with its proven log keys)
    are not the set verified, unless ``confirmed`` (True, or a set naming it).

    ``conversations.claim`` calls this before any KeyPackage is claimed, so a refused
    add commits nothing, sends no Welcome and changes nothing on the device (issue 18:
    the gate comes before the member is added, not only before the next post). An
    accepted change clears the verification, as at a send."""
    accepted = confirmed is True or (not isinstance(confirmed, bool) and account in confirmed)
    known = unlogged_keys(dev, account)
    if known and not set(keys) <= known and not accepted:  # T06: no log, first seen keys
        raise KeyChangeUnconfirmed(
            f"{account}'s provider offers no key transparency and its keys changed since "
            "this device first took them (not transparency-checked); compare the safety "
            "number, or confirm to add them anyway", "T06", [account])
    if not is_verified(dev, account) or _changed_keys(dev, account, keys) is None:
        return
    if accepted:
        unverify(dev, account)
        return
    raise KeyChangeUnconfirmed(
        f"the keys of verified contact {account} changed since you verified them; compare "
        "the safety number again, or confirm to add them anyway",
        "issue 7 safety numbers", [account])


def continues(verified: set[bytes], seen: set[bytes],
              proven: list[tuple[bytes, bytes]]) -> bool:
    """Whether the keys ``seen`` are the verified ones, or their certified successors:
    no key that nobody vouched for, and every verified device still there, itself or
    through its successor. Without successions: ``seen == verified``."""
    from accord.transparency import vouched  # ~40 ms of imports; only for verified contacts

    keys, retired = vouched(verified, proven)
    return seen <= keys and keys - retired <= seen


def _alert_once(dev: DeviceCore, account: str, seen: set[bytes], now: int) -> None:
    """One alert per new key set of a verified contact, not one per check."""
    tag = sorted(b64e(k) for k in seen)
    if dev.store.get_json("safety_alerted:" + account) != tag:
        dev.store.put_json("safety_alerted:" + account, tag)
        alerts.raise_alert(dev.store, "contact_key_changed", now, account=account)


def unproven_members(dev: DeviceCore, conv: dict[str, Any]) -> list[str]:
    """Accounts of ``conv`` with a leaf key that was not in their log (``device_kt``)."""
    bad = set(dev.store.get_json("kt:bad", []))
    state = dev.store.load_group(conv["group_id"])
    return sorted({split_identity(mb.identity)[0] for mb in dev.engine.members(state)
                   if f"{split_identity(mb.identity)[0]}|{b64e(mb.signature_key)}" in bad})


def unlogged_keys(dev: DeviceCore, account: str) -> set[bytes]:
    """``account``'s keys this device took as not transparency-checked (its provider
    offers no log): the ones it saw first, against which a later add is gated."""
    prefix = account + "|"
    return {b64d(t[len(prefix):]) for t in dev.store.get_json("kt:unlogged", [])
            if t.startswith(prefix)}


def unlogged_members(dev: DeviceCore, conv: dict[str, Any]) -> list[str]:
    """Accounts of ``conv`` with a leaf key taken as not transparency-checked: their
    provider offers no key transparency (a plain MIMI peer, ``device_kt.take_unlogged``).
    Their devices are unverified as far as any log goes; a safety number compared out of
    band is the only check left, and the key-change gate applies to it as to anyone."""
    taken = set(dev.store.get_json("kt:unlogged", []))
    if not taken:
        return []
    state = dev.store.load_group(conv["group_id"])
    return sorted({split_identity(mb.identity)[0] for mb in dev.engine.members(state)
                   if f"{split_identity(mb.identity)[0]}|{b64e(mb.signature_key)}" in taken})


def check_before_send(dev: DeviceCore, conv: dict[str, Any], now: int, *,
                      confirmed: bool | Collection[str]) -> None:
    """Raise :class:`KeyChangeUnconfirmed` if a verified contact here changed keys, or a
    member's key is not in its transparency log (T06), unless ``confirmed``.

    ``confirmed``: the person accepted, for every account (True) or for these accounts
    (what they were shown); the verifications of changed contacts are cleared.
    ``accord.client.messaging.send_body`` calls this before every encryption.
    """
    def accepted(accounts: list[str]) -> bool:
        return confirmed is True or (not isinstance(confirmed, bool)
                                     and set(accounts) <= set(confirmed))

    # Every send asks again: a key missing from its log stays suspect until it is gone.
    unproven = unproven_members(dev, conv)
    if unproven and not accepted(unproven):
        raise KeyChangeUnconfirmed(
            "a key of " + ", ".join(unproven) + " in this conversation is not in its "
            "provider's transparency log; confirm to send anyway", "T06", unproven)
    if unproven:
        dev.store.add_event(conv["conv_id"], now, "security",
                            {"what": "sending despite keys missing from the log",
                             "accounts": unproven})
    changed = changed_contacts(dev, conv, now)
    if not changed:
        return
    if not accepted(changed):
        raise KeyChangeUnconfirmed(
            "the keys of verified contact(s) " + ", ".join(changed) + " changed; compare the "
            "safety number again, or confirm to send anyway", "issue 7 safety numbers", changed)
    for account in changed:
        unverify(dev, account)
        dev.store.add_event(conv["conv_id"], now, "security",
                            {"account": account, "what": "key change accepted; unverified"})
