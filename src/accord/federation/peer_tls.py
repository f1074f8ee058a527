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

Revocation (``--peer-crl``): PEM CRLs, each signed by one of the ``--peer-ca``
anchors and not past its nextUpdate, else :class:`PeerCrlError` at startup.
:class:`PeerRevocations` re-reads the file when it changes (a file that no
longer verifies, or a CRL past its nextUpdate, refuses every peer until it is
fixed: fail closed). Inbound, :func:`check_peer_certificate` refuses a client
certificate whose serial its issuer's CRL lists (401). Outbound,
:func:`outbound_check` checks the peer's server certificate right after the TLS
handshake, before a byte of the request is sent (an httpcore trace hook: ssl's
own ``VERIFY_CRL_CHECK_LEAF`` would fail every peer whose anchor has no CRL, use
the system clock, and need a new context per reload); the refusal is
:class:`~accord.errors.PeerUnavailable`, so the outbox keeps its items. With
revocation on, peer connections are not kept alive (:data:`NO_KEEPALIVE`):
every request makes a new handshake, so a revocation takes effect at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
from cryptography import x509

from accord.errors import AuthError, PeerUnavailable, ValidationError
from accord.http_client import tls_context

log = logging.getLogger("accord.federation.tls")
_CRL_PEM = re.compile(rb"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----", re.DOTALL)
NO_KEEPALIVE = httpx.Limits(max_keepalive_connections=0)


class PeerCrlError(ValidationError):
    """A ``--peer-crl`` file that cannot be used: unreadable, no CRL in it, a CRL no
    ``--peer-ca`` anchor signed, or one past its nextUpdate."""

    code = "peer_crl_error"


