"""Federation over mutually authenticated TLS (MIMI transport, issue 22).

A test CA made here (pyca/cryptography x509) issues alpha.test, beta.test and
gamma.test their certificates (subjectAltName dNSName = the domain); each
provider runs with ``--tls-cert/--tls-key --peer-ca``, reached at 127.0.0.1 through
the static peers map, so every TLS name check is of the map's *domain*.
A message crosses from alpha to beta; a peer request with no certificate, with a
certificate of another CA, or with a certificate naming another domain than
its RFC 9421 keyid is refused.
"""

from __future__ import annotations

import datetime as dt
import secrets
import signal
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from accord.errors import PeerUnavailable
from accord.federation.peer_client import read_bounded
from accord.federation.peer_tls import client_context
from accord.wire import dumps
from accord.wire import federation as fw
from tests.federation.providers import MlsDevice, Provider, federation, signed_post

DOMAINS = ["alpha.test", "beta.test", "gamma.test"]
DELIVER = "/federation/v1/deliver"


class Authority:
    """A certificate authority of this test alone (P-256, valid for a day)."""

    def __init__(self, name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (
            self._builder(subject, subject, self.key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def _builder(self, subject: x509.Name, issuer: x509.Name, public: ec.EllipticCurvePublicKey
                 ) -> x509.CertificateBuilder:
        now = dt.datetime.now(dt.UTC)
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
                .public_key(public).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=1))
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False))

    def write(self, path: Path) -> Path:
        path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        return path

    def issue(self, domain: str, folder: Path) -> tuple[Path, Path]:
        """(certificate, key) files of a provider certificate naming ``domain``."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            self._builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)]),
                          self.cert.subject, key.public_key())
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        folder.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = folder / f"{domain}.crt", folder / f"{domain}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        key_path.chmod(0o600)
        return cert_path, key_path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pki")
    ca, rogue = Authority("Accord test CA"), Authority("another CA")
    files = {"ca": ca.write(root / "ca.pem")}
    for d in DOMAINS:
        files[d], files[d + ".key"] = ca.issue(d, root / "ca")
    files["rogue:gamma.test"], files["rogue:gamma.test.key"] = rogue.issue("gamma.test",
                                                                           root / "rogue")
    return files


@pytest.fixture(scope="module")
def providers(pki: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[dict[str, Provider]]:
    tls = {d: (pki[d], pki[d + ".key"], pki["ca"]) for d in DOMAINS}
    provs = federation(tmp_path_factory.mktemp("mtls"), DOMAINS, tls=tls)
    with ExitStack() as cleanup:
        for p in provs:
            cleanup.callback(p.stop)
            p.start()
        cleanup.callback(_terminate_all, provs)  # runs first: the drains overlap
        yield {p.domain.split(".")[0]: p for p in provs}


def _terminate_all(provs: list[Provider]) -> None:
    for p in provs:
        if p.proc is not None and p.proc.poll() is None:
            p.proc.send_signal(signal.SIGTERM)


def _device_tls(pki: dict[str, Path]) -> ssl.SSLContext:
    """A device's view: the test CA, no client certificate (the test reaches providers at
    127.0.0.1, which their certificates do not name)."""
    ctx = ssl.create_default_context(cafile=str(pki["ca"]))
    ctx.check_hostname = False
    return ctx


def _peer_tls(pki: dict[str, Path], cert: str | None) -> ssl.SSLContext:
    ctx = _device_tls(pki)
    if cert is not None:
        ctx.load_cert_chain(pki[cert], pki[cert + ".key"])
    return ctx


@pytest.fixture
async def clients(providers: dict[str, Provider], pki: dict[str, Path]
                  ) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    out = {n: httpx.AsyncClient(base_url=p.url, timeout=20.0, verify=_device_tls(pki))
           for n, p in providers.items()}
    try:
        yield out
    finally:
        for c in out.values():
            await c.aclose()


async def test_two_providers_federate_over_mutual_tls(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient]
) -> None:
    # devices without a client certificate still use their provider (CERT_OPTIONAL)
    alice = MlsDevice(clients["alpha"], "alice@alpha.test")
    bob = MlsDevice(clients["beta"], "bob@beta.test")
    for d in (alice, bob):
        await d.register()
        await d.upload_key_packages()
    await alice.create_group(secrets.token_bytes(16))
    await alice.commit_add(await alice.claim("bob@beta.test"))  # alpha -> beta, mTLS
    items = await bob.wait_items(1)
    bob.join(next(i.body for i in items if i.kind == "welcome"))
    await alice.post(b"over mutual TLS")
    later = await bob.wait_items(1, after=items[-1].seq)
    assert [bob.read(i.body) for i in later] == [b"over mutual TLS"]


async def _as_gamma(providers: dict[str, Provider], pki: dict[str, Path],
                    cert: str | None) -> int | str:
    """gamma.test signs (its real key) a harmless delivery to alpha, over a TLS
    connection that presents ``cert``; the status, or how TLS refused it."""
    gamma, alpha = providers["gamma"], providers["alpha"]
    req = signed_post(alpha.url, DELIVER, dumps(fw.FedDeliver(items=[])), gamma.domain,
                      gamma.key().sign)
    async with httpx.AsyncClient(timeout=10.0, verify=_peer_tls(pki, cert)) as http:
        try:
            return (await http.send(req)).status_code
        except httpx.TransportError as exc:
            return f"refused by TLS: {type(exc).__name__}"


async def test_T01_peer_with_its_own_certificate_is_served(
    providers: dict[str, Provider], pki: dict[str, Path]
) -> None:
    assert await _as_gamma(providers, pki, "gamma.test") == 200


async def test_T01_peer_without_a_client_certificate_is_refused(
    providers: dict[str, Provider], pki: dict[str, Path]
) -> None:
    assert await _as_gamma(providers, pki, None) == 401


async def test_T01_peer_certificate_of_another_ca_is_refused(
    providers: dict[str, Provider], pki: dict[str, Path]
) -> None:
    outcome = await _as_gamma(providers, pki, "rogue:gamma.test")
    assert outcome == 401 or str(outcome).startswith("refused by TLS"), outcome


async def test_T01_peer_certificate_naming_another_domain_is_refused(
    providers: dict[str, Provider], pki: dict[str, Path]
) -> None:
    # gamma signs as gamma.test but presents beta.test's (valid) certificate
    assert await _as_gamma(providers, pki, "beta.test") == 401


async def test_outbound_checks_the_peer_certificate_for_the_mapped_domain(
    providers: dict[str, Provider], pki: dict[str, Path]
) -> None:
    """A provider reaches beta.test at 127.0.0.1 (the static map) and still requires a
    certificate naming beta.test: the same server is refused when taken for gamma.test."""
    ctx = client_context(str(pki["alpha.test"]), str(pki["alpha.test.key"]), str(pki["ca"]))
    url = providers["beta"].url + "/.well-known/accord"
    for domain, reached in (("beta.test", True), ("gamma.test", False)):
        async with httpx.AsyncClient(timeout=10.0, verify=ctx) as http:  # a new connection
            request = http.build_request("GET", url)
            if reached:
                assert (await read_bounded(http, domain, request, 1 << 20)).status_code == 200
            else:
                with pytest.raises(PeerUnavailable):
                    await read_bounded(http, domain, request, 1 << 20)
