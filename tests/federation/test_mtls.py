"""Federation over mutually authenticated TLS (MIMI transport, issue 22).

A test CA made here (pyca/cryptography x509) issues alpha.test, beta.test and
gamma.test their certificates (subjectAltName dNSName = the domain); each
provider runs with ``--tls-cert/--tls-key --peer-ca``, reached at 127.0.0.1 through
the static peers map, so every TLS name check is of the map's *domain*.
A message crosses from alpha to beta; a peer request with no certificate, with a
certificate of another CA, or with a certificate naming another domain than
its RFC 9421 keyid is refused. Every provider runs with ``--peer-crl`` (a CRL
of the test CA, empty at first); revoking beta.test's certificate then refuses
beta's requests at alpha and stops alpha's deliveries to beta (kept in the
outbox until the revocation is lifted), while gamma is unaffected; a CRL that
no anchor signed, or an expired one, stops the server at startup.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import signal
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from accord.cli.server_cmd import server
from accord.errors import AuthError, PeerUnavailable
from accord.federation.peer_client import read_bounded
from accord.federation.peer_tls import PeerRevocations, client_context
from accord.wire import dumps
from accord.wire import federation as fw
from tests.federation.providers import MlsDevice, Provider, federation, signed_post

DOMAINS = ["alpha.test", "beta.test", "gamma.test"]
DELIVER = "/federation/v1/deliver"


class Authority:
    """A certificate authority of this test alone (P-256, valid for a day)."""

    def __init__(self, name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.serials: dict[str, int] = {}
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
        self.serials[domain] = cert.serial_number
        folder.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = folder / f"{domain}.crt", folder / f"{domain}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        key_path.chmod(0o600)
        return cert_path, key_path


    def write_crl(self, path: Path, revoked: list[int], number: int,
                  next_update: dt.timedelta = dt.timedelta(days=1),
                  signer: ec.EllipticCurvePrivateKey | None = None) -> Path:
        """A CRL of this CA (signed by ``signer`` to forge one) listing ``revoked``."""
        now = dt.datetime.now(dt.UTC)
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject)
                   .last_update(now - dt.timedelta(minutes=5)).next_update(now + next_update)
                   .add_extension(x509.CRLNumber(number), critical=False))
        for serial in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial)
                .revocation_date(now - dt.timedelta(minutes=1)).build())
        crl = builder.sign(signer or self.key, hashes.SHA256())
        path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        return path


@pytest.fixture(scope="module")
def authority() -> Authority:
    return Authority("Accord test CA")


@pytest.fixture(scope="module")
def pki(authority: Authority, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pki")
    ca, rogue = authority, Authority("another CA")
    files = {"ca": ca.write(root / "ca.pem"), "crl": ca.write_crl(root / "crl.pem", [], 1)}
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
    for p in provs:
        p.crl = pki["crl"]  # every provider checks revocation (an empty CRL at first)
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
                    cert: str | None, signer: str = "gamma") -> int | str:
    """gamma.test (or ``signer``) signs (its real key) a harmless delivery to alpha, over
    a TLS connection that presents ``cert``; the status, or how TLS refused it."""
    outcome = await _as_peer(providers, pki, cert, signer)
    return outcome if isinstance(outcome, str) else outcome.status_code


async def _as_peer(providers: dict[str, Provider], pki: dict[str, Path],
                   cert: str | None, signer: str) -> httpx.Response | str:
    peer, alpha = providers[signer], providers["alpha"]
    req = signed_post(alpha.url, DELIVER, dumps(fw.FedDeliver(items=[])), peer.domain,
                      peer.key().sign)
    async with httpx.AsyncClient(timeout=10.0, verify=_peer_tls(pki, cert)) as http:
        try:
            return await http.send(req)
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


def _start(pki: dict[str, Path], crl: Path, data: Path) -> tuple[int, str]:
    """``accord server`` with ``--peer-crl crl``: refused before it serves anything."""
    result = CliRunner().invoke(server, [
        "--data", str(data), "--domain", "alpha.test", "--port", "0",
        "--tls-cert", str(pki["alpha.test"]), "--tls-key", str(pki["alpha.test.key"]),
        "--peer-ca", str(pki["ca"]), "--peer-crl", str(crl)])
    return result.exit_code, result.output


def test_crl_signed_by_another_key_is_refused_at_startup(
    authority: Authority, pki: dict[str, Path], tmp_path: Path
) -> None:
    # the CA's name, but not its key
    forged = authority.write_crl(tmp_path / "forged.pem", [], 2,
                                 signer=ec.generate_private_key(ec.SECP256R1()))
    code, output = _start(pki, forged, tmp_path / "data")
    assert code == 2 and "not signed by any --peer-ca anchor" in output, output
    assert not (tmp_path / "data").exists()


def test_expired_crl_is_refused_at_startup(
    authority: Authority, pki: dict[str, Path], tmp_path: Path
) -> None:
    stale = authority.write_crl(tmp_path / "stale.pem", [], 2,
                                next_update=-dt.timedelta(minutes=1))
    code, output = _start(pki, stale, tmp_path / "data")
    assert code == 2 and "is expired" in output, output


async def test_revoked_peer_is_refused_inbound_and_not_delivered_to(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    authority: Authority, pki: dict[str, Path]
) -> None:
    carol = MlsDevice(clients["alpha"], "carol@alpha.test")
    dave = MlsDevice(clients["beta"], "dave@beta.test")
    for d in (carol, dave):
        await d.register()
        await d.upload_key_packages()
    await carol.create_group(secrets.token_bytes(16))
    await carol.commit_add(await carol.claim("dave@beta.test"))
    items = await dave.wait_items(1)
    dave.join(next(i.body for i in items if i.kind == "welcome"))
    await carol.post(b"before")
    seen = await dave.wait_items(1, after=items[-1].seq)
    assert [dave.read(i.body) for i in seen] == [b"before"]  # unrevoked: delivered

    authority.write_crl(pki["crl"], [authority.serials["beta.test"]], 2)
    try:
        # inbound: beta's own key and certificate, refused at alpha
        answer = await _as_peer(providers, pki, "beta.test", "beta")
        assert not isinstance(answer, str) and answer.status_code == 401, answer
        assert "revoked" in answer.json()["message"], answer.text
        assert await _as_gamma(providers, pki, "gamma.test") == 200  # gamma unaffected
        # outbound: alpha (carol's hub) does not deliver to beta, and keeps the item
        await carol.post(b"while revoked")
        with pytest.raises(AssertionError):
            await dave.wait_items(1, timeout_s=3.0, after=seen[-1].seq)
    finally:
        authority.write_crl(pki["crl"], [], 3)
    later = await dave.wait_items(1, timeout_s=40.0, after=seen[-1].seq)
    assert [dave.read(i.body) for i in later] == [b"while revoked"]


def test_crl_reload_and_expiry_fail_closed(
    authority: Authority, pki: dict[str, Path], tmp_path: Path
) -> None:
    """At run time (``now`` injected): a changed file that no longer verifies refuses
    every peer until it is fixed, and so does a CRL past its nextUpdate."""
    crl = authority.write_crl(tmp_path / "crl.pem", [], 1, next_update=dt.timedelta(hours=1))
    now = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    revocations = PeerRevocations(str(crl), str(pki["ca"]), now)
    gamma = x509.load_pem_x509_certificate(pki["gamma.test"].read_bytes())
    revocations.check(gamma, now)  # not revoked
    with pytest.raises(AuthError, match="past its nextUpdate"):
        revocations.check(gamma, now + 2 * 3_600_000)
    authority.write_crl(crl, [], 2, signer=ec.generate_private_key(ec.SECP256R1()))
    os.utime(crl, ns=(now * 1_000_000 + 1, now * 1_000_000 + 1))  # a change, however fast
    with pytest.raises(AuthError, match="not signed by any --peer-ca anchor"):
        revocations.check(gamma, now)
    authority.write_crl(crl, [authority.serials["gamma.test"]], 3)
    os.utime(crl, ns=(now * 1_000_000 + 2, now * 1_000_000 + 2))
    with pytest.raises(AuthError, match="revoked"):
        revocations.check(gamma, now)
