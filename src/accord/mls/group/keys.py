"""A member's own KeyPackage with its private keys, over ``accord.mls.key_package``.

The group engine needs the three private keys of a KeyPackage together (to
open a Welcome and to hold the leaf), so this bundles what
``accord.mls.key_package.create_key_package`` returns with the signature key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from accord.mls.key_package import create_key_package as _create
from accord.mls.key_package import key_package_ref
from accord.mls.structs import Capabilities, Credential, Extension, KeyPackage, Lifetime
from accord.mls.suites import CipherSuite

__all__ = ["DEFAULT_LIFETIME", "KeyPackagePrivate", "create_key_package"]

# Default validity of a new KeyPackage: 90 days, starting an hour early for clock skew.
DEFAULT_LIFETIME = 90 * 24 * 3600
_SKEW = 3600


@dataclasses.dataclass(frozen=True, slots=True)
class KeyPackagePrivate:
    """A KeyPackage and the private keys that go with it (kept by its owner)."""

    key_package: KeyPackage
    init_priv: bytes = dataclasses.field(repr=False)
    encryption_priv: bytes = dataclasses.field(repr=False)
    signature_priv: bytes = dataclasses.field(repr=False)

    @property
    def ref(self) -> bytes:
        """KeyPackageRef (5.2)."""
        return key_package_ref(self.key_package)


def create_key_package(
    suite: CipherSuite,
    credential: Credential,
    signature_priv: bytes,
    now: int,
    *,
    lifetime: int = DEFAULT_LIFETIME,
    capabilities: Capabilities | None = None,
    leaf_extensions: Sequence[Extension] = (),
    extensions: Sequence[Extension] = (),
    grease: bool = True,
) -> KeyPackagePrivate:
    """A fresh KeyPackage valid from ``now`` for ``lifetime`` seconds (10)."""
    kp, secrets = _create(
        suite, signature_priv, credential, Lifetime(max(0, now - _SKEW), now + lifetime),
        capabilities=capabilities, extensions=extensions, leaf_extensions=leaf_extensions,
        grease=grease,
    )
    return KeyPackagePrivate(kp, secrets.init_priv, secrets.encryption_priv, signature_priv)
