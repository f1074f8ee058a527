"""The byte strings devices sign for the provider, each under its own label.

Labels start with ``accord/v1/`` and never with MLS's ``"MLS 1.0 "``
(RFC 9420 5.1.2), so a signature made for the provider can never pass as
an MLS signature under the same key, nor one provider signature as another.
Every field is length-prefixed (4 bytes, big-endian) so that no two
different inputs encode the same.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from accord.errors import CryptoError

REGISTER = b"accord/v1/register"
LOGIN = b"accord/v1/login"
ADD_DEVICE = b"accord/v1/add-device"
POSSESSION = b"accord/v1/possession"
POST = b"accord/v1/post"
SUCCESSION = b"accord/v1/succession"


def _join(label: bytes, *parts: bytes) -> bytes:
    out = bytearray(label)
    for part in parts:
        out += len(part).to_bytes(4, "big") + part
    return bytes(out)


def register_input(account: str, signature_key: bytes) -> bytes:
    return _join(REGISTER, account.encode(), signature_key)


def login_input(domain: str, device_id: str, nonce: bytes) -> bytes:
    return _join(LOGIN, domain.encode(), device_id.encode(), nonce)


def add_device_input(account: str, new_key: bytes) -> bytes:
    """Signed by an existing device of ``account`` to certify ``new_key``."""
    return _join(ADD_DEVICE, account.encode(), new_key)


def possession_input(account: str, new_key: bytes) -> bytes:
    """Signed by ``new_key`` itself: proof that the new device holds the private key."""
    return _join(POSSESSION, account.encode(), new_key)


def succession_input(account: str, predecessor: bytes, successor: bytes) -> bytes:
    """Signed by ``predecessor`` to name ``successor`` the device that takes its place
    (a restore from backup): published in key transparency, so that whoever trusted
    the predecessor can trust its successor without a new comparison (issue 19)."""
    return _join(SUCCESSION, account.encode(), predecessor, successor)


def post_input(group_id: bytes, epoch: int, nonce: bytes, ciphertext: bytes) -> bytes:
    return _join(POST, group_id, epoch.to_bytes(8, "big"), nonce, ciphertext)


def verify(public_key: bytes, signature: bytes, message: bytes) -> None:
    """Check an Ed25519 signature; raise :class:`CryptoError` when it does not verify."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError) as exc:
        raise CryptoError("signature does not verify") from exc
