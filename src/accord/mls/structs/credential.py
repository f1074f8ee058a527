"""Credentials, capabilities and extensions (RFC 9420 5.3, 7.2, 12.1.8.1, 13.4)."""

from __future__ import annotations

from typing import Annotated

from accord.mls.codec import U16, OneOf, Uint, When, WireStruct, wire


@wire
class Certificate(WireStruct):
    cert_data: bytes


@wire
class Credential(WireStruct):
    credential_type: Annotated[int, Uint(2), OneOf(1, 2)]
    # basic (1): the identity; x509 (2): the certificate chain, leaf first.
    identity: Annotated[bytes | None, When("credential_type", (1,), bytes)] = None
    certificates: Annotated[
        tuple[Certificate, ...] | None, When("credential_type", (2,), tuple[Certificate, ...])
    ] = None

    @classmethod
    def basic(cls, identity: bytes) -> Credential:
        return cls(1, identity, None)

    @classmethod
    def x509(cls, chain: tuple[bytes, ...]) -> Credential:
        return cls(2, None, tuple(Certificate(c) for c in chain))


@wire
class Capabilities(WireStruct):
    versions: tuple[U16, ...]
    cipher_suites: tuple[U16, ...]
    extensions: tuple[U16, ...]
    proposals: tuple[U16, ...]
    credentials: tuple[U16, ...]


@wire
class Extension(WireStruct):
    extension_type: U16
    extension_data: bytes


Extensions = tuple[Extension, ...]


def find_extension(extensions: Extensions, extension_type: int) -> Extension | None:
    for ext in extensions:
        if ext.extension_type == extension_type:
            return ext
    return None


@wire
class RequiredCapabilities(WireStruct):
    extension_types: tuple[U16, ...]
    proposal_types: tuple[U16, ...]
    credential_types: tuple[U16, ...]


@wire
class ExternalSender(WireStruct):
    signature_key: bytes
    credential: Credential


ExternalSenders = tuple[ExternalSender, ...]


@wire
class ApplicationId(WireStruct):
    """The extension_data of the application_id extension: ``opaque application_id<V>``."""

    application_id: bytes


@wire
class ExternalPub(WireStruct):
    external_pub: bytes