def _utc_ms(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


def load_crls(crl_path: str, anchors: list[x509.Certificate], now: int
              ) -> tuple[dict[x509.Name, frozenset[int]], int]:
    """The revoked serials of each issuer named by the CRLs of ``crl_path`` and the
    earliest nextUpdate (ms); :class:`PeerCrlError` for a file that cannot be used."""
    try:
        with open(crl_path, "rb") as f:
            blocks = _CRL_PEM.findall(f.read())
    except OSError as exc:
        raise PeerCrlError(f"cannot read the peer CRL file {crl_path}: {exc.strerror}") from exc
    if not blocks:
        raise PeerCrlError(f"{crl_path} holds no PEM CRL (-----BEGIN X509 CRL-----)")
    revoked: dict[x509.Name, frozenset[int]] = {}
    expires = None
    for block in blocks:
        try:
            crl = x509.load_pem_x509_crl(block)
        except ValueError as exc:
            raise PeerCrlError(f"{crl_path} holds a malformed CRL") from exc
        issuer = crl.issuer.rfc4514_string()
        if not any(a.subject == crl.issuer and crl.is_signature_valid(a.public_key())
                   for a in anchors):
            raise PeerCrlError(f"the CRL of {issuer} in {crl_path} is not signed by any "
                               "--peer-ca anchor")
        if crl.next_update_utc is None or _utc_ms(crl.next_update_utc) <= now:
            raise PeerCrlError(f"the CRL of {issuer} in {crl_path} is expired (nextUpdate "
                               f"{crl.next_update_utc}); fetch a fresh one")
        serials = frozenset(r.serial_number for r in crl)
        revoked[crl.issuer] = revoked.get(crl.issuer, frozenset()) | serials
        expires = min(expires or 1 << 62, _utc_ms(crl.next_update_utc))
    assert expires is not None
    return revoked, expires


class PeerRevocations:
    """The CRLs of ``--peer-crl``, checked against the ``--peer-ca`` anchors, re-read
    whenever the file changes. The constructor raises :class:`PeerCrlError`."""

    def __init__(self, crl_path: str, anchors_path: str, now: int) -> None:
        self.path = crl_path
        try:
            with open(anchors_path, "rb") as f:
                self.anchors = x509.load_pem_x509_certificates(f.read())
        except (OSError, ValueError) as exc:
            raise PeerCrlError(f"cannot read the --peer-ca anchors {anchors_path}") from exc
        self._stamp = self._stat()
        self.revoked, self.expires = load_crls(crl_path, self.anchors, now)
        self.error: str | None = None

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def _refresh(self, now: int) -> None:
        stamp = self._stat()
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            self.revoked, self.expires = load_crls(self.path, self.anchors, now)
            self.error = None
            log.info("peer CRLs reloaded from %s", self.path)
        except PeerCrlError as exc:
            self.error = str(exc)  # fail closed until the file is fixed
            log.error("peer CRLs not reloaded, every peer is refused: %s", exc)

    def check(self, cert: x509.Certificate, now: int) -> None:
        """AuthError unless ``cert`` is known not to be revoked at ``now``."""
        self._refresh(now)
        if self.error is not None:
            raise AuthError(f"peer certificates cannot be checked: {self.error}")
        if now >= self.expires:
            raise AuthError(f"a peer CRL in {self.path} is past its nextUpdate; "
                            "peer certificates cannot be checked until it is refreshed")
        if cert.serial_number in self.revoked.get(cert.issuer, frozenset()):
            raise AuthError(f"the peer's TLS certificate (serial {cert.serial_number:x}) "
                            "is revoked by its issuer's CRL")


def outbound_check(revocations: PeerRevocations, clock: Callable[[], int]
                   ) -> Callable[[httpx.Request], Awaitable[None]]:
    """An httpx request hook: a peer whose server certificate is revoked is refused
    (:class:`PeerUnavailable`) right after the TLS handshake, before the request goes."""

    async def hook(request: httpx.Request) -> None:
        domain = request.extensions.get("sni_hostname") or request.url.host

        async def trace(event: str, info: dict[str, Any]) -> None:
            if event != "connection.start_tls.complete":
                return
            ssl_object = info["return_value"].get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
            if not der:
                raise PeerUnavailable(f"provider {domain} presented no TLS certificate")
            try:
                revocations.check(x509.load_der_x509_certificate(der), clock())
            except AuthError as exc:
                raise PeerUnavailable(f"provider {domain} refused: {exc}") from exc

        request.extensions["trace"] = trace

    return hook


def client_context(cert: str | None, key: str | None, peer_ca: str | None) -> ssl.SSLContext:
    """The context of a provider's outbound federation requests: verifies the peer's
    certificate against ``peer_ca`` (else the system store) and presents ours."""
    if peer_ca is None and cert is None:
        return tls_context()
    ctx = ssl.create_default_context(cafile=peer_ca) if peer_ca else ssl.create_default_context()
    if cert is not None:
        ctx.load_cert_chain(cert, key)
    return ctx


def certificate_domains(pem: str | x509.Certificate) -> frozenset[str]:
    """The dNSName entries of a PEM certificate's subjectAltName (lower case)."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii")) if isinstance(pem, str) else pem
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound) as exc:
        raise AuthError("the peer's TLS certificate names no domain") from exc
    return frozenset(name.lower() for name in san.get_values_for_type(x509.DNSName))


def check_peer_certificate(scope: Mapping[str, Any], peer: str,
                           revocations: PeerRevocations | None = None, now: int = 0) -> None:
    """Accept a peer request only over a verified TLS client certificate that names
    ``peer``, the domain whose signature the request carries, and that no CRL of
    ``revocations`` lists (at ``now``)."""
    tls = scope.get("extensions", {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    if not chain:
        raise AuthError("a peer provider must present a TLS client certificate")
    try:
        cert = x509.load_pem_x509_certificate(chain[0].encode("ascii"))
    except ValueError as exc:
        raise AuthError("the peer's TLS certificate names no domain") from exc
    if peer.lower() not in certificate_domains(cert):
        raise AuthError("the TLS client certificate names another provider than the signature")
    if revocations is not None:
        revocations.check(cert, now)


__all__ = [
    "NO_KEEPALIVE",
    "PeerCrlError",
    "PeerRevocations",
    "certificate_domains",
    "check_peer_certificate",
    "client_context",
    "load_crls",
    "outbound_check",
]
