"""The epoch key schedule: RFC 9420 section 8 (8.5 exporters, 8.7 authenticators).

Pure functions over explicit values. The GroupContext comes in already
serialized, so this module needs no wire structures; the caller encodes
``accord.mls.structs.GroupContext`` once per epoch and passes the bytes.

The intermediate ``epoch_secret`` is consumed by deriving the epoch's
secrets and is never returned (9.2); ``joiner_secret`` and ``welcome_secret``
are kept in ``EpochSecrets`` because a committer needs them for the Welcome,
and the caller drops them once it is sent.
"""

from __future__ import annotations

from accord.errors import ValidationError
from accord.mls.codec import U16, wire
from accord.mls.suites import CipherSuite, get_suite

__all__ = [
    "EpochSecrets",
    "derive_epoch",
    "epoch_from_joiner",
    "epoch_secret",
    "external_init_receive",
    "external_init_send",
    "external_key_pair",
    "joiner_secret",
    "mls_exporter",
    "welcome_key_nonce",
]


@wire
class EpochSecrets:
    """Every secret one epoch derives (8, table "Epoch-Derived Secrets").

    A ``@wire`` value so a group state can store it with ``to_bytes`` /
    ``from_bytes``; ``repr`` never shows the secrets.
    """

    cipher_suite: U16
    joiner_secret: bytes
    welcome_secret: bytes
    sender_data_secret: bytes
    encryption_secret: bytes
    exporter_secret: bytes
    external_secret: bytes
    confirmation_key: bytes
    membership_key: bytes
    resumption_psk: bytes
    epoch_authenticator: bytes
    init_secret: bytes  # init_secret_[n], the input of the next epoch

    def __repr__(self) -> str:
        return f"EpochSecrets(cipher_suite={self.cipher_suite}, <secrets hidden>)"

    def exporter(self, label: str, context: bytes, length: int) -> bytes:
        """MLS-Exporter(label, context, length) of this epoch (8.5)."""
        return mls_exporter(
            get_suite(self.cipher_suite), self.exporter_secret, label, context, length
        )

    def external_key_pair(self) -> tuple[bytes, bytes]:
        """(external_priv, external_pub) = KEM.DeriveKeyPair(external_secret) (8)."""
        return external_key_pair(get_suite(self.cipher_suite), self.external_secret)

    def external_pub(self) -> bytes:
        """The public key a GroupInfo's external_pub extension carries (8, 12.4.3.2)."""
        return self.external_key_pair()[1]


def _check_len(suite: CipherSuite, name: str, value: bytes) -> None:
    if len(value) != suite.kdf_len:
        raise ValidationError(f"{name} must be KDF.Nh = {suite.kdf_len} bytes", "RFC 9420 8")


def joiner_secret(
    suite: CipherSuite, init_secret: bytes, commit_secret: bytes, group_context: bytes
) -> bytes:
    """ExpandWithLabel(Extract(init_secret, commit_secret), "joiner", GroupContext, Nh) (8)."""
    _check_len(suite, "init_secret", init_secret)
    _check_len(suite, "commit_secret", commit_secret)
    extracted = suite.kdf_extract(init_secret, commit_secret)
    return suite.expand_with_label(extracted, "joiner", group_context, suite.kdf_len)


def _member_secret(suite: CipherSuite, joiner: bytes, psk_secret: bytes | None) -> bytes:
    # KDF.Extract(salt=joiner_secret, ikm=psk_secret or 0): the unnamed box of the diagram.
    _check_len(suite, "joiner_secret", joiner)
    if psk_secret is None:
        psk_secret = bytes(suite.kdf_len)
    _check_len(suite, "psk_secret", psk_secret)
    return suite.kdf_extract(joiner, psk_secret)


