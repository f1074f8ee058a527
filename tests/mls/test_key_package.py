"""KeyPackages, LeafNode rules, GREASE and credentials (RFC 9420 5.3, 7.3, 10, 13.5)."""

from __future__ import annotations

import dataclasses
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from accord.errors import ValidationError
from accord.mls.credentials import BasicCredentials, Credentials, X509Credentials
from accord.mls.key_package import create_key_package, key_package_ref, validate_key_package
from accord.mls.leaf_node import GroupRules, sign_leaf_node
from accord.mls.structs.credential import Credential, RequiredCapabilities
from accord.mls.structs.enums import is_grease
from accord.mls.structs.group_context import KeyPackage
from accord.mls.structs.tree_nodes import Lifetime
from accord.mls.suites import get_suite

SUITE = get_suite(1)
NOW = 1_700_000_000
LIFETIME = Lifetime(NOW - 100, NOW + 86_400)
BASIC = BasicCredentials()


def _kp(suite_id: int = 1, **kw: object) -> tuple[KeyPackage, bytes]:
    suite = get_suite(suite_id)
    sig_priv, _ = suite.generate_signature_key_pair()
    kp, _ = create_key_package(suite, sig_priv, Credential.basic(b"alice"), LIFETIME, **kw)  # type: ignore[arg-type]
    return kp, sig_priv


@pytest.mark.parametrize("suite_id", range(1, 8))
def test_created_key_packages_validate_and_round_trip(suite_id: int) -> None:
    kp, _ = _kp(suite_id)
    validate_key_package(kp, now=NOW, credential_validator=BASIC)
    again = KeyPackage.from_bytes(kp.to_bytes())  # type: ignore[attr-defined]
    assert again == kp
    validate_key_package(again, now=NOW, credential_validator=BASIC)
    assert len(key_package_ref(kp)) == get_suite(suite_id).hash_len


def test_grease_is_emitted_everywhere_13_5_allows() -> None:
    kp, _ = _kp()
    caps = kp.leaf_node.capabilities
    for values in (caps.cipher_suites, caps.extensions, caps.proposals, caps.credentials):
        assert any(is_grease(v) for v in values)
    assert not any(is_grease(v) for v in caps.versions)
    assert any(is_grease(e.extension_type) for e in kp.leaf_node.extensions)
    assert any(is_grease(e.extension_type) for e in kp.extensions)
    plain, _ = _kp(grease=False)
    assert not any(is_grease(v) for v in plain.leaf_node.capabilities.cipher_suites)


def test_tampered_key_package_is_rejected() -> None:
    kp, _ = _kp()
    bad = dataclasses.replace(kp, init_key=kp.init_key[:-1] + bytes([kp.init_key[-1] ^ 1]))
    with pytest.raises(ValidationError, match="KeyPackage signature"):
        validate_key_package(bad, now=NOW, credential_validator=BASIC)
    leaf = dataclasses.replace(kp.leaf_node, signature=b"\x00" * 64)
    with pytest.raises(ValidationError, match="leaf"):
        validate_key_package(
            dataclasses.replace(kp, leaf_node=leaf), now=NOW, credential_validator=BASIC
        )


def test_init_key_equal_to_encryption_key_is_rejected() -> None:
    kp, sig_priv = _kp()
    same = dataclasses.replace(kp, init_key=kp.leaf_node.encryption_key)
    same = dataclasses.replace(
        same, signature=SUITE.sign_with_label(sig_priv, "KeyPackageTBS", same.tbs())
    )
    with pytest.raises(ValidationError, match="init_key"):
        validate_key_package(same, now=NOW, credential_validator=BASIC)


