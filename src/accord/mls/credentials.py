"""Credential validation (RFC 9420 5.3, 5.3.1): the interface the application provides.

MLS authenticates a member by its credential, but what makes a credential
acceptable (which identities, which trust anchors) is the application's
policy. The MLS code calls a ``CredentialValidator``; this module has the
two real ones and a dispatcher:

    BasicCredentials()                      # accepts basic credentials (identity non-empty)
    X509Credentials(trust_anchors, suite)   # chain to an anchor, leaf key == signature_key
    Credentials({1: BasicCredentials(), 2: X509Credentials(...)})  # by credential_type

``validate(credential, signature_key, now)`` raises ``ValidationError`` (rule
"RFC 9420 5.3.1"); ``now`` is seconds since the Unix epoch, given by the
caller (never read from a clock); ``None`` skips time checks where allowed.
Binding a credential to a user identity (user@provider) is the client's job.

``check_successor(old, new)`` is the other half of 5.3.1: a member that
replaces its credential (an Update, or the leaf of its commit's UpdatePath)
must present the same identifiers as before, so no member can take another
member's (or a stranger's) identity by updating its own leaf.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519

# pyca's X.509 modules (~25 ms to import) load with the first X.509 credential:
# Accord's own groups use basic credentials, and every CLI command is a new process.
if TYPE_CHECKING:
    from cryptography import x509

from accord.errors import ValidationError
from accord.mls.structs.credential import Credential

__all__ = [
    "BasicCredentials",
    "CredentialValidator",
    "Credentials",
    "X509Credentials",
    "check_successor",
    "presented_identifiers",
]

RULE = "RFC 9420 5.3.1"


class CredentialValidator(Protocol):
    def validate(self, credential: Credential, signature_key: bytes, now: int | None) -> None: ...


class BasicCredentials:
    """Basic credentials (5.3): the identity is an opaque string the
    application authenticates elsewhere; here it must only be non-empty."""

    def validate(self, credential: Credential, signature_key: bytes, now: int | None) -> None:
        if credential.credential_type != 1:
            raise ValidationError(
                f"credential type {credential.credential_type} is not accepted", RULE
            )
        if not credential.identity:
            raise ValidationError("basic credential with an empty identity", RULE)


def presented_identifiers(credential: Credential) -> tuple[int, frozenset[str]]:
    """The identifiers a credential presents (5.3.1): its type and, for basic
    credentials, the identity; for X.509, the leaf certificate's subject and
    subjectAltName entries (the key and validity may change, the names not)."""
    if credential.credential_type == 1:
        return 1, frozenset({(credential.identity or b"").hex()})
    if not credential.certificates:
        raise ValidationError("not an X.509 credential with a certificate chain", RULE)
    from cryptography import x509

    try:
        leaf = x509.load_der_x509_certificate(credential.certificates[0].cert_data)
    except ValueError as e:
        raise ValidationError(f"malformed certificate: {e}", RULE) from None
    names = {"subject:" + leaf.subject.public_bytes().hex()}
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = x509.SubjectAlternativeName([])
    for n in san:
        value = n.value.public_bytes().hex() if isinstance(n.value, x509.Name) else n.value
        names.add(f"{type(n).__name__}:{value!r}")
    return 2, frozenset(names)


def check_successor(old: Credential, new: Credential) -> None:
    """Refuse a replacement credential that presents other identifiers (5.3.1).

    Accord's policy (the RFC leaves it to the application): the successor
    presents exactly the same identifiers, so an Update or a commit's path
    can change a member's keys and certificate but never who it is. A new
    identity joins as a new member (Add), which every member sees.
    """
    if old == new:
        return
    if presented_identifiers(old) != presented_identifiers(new):
        raise ValidationError("a member's new credential presents another identity", RULE)


class Credentials:
    """Dispatch on ``credential_type``; types without a validator are rejected."""

    def __init__(self, by_type: Mapping[int, CredentialValidator]) -> None:
        self._by_type = dict(by_type)

    def validate(self, credential: Credential, signature_key: bytes, now: int | None) -> None:
        v = self._by_type.get(credential.credential_type)
        if v is None:
            raise ValidationError(
                f"credential type {credential.credential_type} is not accepted", RULE
            )
        v.validate(credential, signature_key, now)


def _public_key_bytes(key: object) -> bytes:
    """A certificate key in the encoding MLS uses for signature keys (5.1.1)."""
    if isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    raise ValidationError(
        f"certificate key type {type(key).__name__} is not an MLS signature key", RULE
    )


class X509Credentials:
    """X.509 credentials (5.3): the chain (leaf first) must verify to one of
    ``trust_anchors`` at time ``now`` (pyca's path validation), and the leaf
    certificate's public key must be the LeafNode's ``signature_key`` (5.3.1).
    The end-entity certificate may carry any extensions (MLS certificates are
    not TLS certificates); CA certificates follow the Web PKI profile."""

    def __init__(self, trust_anchors: Sequence[x509.Certificate], max_chain_depth: int = 8) -> None:
        from cryptography.x509 import verification

        if not trust_anchors:
            raise ValueError("X509Credentials needs at least one trust anchor")
        self._anchors = list(trust_anchors)
        self._store = verification.Store(self._anchors)
        self._depth = max_chain_depth

    def validate(self, credential: Credential, signature_key: bytes, now: int | None) -> None:
        if credential.credential_type != 2 or not credential.certificates:
            raise ValidationError("not an X.509 credential with a certificate chain", RULE)
        if now is None:
            raise ValidationError("X.509 validation needs the current time", RULE)
        from cryptography import x509

        try:
            chain = [x509.load_der_x509_certificate(c.cert_data) for c in credential.certificates]
        except ValueError as e:
            raise ValidationError(f"malformed certificate: {e}", RULE) from None
        when = datetime.datetime.fromtimestamp(now, tz=datetime.UTC)
        if any(_is_eddsa(c) for c in chain):
            self._verify_eddsa_chain(chain, when)
        else:
            self._verify_webpki_chain(chain, when)
        if _public_key_bytes(chain[0].public_key()) != signature_key:
            raise ValidationError("certificate key is not the leaf's signature_key", RULE)

    def _verify_webpki_chain(self, chain: list[x509.Certificate], when: datetime.datetime) -> None:
        from cryptography.x509 import verification

        verifier = (
            verification.PolicyBuilder()
            .store(self._store)
            .time(when)
            .max_chain_depth(self._depth)
            .extension_policies(
                ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
                ee_policy=verification.ExtensionPolicy.permit_all(),
            )
            .build_client_verifier()
        )
        try:
            verifier.verify(chain[0], chain[1:])
        except verification.VerificationError as e:
            raise ValidationError(f"certificate chain does not verify: {e}", RULE) from None

    def _verify_eddsa_chain(self, chain: list[x509.Certificate], when: datetime.datetime) -> None:
        """Path validation for Ed25519/Ed448 chains, which pyca's Web PKI
        policy refuses although MLS suites 1, 3, 4 and 6 sign with them: each
        certificate is in its validity period and directly issued by the next
        one (or by an anchor), and every issuer is a CA (RFC 5280 6.1, reduced
        to what a chain given in order needs)."""
        if len(chain) > self._depth:
            raise ValidationError("certificate chain is too long", RULE)
        for i, cert in enumerate(chain):
            if not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
                raise ValidationError(f"certificate {i} is outside its validity period", RULE)
            if i > 0:
                _require_ca(cert, i)
        for cert, issuer in zip(chain, chain[1:], strict=False):
            _check_issued(cert, issuer)
        top = chain[-1]
        for anchor in self._anchors:
            if anchor == top:
                return
            if anchor.subject == top.issuer:
                if not anchor.not_valid_before_utc <= when <= anchor.not_valid_after_utc:
                    continue
                try:
                    _require_ca(anchor, len(chain))
                    _check_issued(top, anchor)
                except ValidationError:
                    continue
                return
        raise ValidationError("certificate chain does not end at a trust anchor", RULE)


def _is_eddsa(cert: x509.Certificate) -> bool:
    return isinstance(cert.public_key(), (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)) or (
        cert.signature_hash_algorithm is None
    )


def _require_ca(cert: x509.Certificate, i: int) -> None:
    from cryptography import x509

    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        raise ValidationError(f"issuer certificate {i} has no basicConstraints", RULE) from None
    if not bc.ca:
        raise ValidationError(f"issuer certificate {i} is not a CA", RULE)


def _check_issued(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature) as e:
        raise ValidationError(f"certificate not issued by the next one: {e}", RULE) from None