def epoch_secret(
    suite: CipherSuite, joiner: bytes, psk_secret: bytes | None, group_context: bytes
) -> bytes:
    """ExpandWithLabel(Extract(joiner_secret, psk_secret), "epoch", GroupContext, Nh) (8).

    Only for inspection: ``epoch_from_joiner`` derives and drops it itself.
    """
    member = _member_secret(suite, joiner, psk_secret)
    return suite.expand_with_label(member, "epoch", group_context, suite.kdf_len)


def epoch_from_joiner(
    suite: CipherSuite, joiner: bytes, psk_secret: bytes | None, group_context: bytes
) -> EpochSecrets:
    """All epoch secrets from ``joiner_secret``: the path of a Welcome joiner (8, 12.4.3.1).

    ``psk_secret`` is None when no PSK is injected, which means the all-zero
    vector of length Nh (8.4).
    """
    member = _member_secret(suite, joiner, psk_secret)
    welcome = suite.derive_secret(member, "welcome")
    epoch = suite.expand_with_label(member, "epoch", group_context, suite.kdf_len)
    ds = suite.derive_secret
    return EpochSecrets(
        suite.id,
        joiner,
        welcome,
        ds(epoch, "sender data"),
        ds(epoch, "encryption"),
        ds(epoch, "exporter"),
        ds(epoch, "external"),
        ds(epoch, "confirm"),
        ds(epoch, "membership"),
        ds(epoch, "resumption"),
        ds(epoch, "authentication"),
        ds(epoch, "init"),
    )


def derive_epoch(
    suite: CipherSuite,
    init_secret: bytes,
    commit_secret: bytes,
    psk_secret: bytes | None,
    group_context: bytes,
) -> EpochSecrets:
    """All secrets of epoch n from init_secret_[n-1], the commit and GroupContext_[n] (8).

    ``commit_secret`` is the all-zero vector when the Commit has no path
    (12.4.1); the caller passes it explicitly.
    """
    joiner = joiner_secret(suite, init_secret, commit_secret, group_context)
    return epoch_from_joiner(suite, joiner, psk_secret, group_context)


def mls_exporter(
    suite: CipherSuite, exporter_secret: bytes, label: str, context: bytes, length: int
) -> bytes:
    """ExpandWithLabel(DeriveSecret(exporter_secret, label), "exported", Hash(context), length).

    RFC 9420 8.5.
    """
    if not 0 <= length < 1 << 16:
        raise ValidationError("exporter length must fit in uint16", "RFC 9420 8.5")
    secret = suite.derive_secret(exporter_secret, label)
    return suite.expand_with_label(secret, "exported", suite.hash(context), length)


def external_key_pair(suite: CipherSuite, external_secret: bytes) -> tuple[bytes, bytes]:
    """(external_priv, external_pub) = KEM.DeriveKeyPair(external_secret) (8)."""
    return suite.derive_hpke_key_pair(external_secret)


_EXTERNAL_INIT_LABEL = b"MLS 1.0 external init secret"


def external_init_send(suite: CipherSuite, external_pub: bytes) -> tuple[bytes, bytes]:
    """A joiner's ``(kem_output, init_secret)`` for an external commit (8.3)."""
    return suite.hpke_setup_base_s_export(external_pub, b"", _EXTERNAL_INIT_LABEL, suite.kdf_len)


def external_init_receive(suite: CipherSuite, external_priv: bytes, kem_output: bytes) -> bytes:
    """The group's ``init_secret`` from an ExternalInit proposal's ``kem_output`` (8.3)."""
    return suite.hpke_setup_base_r_export(
        external_priv, kem_output, b"", _EXTERNAL_INIT_LABEL, suite.kdf_len
    )


def welcome_key_nonce(suite: CipherSuite, welcome_secret: bytes) -> tuple[bytes, bytes]:
    """(welcome_key, welcome_nonce) that encrypt a Welcome's GroupInfo (12.4.3.1)."""
    return (
        suite.expand_with_label(welcome_secret, "key", b"", suite.aead_key_len),
        suite.expand_with_label(welcome_secret, "nonce", b"", suite.aead_nonce_len),
    )
