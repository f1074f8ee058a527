"""Sealing and opening the two layers of a Welcome (RFC 9420 12.4.3.1).

A Welcome carries, per new member, the GroupSecrets HPKE-encrypted to the
member's KeyPackage ``init_key`` (EncryptWithLabel "Welcome", with the
encrypted GroupInfo as context), and once for all of them the GroupInfo
AEAD-encrypted under a key and nonce derived from ``welcome_secret``. This
module does only that cryptography, so that the official welcome vectors
and the joining code share it; building a group state from the result is
``accord.mls.group.welcome``'s job.
"""

from __future__ import annotations

from collections.abc import Sequence

from accord.errors import CryptoError, ValidationError
from accord.mls.codec import decode
from accord.mls.key_schedule import welcome_key_nonce
from accord.mls.structs import (
    EncryptedGroupSecrets,
    GroupInfo,
    GroupSecrets,
    HPKECiphertext,
    KeyPackage,
    Welcome,
)
from accord.mls.suites import CipherSuite

__all__ = [
    "GROUP_INFO_LABEL",
    "WELCOME_LABEL",
    "open_group_info",
    "open_group_secrets",
    "seal_group_info",
    "seal_group_secrets",
    "seal_group_secrets_many",
    "sign_group_info",
    "verify_group_info",
    "welcome_secret_of",
]

WELCOME_LABEL = b"Welcome"
GROUP_INFO_LABEL = b"GroupInfoTBS"


def welcome_secret_of(suite: CipherSuite, joiner_secret: bytes, psk_secret: bytes | None) -> bytes:
    """welcome_secret = DeriveSecret(Extract(joiner_secret, psk_secret), "welcome") (8).

    A joiner needs it before it can read the GroupContext, so it cannot use
    the key schedule's one-shot derivation, which needs the context too.
    """
    psk = psk_secret if psk_secret is not None else bytes(suite.kdf_len)
    return suite.derive_secret(suite.kdf_extract(joiner_secret, psk), "welcome")


def seal_group_info(suite: CipherSuite, welcome_secret: bytes, group_info: GroupInfo) -> bytes:
    key, nonce = welcome_key_nonce(suite, welcome_secret)
    return suite.aead_encrypt(key, nonce, b"", group_info.to_bytes())


def open_group_info(suite: CipherSuite, welcome_secret: bytes, encrypted: bytes) -> GroupInfo:
    """Decrypt and decode the GroupInfo; raises CryptoError or DecodeError."""
    key, nonce = welcome_key_nonce(suite, welcome_secret)
    plain = suite.aead_decrypt(key, nonce, b"", encrypted)
    info: GroupInfo = decode(GroupInfo, plain)
    return info


def seal_group_secrets(
    suite: CipherSuite,
    key_package: KeyPackage,
    encrypted_group_info: bytes,
    secrets: GroupSecrets,
) -> EncryptedGroupSecrets:
    """EncryptedGroupSecrets for one new member (12.4.3.1)."""
    kem_output, ciphertext = suite.encrypt_with_label(
        key_package.init_key,
        WELCOME_LABEL,
        encrypted_group_info,
        secrets.to_bytes(),
    )
    ref = suite.key_package_ref(key_package.to_bytes())
    return EncryptedGroupSecrets(ref, HPKECiphertext(kem_output, ciphertext))


def seal_group_secrets_many(
    suite: CipherSuite,
    key_packages: Sequence[KeyPackage],
    encrypted_group_info: bytes,
    secrets: Sequence[bytes],
) -> list[EncryptedGroupSecrets]:
    """EncryptedGroupSecrets for many new members at once: the HPKE context
    (the encrypted GroupInfo, which may hold the whole tree) is hashed once.
    ``secrets`` are the encoded GroupSecrets, one per KeyPackage."""
    sealed = suite.encrypt_with_label_many(
        [kp.init_key for kp in key_packages], WELCOME_LABEL, encrypted_group_info, secrets
    )
    return [
        EncryptedGroupSecrets(
            suite.key_package_ref(kp.to_bytes()),
            HPKECiphertext(kem_output, ciphertext),
        )
        for kp, (kem_output, ciphertext) in zip(key_packages, sealed, strict=True)
    ]


def open_group_secrets(
    suite: CipherSuite, welcome: Welcome, key_package_ref: bytes, init_priv: bytes
) -> GroupSecrets:
    """Find the entry for ``key_package_ref`` and decrypt its GroupSecrets (12.4.3.1)."""
    entry = _entry_for(welcome.secrets, key_package_ref)
    ct = entry.encrypted_group_secrets
    plain = suite.decrypt_with_label(
        init_priv, WELCOME_LABEL, welcome.encrypted_group_info, ct.kem_output, ct.ciphertext
    )
    secrets: GroupSecrets = decode(GroupSecrets, plain)
    if len(secrets.joiner_secret) != suite.kdf_len:
        raise ValidationError("joiner_secret is not KDF.Nh bytes", "RFC 9420 8")
    return secrets


def _entry_for(
    secrets: Sequence[EncryptedGroupSecrets], key_package_ref: bytes
) -> EncryptedGroupSecrets:
    for entry in secrets:
        if entry.new_member == key_package_ref:
            return entry
    raise ValidationError("the Welcome has no entry for this KeyPackage", "RFC 9420 12.4.3.1")


def sign_group_info(suite: CipherSuite, signature_priv: bytes, info: GroupInfo) -> GroupInfo:
    """``info`` with its signature over GroupInfoTBS (12.4.3)."""
    unsigned = GroupInfo(info.group_context, info.extensions, info.confirmation_tag, info.signer, b"")
    signature = suite.sign_with_label(signature_priv, GROUP_INFO_LABEL, unsigned.tbs())
    return GroupInfo(info.group_context, info.extensions, info.confirmation_tag, info.signer, signature)


def verify_group_info(suite: CipherSuite, info: GroupInfo, signer_pub: bytes) -> None:
    """Raise CryptoError unless the GroupInfo signature verifies under ``signer_pub``."""
    try:
        suite.verify_with_label(signer_pub, GROUP_INFO_LABEL, info.tbs(), info.signature)
    except CryptoError:
        raise CryptoError("GroupInfo signature does not verify (RFC 9420 12.4.3)") from None