def test_lifetime_suite_source_and_required_capabilities() -> None:
    kp, sig_priv = _kp()
    with pytest.raises(ValidationError, match="lifetime"):
        validate_key_package(kp, now=NOW + 10 * 86_400, credential_validator=BASIC)
    with pytest.raises(ValidationError, match="cipher suite"):
        validate_key_package(
            kp, now=NOW, credential_validator=BASIC, rules=GroupRules(cipher_suite=2)
        )
    rules = GroupRules(cipher_suite=1, required=RequiredCapabilities((0x0F00,), (), ()))
    with pytest.raises(ValidationError, match="extension"):
        validate_key_package(kp, now=NOW, credential_validator=BASIC, rules=rules)
    rules = GroupRules(cipher_suite=1, credential_types=frozenset({2}))
    with pytest.raises(ValidationError, match="credential"):
        validate_key_package(kp, now=NOW, credential_validator=BASIC, rules=rules)
    # A credential type some member does not support (7.3).
    rules = GroupRules(cipher_suite=1, supported_by_all=frozenset({2}))
    with pytest.raises(ValidationError, match="not every member supports"):
        validate_key_package(kp, now=NOW, credential_validator=BASIC, rules=rules)
    leaf = sign_leaf_node(
        SUITE, sig_priv, dataclasses.replace(kp.leaf_node, leaf_node_source=2, lifetime=None)
    )
    with pytest.raises(ValidationError, match="leaf_node_source"):
        validate_key_package(
            dataclasses.replace(kp, leaf_node=leaf), now=NOW, credential_validator=BASIC
        )


def test_empty_basic_identity_is_rejected() -> None:
    with pytest.raises(ValidationError):
        BASIC.validate(Credential.basic(b""), b"k", NOW)


# ---------------------------------------------------------------- X.509

T0 = datetime.datetime.fromtimestamp(NOW, tz=datetime.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(key: object, cn: str = "Accord test CA") -> x509.Certificate:
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())  # type: ignore[attr-defined]
        .serial_number(1)
        .not_valid_before(T0 - datetime.timedelta(days=1))
        .not_valid_after(T0 + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)  # type: ignore[attr-defined]
    )
    return b.sign(key, None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256())  # type: ignore[arg-type]


def _ee(ca_key: object, key: object, days: int = 10) -> x509.Certificate:
    b = (
        x509.CertificateBuilder()
        .subject_name(_name("alice"))
        .issuer_name(_name("Accord test CA"))
        .public_key(key.public_key())  # type: ignore[attr-defined]
        .serial_number(2)
        .not_valid_before(T0 - datetime.timedelta(days=1))
        .not_valid_after(T0 + datetime.timedelta(days=days))
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )  # type: ignore[attr-defined]
    )
    return b.sign(
        ca_key, None if isinstance(ca_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    )  # type: ignore[arg-type]


def _der(c: x509.Certificate) -> bytes:
    return c.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize("suite_id", [1, 2])
def test_x509_chain(suite_id: int) -> None:
    make = (
        ed25519.Ed25519PrivateKey.generate
        if suite_id == 1
        else (lambda: ec.generate_private_key(ec.SECP256R1()))
    )
    ca_key, ee_key, other_ca_key = make(), make(), make()
    ca = _ca(ca_key)
    ee = _ee(ca_key, ee_key)
    if suite_id == 1:
        sig_pub = ee_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )  # type: ignore[union-attr]
    else:
        sig_pub = ee_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )  # type: ignore[union-attr]
    cred = Credential.x509((_der(ee),))
    v = Credentials({1: BASIC, 2: X509Credentials([ca])})
    v.validate(cred, sig_pub, NOW)
    with pytest.raises(ValidationError, match="validity|verify"):
        v.validate(cred, sig_pub, NOW + 20 * 86_400)
    with pytest.raises(ValidationError, match="signature_key"):
        v.validate(cred, b"\x04" + sig_pub[1:-1] + bytes([sig_pub[-1] ^ 1]), NOW)
    with pytest.raises(ValidationError):
        X509Credentials([_ca(other_ca_key)]).validate(cred, sig_pub, NOW)
    with pytest.raises(ValidationError):
        v.validate(Credential.x509((b"not a certificate",)), sig_pub, NOW)
    with pytest.raises(ValidationError, match="not accepted"):
        Credentials({1: BASIC}).validate(cred, sig_pub, NOW)
