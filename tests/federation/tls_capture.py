"""The recording proxy of :mod:`tests.federation.capture` for providers that federate over
mutual TLS (issue 22: a plain MIMI peer is authenticated by its client certificate alone).

Each :class:`TlsRecordingProxy` stands in front of one provider, serving that provider's
certificate of the test CA and asking every sender for its client certificate; it
forwards the request unchanged over mutual TLS with the *sender's* certificate (the
test holds every provider's key), so the provider behind it sees the same peer and the
same signature, if any, that the sender sent. Each exchange records the domain the
sender's certificate names (``Exchange.tls_client``): an unsigned request still says
who sent it.
"""

from __future__ import annotations

import ssl
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx

from accord.federation.loopback import Provider, federation
from tests.engine import database_for
from tests.federation.capture import FORWARD_TIMEOUT_S, RecordingProxy, Wire

Pki = dict[str, Path]  # "ca", and DOMAIN / DOMAIN.key for each provider


class TlsRecordingProxy(RecordingProxy):
    def __init__(self, domain: str, upstream: str, pki: Pki) -> None:
        super().__init__(domain, upstream)
        self.pki = pki
        self.clients: dict[str, httpx.Client] = {}
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki[domain], pki[domain + ".key"])
        ctx.load_verify_locations(pki["ca"])
        ctx.verify_mode = ssl.CERT_REQUIRED
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def client_for(self, handler: BaseHTTPRequestHandler) -> tuple[str, httpx.Client]:
        cert = handler.connection.getpeercert()  # type: ignore[attr-defined]
        names = [v for k, v in (cert or {}).get("subjectAltName", ()) if k == "DNS"]
        domain = names[0]
        with self.lock:
            http = self.clients.get(domain)
            if http is None:
                ctx = ssl.create_default_context(cafile=str(self.pki["ca"]))
                ctx.check_hostname = False  # the provider is at 127.0.0.1; its CA is checked
                ctx.load_cert_chain(self.pki[domain], self.pki[domain + ".key"])
                http = self.clients[domain] = httpx.Client(timeout=FORWARD_TIMEOUT_S,
                                                            verify=ctx)
        return domain, http

    def stop(self) -> None:
        super().stop()
        for http in self.clients.values():
            http.close()


@contextmanager
def captured_tls_federation(root: Path, domains: list[str], pki: Pki,
                            plain: Collection[str] = (), mimi: bool = True
                            ) -> Iterator[tuple[dict[str, Provider], Wire]]:
    """Providers for ``domains`` over mutual TLS with the test CA of ``pki``, each reached
    by its peers through a recording proxy; those in ``plain`` run ``--mimi-plain``;
    ``mimi`` False: the others run ``--accord-transport``."""
    tls = {d: (pki[d], pki[d + ".key"], pki["ca"]) for d in domains}
    provs = federation(root, domains, tls=tls, mimi=mimi)
    proxies = [TlsRecordingProxy(p.domain, p.url, pki) for p in provs]
    via = {x.domain: x.url for x in proxies}
    for p in provs:
        p.peers = {d: url for d, url in via.items() if d != p.domain}
        p.database = database_for(p.data_dir)
        p.plain = p.domain in plain
    try:
        for x in proxies:
            x.start()
        for p in provs:
            p.start()
        yield {p.domain: p for p in provs}, Wire(proxies)
    finally:
        for p in provs:
            p.stop()
        for x in proxies:
            x.stop()
