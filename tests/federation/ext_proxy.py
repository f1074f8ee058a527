"""A proxy in front of a loopback provider that plays with Accord's MIMI extensions
(issue 22, docs/PROTOCOL.md "Accord extensions to MIMI").

:class:`ExtProxy` records like :class:`~tests.federation.capture.RecordingProxy` and,
as a test sets it:

- ``hide``: directory keys taken out of the provider's MIMI directory as the other
  provider reads it (that provider then looks like a peer without the extension);
- ``tamper``: a function of a notify's ``accord-handshake-chain`` header value (None
  when absent) giving the value to send instead (None: drop it), and ``tamper_body``
  one of an accord-firstContact carrier's body; the request is then signed again with
  the sending hub's own provider key, so the provider behind the proxy sees exactly
  what a lying hub would send.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import unquote

from accord.federation import http_signatures as hs
from accord.federation.loopback import Provider, federation
from accord.federation.provider_key import ProviderKey
from accord.wire.mimi_accord import CHAIN_HEADER
from tests.engine import database_for
from tests.federation.capture import DIRECTORY_PATH, HOP_BY_HOP, Exchange, RecordingProxy

Tamper = Callable[[str | None], str | None]


class ExtProxy(RecordingProxy):
    def __init__(self, domain: str, upstream: str) -> None:
        super().__init__(domain, upstream)
        self.hide: set[str] = set()
        self.tamper: Tamper | None = None
        self.signer: tuple[str, ProviderKey] | None = None  # the hub that sends through
        self.tamper_body: Callable[[bytes], bytes] | None = None  # extension carriers

    def handler(self) -> type[BaseHTTPRequestHandler]:
        base = super().handler()
        proxy = self

        class Handler(base):  # type: ignore[valid-type, misc]
            def relay(self) -> None:
                path = self.path.split("?", 1)[0]
                if self.command == "GET" and path == DIRECTORY_PATH and proxy.hide:
                    self.directory()
                elif self.command == "POST" and (
                        "/notify/" in path and proxy.tamper or
                        "/accord-firstContact/" in path and proxy.tamper_body):
                    self.tampered()
                else:
                    base.relay(self)

            def directory(self) -> None:
                r = proxy.http.get(proxy.upstream + self.path,  # its URLs name the proxy
                                   headers={"Host": self.headers.get("Host", "")})
                doc = {k: v for k, v in r.json().items() if k not in proxy.hide}
                self.answer(r.status_code, {"content-type": "application/json"},
                            json.dumps(doc).encode())

            def tampered(self) -> None:
                assert proxy.signer is not None
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()
                           if k.lower() not in HOP_BY_HOP}
                value = headers.pop(CHAIN_HEADER, None)
                if proxy.tamper is not None:
                    value = proxy.tamper(value)
                if proxy.tamper_body is not None and "/accord-firstContact/" in self.path:
                    body = proxy.tamper_body(body)
                domain, key = proxy.signer
                for name in ("signature", "signature-input", "content-digest"):
                    headers.pop(name, None)
                covered = None if value is None else {CHAIN_HEADER: value}
                headers |= hs.sign_request(
                    key.sign, method="POST", authority=headers["host"],
                    path=unquote(self.path),  # as the peer reads it (httpx, Starlette)
                    body=body, keyid=domain, created=int(time.time()),
                    nonce=secrets.token_urlsafe(18), covered=covered)
                headers |= covered or {}
                r = proxy.http.post(proxy.upstream + self.path, headers=headers, content=body)
                with proxy.lock:
                    proxy.exchanges.append(Exchange(
                        proxy.domain, "POST", self.path, headers, body, r.status_code,
                        dict(r.headers), r.content))
                self.answer(r.status_code, {k.lower(): v for k, v in r.headers.items()
                                            if k.lower() not in HOP_BY_HOP}, r.content)

            do_GET = do_POST = relay  # noqa: N815

        return Handler


@contextmanager
def ext_federation(root: Path, domains: list[str]
                   ) -> Iterator[tuple[dict[str, Provider], dict[str, ExtProxy]]]:
    """``--mimi-transport`` providers for ``domains``, each reached by the others through
    an :class:`ExtProxy` (by domain); started, stopped on exit."""
    provs = federation(root, domains, mimi=True)
    proxies = {p.domain: ExtProxy(p.domain, p.url) for p in provs}
    for p in provs:
        p.peers = {d: x.url for d, x in proxies.items() if d != p.domain}
        p.database = database_for(p.data_dir)
    try:
        for x in proxies.values():
            x.start()
        for p in provs:
            p.start()
        yield {p.domain: p for p in provs}, proxies
    finally:
        for p in provs:
            p.stop()
        for x in proxies.values():
            x.stop()
