"""KeyPackages: creation and validation (RFC 9420 10, 10.1), with GREASE (13.5).

API::

    create_key_package(suite, signature_priv, credential, lifetime, *,
                       capabilities=None, extensions=(), leaf_extensions=(),
                       grease=True, rng=os.urandom) -> (KeyPackage, KeyPackageSecrets)
    validate_key_package(key_package, *, now, credential_validator,
                         rules=None) -> None
    key_package_ref(key_package) -> bytes

``KeyPackageSecrets`` holds the init and leaf encryption private keys and
does not show them in its repr.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence

from accord.errors import CryptoError, ValidationError
from accord.mls.credentials import CredentialValidator
from accord.mls.leaf_node import (
    GroupRules,
    check_own_capabilities,
    grease_values,
    make_capabilities,
    sign_leaf_node,
    validate_leaf_node,
)
from accord.mls.structs.credential import Capabilities, Credential, Extension
from accord.mls.structs.enums import LeafNodeSource, ProtocolVersion, is_grease
from accord.mls.structs.group_context import KeyPackage
from accord.mls.structs.tree_nodes import LeafNode, Lifetime
from accord.mls.suites import CipherSuite, get_suite

__all__ = ["KeyPackageSecrets", "create_key_package", "key_package_ref", "validate_key_package"]

RULE = "RFC 9420 10.1"


@dataclasses.dataclass(frozen=True, slots=True, repr=False)
class KeyPackageSecrets:
    init_priv: bytes
    encryption_priv: bytes

    def __repr__(self) -> str:
        return "KeyPackageSecrets(<hidden>)"


def _grease_extensions(caps: Capabilities, rng: Callable[[int], bytes]) -> tuple[Extension, ...]:
    # 13.5: a GREASE extension in LeafNode.extensions must also be listed in
    # the capabilities, which make_capabilities already did.
    return tuple(Extension(t, rng(rng(1)[0] % 8)) for t in caps.extensions if is_grease(t))


def create_key_package(
    suite: CipherSuite,
    signature_priv: bytes,
    credential: Credential,
    lifetime: Lifetime,
    *,
    capabilities: Capabilities | None = None,
    extensions: Sequence[Extension] = (),
    leaf_extensions: Sequence[Extension] = (),
    grease: bool = True,
    rng: Callable[[int], bytes] = os.urandom,
) -> tuple[KeyPackage, KeyPackageSecrets]:
    """A signed KeyPackage (10) with fresh init and encryption keys. With
    ``grease``, random GREASE values go into the capabilities and into the
    leaf's and the KeyPackage's extensions (13.5)."""
    caps = capabilities or make_capabilities(
        suite.id, credentials=(credential.credential_type,), grease=grease, rng=rng
    )
    check_own_capabilities(caps, suite.id, credential.credential_type)
    leaf_exts = tuple(leaf_extensions) + (_grease_extensions(caps, rng) if grease else ())
    kp_exts = tuple(extensions)
    if grease:
        kp_exts += tuple(Extension(t, rng(rng(1)[0] % 16)) for t in grease_values(1, rng))
    init_priv, init_pub = suite.generate_hpke_key_pair()
    enc_priv, enc_pub = suite.generate_hpke_key_pair()
    leaf = LeafNode(
        encryption_key=enc_pub,
        signature_key=suite.signature_public_key(signature_priv),
        credential=credential,
        capabilities=caps,
        leaf_node_source=LeafNodeSource.KEY_PACKAGE,
        lifetime=lifetime,
        parent_hash=None,
        extensions=leaf_exts,
        signature=b"",
    )
    leaf = sign_leaf_node(suite, signature_priv, leaf)
    kp = KeyPackage(ProtocolVersion.MLS10, suite.id, init_pub, leaf, kp_exts, b"")
    sig = suite.sign_with_label(signature_priv, "KeyPackageTBS", kp.tbs())
    return dataclasses.replace(kp, signature=sig), KeyPackageSecrets(init_priv, enc_priv)


def key_package_ref(key_package: KeyPackage) -> bytes:
    """KeyPackageRef (5.2)."""
    suite = get_suite(key_package.cipher_suite)
    return suite.key_package_ref(key_package.to_bytes())


def validate_key_package(
    key_package: KeyPackage,
    *,
    now: int | None,
    credential_validator: CredentialValidator,
    rules: GroupRules | None = None,
) -> None:
    """10.1: version and suite (those of the group, with ``rules``), the
    LeafNode (7.3, source key_package), the signature, and init_key distinct
    from the leaf's encryption_key. Raises ``ValidationError``."""
    kp = key_package
    if kp.version != ProtocolVersion.MLS10:
        raise ValidationError(f"KeyPackage version {kp.version} is not mls10", RULE)
    if rules is not None and (kp.cipher_suite, kp.version) != (rules.cipher_suite, rules.version):
        raise ValidationError("KeyPackage cipher suite or version differs from the group's", RULE)
    try:
        suite = get_suite(kp.cipher_suite)
    except (ValidationError, KeyError, ValueError):
        raise ValidationError(f"unknown cipher suite {kp.cipher_suite}", RULE) from None
    leaf_rules = rules or GroupRules(cipher_suite=kp.cipher_suite, version=kp.version)
    validate_leaf_node(
        suite,
        kp.leaf_node,
        source=LeafNodeSource.KEY_PACKAGE,
        group_id=b"",
        leaf_index=0,
        rules=leaf_rules,
        now=now,
        credential_validator=credential_validator,
    )
    try:
        suite.verify_with_label(kp.leaf_node.signature_key, "KeyPackageTBS", kp.tbs(), kp.signature)
    except CryptoError as e:
        raise ValidationError(f"KeyPackage signature does not verify: {e}", RULE) from None
    if kp.init_key == kp.leaf_node.encryption_key:
        raise ValidationError("init_key equals the leaf's encryption_key", RULE)
