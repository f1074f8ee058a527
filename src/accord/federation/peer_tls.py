"""Mutually authenticated TLS between providers (MIMI transport, issue 22).

draft-ietf-mimi-protocol-06 runs provider-to-provider traffic over HTTPS with
mutual TLS: each provider's certificate names its domain. With ``--peer-ca``
(the trust anchors of peer certificates) a provider asks every TLS client for
a certificate (optional at the handshake, so devices without one still reach
the client API), the handshake refuses a certificate no anchor vouches for,
and every peer route (Accord's federation API and MIMI's) requires a verified
certificate whose subjectAltName dNSName is the domain that signed the
request (the RFC 9421 keyid): :func:`check_peer_certificate`, called by
:func:`accord.server.federation_routes.authenticated`. The signature still decides
who speaks; the certificate must agree, so a stolen signing key alone, or a
certificate alone, is not enough.

On the sending side a provider presents its own certificate and key
(``--tls-cert``/``--tls-key``) and checks the peer's certificate against
``--peer-ca`` (the system store when not given), for the peer's *domain*
(not the address its static map names): :func:`client_context` and
:func:`accord.federation.peer_client.read_bounded`.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

from cryptography import x509

from accord.errors import AuthError
from accord.http_client import tls_context


def client_context(cert: str | None, key: str | None, peer_ca: str | None) -> ssl.SSLContext:
    """The context of a provider's outbound federation requests: verifies the peer's
    certificate against ``peer_ca`` (else the system store) and presents ours."""
    if peer_ca is None and cert is None:
        return tls_context()
    ctx = ssl.create_default_context(cafile=peer_ca) if peer_ca else ssl.create_default_context()
    if cert is not None:
        ctx.load_cert_chain(cert, key)
    return ctx


def certificate_domains(pem: str) -> frozenset[str]:
    """The dNSName entries of a PEM certificate's subjectAltName (lower case)."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound) as exc:
        raise AuthError("the peer's TLS certificate names no domain") from exc
    return frozenset(name.lower() for name in san.get_values_for_type(x509.DNSName))


def check_peer_certificate(scope: Mapping[str, Any], peer: str) -> None:
    """Accept a peer request only over a verified TLS client certificate that names
    ``peer``, the domain whose signature the request carries."""
    tls = scope.get("extensions", {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    if not chain:
        raise AuthError("a peer provider must present a TLS client certificate")
    if peer.lower() not in certificate_domains(chain[0]):
        raise AuthError("the TLS client certificate names another provider than the signature")


__all__ = ["certificate_domains", "check_peer_certificate", "client_context"]
