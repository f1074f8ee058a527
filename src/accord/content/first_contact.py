"""The sealed first-contact request (issue 18, THREATS.md T14).

A stranger's invitation waits unparsed until the person accepts it
(``accord.client.invites``). What the person sees before that comes from this
small request, not from the MLS Welcome: who invites (the sender's device
credential identity and signature key), to which group, and a bounded
plain-text preview (the first message, one line of at most
``MAX_PREVIEW_CHARS`` characters).

- Published key: each device keeps one HPKE key pair for first contact and
  puts the public key into every KeyPackage it uploads, as the KeyPackage
  extension ``REQUEST_KEY_EXTENSION`` (RFC 9420 13.3 private-use range). The
  KeyPackage signature (by the device's credential key) covers it, and it
  travels across providers exactly as the KeyPackage does (claims).
- Sealing: the sender signs ``FirstContactTBS`` with its device signature key
  (``SignWithLabel``, label ``SIGN_LABEL``), binding the preview to the
  recipient device, the group and the exact Welcome bytes, then seals the
  signed request to the recipient's key with HPKE (the X-Wing KEM of suite
  0x0053, post-quantum like new conversations, T10). The provider carries
  ciphertext only.
- Opening (:func:`open_request`) and checking (:func:`check`) raise
  :class:`FirstContactRefused` with a ``reason`` (``REASONS``), never
  anything else: garbage, a request for another device, group or Welcome,
  another sender than the provider listed, a forged signature and an
  oversize preview. Whether the signature key is the sender account's is
  key transparency's answer, asked by the client.

Pure functions: no clock, no randomness beyond HPKE's own, no I/O.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from accord.bounded import BoundedBytes, BoundedText, no_controls
from accord.errors import AccordError, CryptoError, DecodeError, ValidationError
from accord.mls.codec import U64, Fixed, decode, encode, wire
from accord.mls.suites import get_suite

__all__ = [
    "MAX_PREVIEW_CHARS",
    "REASONS",
    "REQUEST_KEY_EXTENSION",
    "FirstContactRefused",
    "FirstContactTBS",
    "check",
    "new_request_key",
    "open_request",
    "preview_of",
    "seal",
]

REQUEST_KEY_EXTENSION = 0xF0A1  # KeyPackage extension: the device's first-contact key
SUITE = 0x0053  # X-Wing KEM, HKDF-SHA512, AES-256-GCM; Ed25519 signatures
MAX_PREVIEW_CHARS = 200
MAX_PREVIEW_BYTES = 4 * MAX_PREVIEW_CHARS
MAX_OPENED_BYTES = 2048  # the signed request, bounded before it is decoded
MAX_IDENTITY = 400  # account/device_id (318 + 1 + 22), with room
SIGN_LABEL = "AccordFirstContact"
HPKE_INFO = b"accord first contact v1"
RULE = "Accord: first contact (T14)"
REASONS = ("malformed", "undecryptable", "oversize", "wrong_recipient", "wrong_group",
           "wrong_sender", "bad_signature", "key_not_in_log")


class FirstContactRefused(ValidationError):
    """A sealed first-contact request that is dropped; ``reason`` is one of ``REASONS``."""

    def __init__(self, reason: str, message: str) -> None:
        assert reason in REASONS
        super().__init__(message, RULE)
        self.reason = reason


@wire
class FirstContactTBS:
    sender: BoundedBytes(MAX_IDENTITY, 1)  # type: ignore[valid-type]  # account/device
    signature_key: BoundedBytes(64, 32)  # type: ignore[valid-type]
    recipient: BoundedBytes(MAX_IDENTITY, 1)  # type: ignore[valid-type]
    group_id: BoundedBytes(255, 1)  # type: ignore[valid-type]
    welcome_hash: Annotated[bytes, Fixed(32)]  # SHA-256 of the Welcome as queued
    sent_at: U64
    # Bounded by the whole request here; MAX_PREVIEW_CHARS is checked after decoding,
    # so an oversize preview is told apart from garbage.
    preview: BoundedText(MAX_OPENED_BYTES)  # type: ignore[valid-type]


@wire
class SignedFirstContact:
    tbs: FirstContactTBS
    signature: BoundedBytes(128, 1)  # type: ignore[valid-type]


@wire
class SealedRequest:
    kem_output: BoundedBytes(2048, 1)  # type: ignore[valid-type]
    ciphertext: BoundedBytes(MAX_OPENED_BYTES + 16, 1)  # type: ignore[valid-type]


def new_request_key() -> tuple[bytes, bytes]:
    """A fresh first-contact HPKE key pair ``(private, public)``."""
    return get_suite(SUITE).generate_hpke_key_pair()


def welcome_hash(welcome: bytes) -> bytes:
    return hashlib.sha256(welcome).digest()


def preview_of(text: str) -> str:
    """The sender's preview of a first message: one line, without control characters,
    cut to ``MAX_PREVIEW_CHARS``."""
    line = "".join(ch for ch in " ".join(text.split()) if no_controls(ch))
    return line[:MAX_PREVIEW_CHARS]


def seal(*, sender: bytes, signature_priv: bytes, recipient: bytes, request_key: bytes,
         group_id: bytes, welcome: bytes, sent_at: int, preview: str) -> bytes:
    """The sealed, signed first-contact request for one recipient device."""
    suite = get_suite(SUITE)
    tbs = FirstContactTBS(sender, suite.signature_public_key(signature_priv), recipient,
                          group_id, welcome_hash(welcome), sent_at, preview)
    body = encode(FirstContactTBS, tbs)
    signed = SignedFirstContact(tbs, suite.sign_with_label(signature_priv, SIGN_LABEL, body))
    kem_output, ciphertext = suite.hpke_seal(request_key, HPKE_INFO, b"",
                                             encode(SignedFirstContact, signed))
    return encode(SealedRequest, SealedRequest(kem_output, ciphertext))


def open_request(sealed: bytes, request_priv: bytes) -> SignedFirstContact:
    """Decrypt and decode a sealed request; :class:`FirstContactRefused` otherwise."""
    try:
        outer = decode(SealedRequest, sealed)
    except (DecodeError, ValidationError) as exc:
        raise FirstContactRefused("malformed", f"not a sealed request: {exc}") from None
    try:
        plain = get_suite(SUITE).hpke_open(request_priv, outer.kem_output, HPKE_INFO, b"",
                                           outer.ciphertext)
    except (CryptoError, ValueError) as exc:
        raise FirstContactRefused("undecryptable", f"the request does not open: {exc}") from None
    if len(plain) > MAX_OPENED_BYTES:
        raise FirstContactRefused("oversize", "the request is larger than allowed")
    try:
        signed: SignedFirstContact = decode(SignedFirstContact, plain)
    except (DecodeError, ValidationError) as exc:
        raise FirstContactRefused("malformed", f"not a signed request: {exc}") from None
    return signed


def check(signed: SignedFirstContact, *, recipient: bytes, group_id: bytes, welcome: bytes,
          sender_account: str) -> FirstContactTBS:
    """The request's fields, if it is for ``recipient`` and this group and Welcome, from
    ``sender_account`` (the provider's listed inviter), signed by the key it names and
    with a preview within bounds."""
    tbs = signed.tbs
    if len(tbs.preview) > MAX_PREVIEW_CHARS or len(tbs.preview.encode()) > MAX_PREVIEW_BYTES \
            or not no_controls(tbs.preview):
        raise FirstContactRefused("oversize", f"the preview is not one line of at most"
                                  f" {MAX_PREVIEW_CHARS} characters")
    if tbs.recipient != recipient:
        raise FirstContactRefused("wrong_recipient", "the request is for another device")
    if tbs.group_id != group_id or tbs.welcome_hash != welcome_hash(welcome):
        raise FirstContactRefused("wrong_group", "the request is for another invitation")
    account = tbs.sender.decode("utf-8", "replace").rsplit("/", 1)[0]
    if account != sender_account:
        raise FirstContactRefused("wrong_sender", "the request names another sender than"
                                  " the provider's list")
    try:
        get_suite(SUITE).verify_with_label(tbs.signature_key, SIGN_LABEL,
                                           encode(FirstContactTBS, tbs), signed.signature)
    except (AccordError, ValueError) as exc:
        raise FirstContactRefused("bad_signature", f"the signature does not verify: {exc}"
                                  ) from None
    return tbs
