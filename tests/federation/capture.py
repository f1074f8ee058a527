"""A recording reverse proxy between loopback providers (issue 22, the proof's capture).

One :class:`RecordingProxy` stands in front of each provider: every other provider's
static peer map (``--peer DOMAIN=URL``) names the proxy's URL for that domain, so every
request a provider sends to a peer, and the peer's answer, crosses it. The proxy
forwards each request unchanged (method, path, headers with the ``Host`` the sender
signed, body) to the real provider and keeps an :class:`Exchange`. Bounded: a forward
times out, bodies and the number of exchanges kept have a ceiling (past it the proxy
answers 503 and the test sees it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from accord.federation.loopback import Provider, federation, free_port
from tests.engine import database_for
from tests.federation import mimi_draft_decoder as draft

FORWARD_TIMEOUT_S = 30.0
MAX_BODY = 4 << 20
MAX_EXCHANGES = 2000
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-connection", "content-length", "content-encoding"}


@dataclass(frozen=True)
class Exchange:
    """One request a provider sent to ``to`` (the peer's domain) and its answer."""

    to: str
    method: str
    path: str
    request_headers: dict[str, str]
    request_body: bytes
    status: int
    response_headers: dict[str, str]
    response_body: bytes
    tls_client: str = ""  # the domain the sender's TLS client certificate names (mTLS)

    @property
    def sender(self) -> str:
        """The signing provider's domain (RFC 9421 ``keyid``, Accord's peer signature),
        or "" for an unsigned request."""
        sig = self.request_headers.get("signature-input", "")
        _, found, rest = sig.partition('keyid="')
        return rest.split('"', 1)[0] if found else ""


class RecordingProxy:
    """Forwards to ``upstream`` (the real provider's URL) and records for ``domain``."""

    def __init__(self, domain: str, upstream: str) -> None:
        self.domain = domain
        self.upstream = upstream
        self.port = free_port()
        self.exchanges: list[Exchange] = []
        self.lock = threading.Lock()
        self.http = httpx.Client(timeout=FORWARD_TIMEOUT_S)
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name=f"proxy {domain}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # the exchanges are the log

            def relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self.answer(413, {}, b"")
                    return
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in HOP_BY_HOP}
                with proxy.lock:
                    full = len(proxy.exchanges) >= MAX_EXCHANGES
                if full:
                    self.answer(503, {}, b"")
                    return
                client, http = proxy.client_for(self)
                try:
                    r = http.request(self.command, proxy.upstream + self.path,
                                     headers=headers, content=body)
                    status, out = r.status_code, r.content[:MAX_BODY]
                    out_headers = {k.lower(): v for k, v in r.headers.items()
                                   if k.lower() not in HOP_BY_HOP}
                except httpx.HTTPError:
                    status, out, out_headers = 502, b"", {}
                with proxy.lock:
                    proxy.exchanges.append(Exchange(
                        proxy.domain, self.command, self.path,
                        {k.lower(): v for k, v in self.headers.items()}, body, status,
                        out_headers, out, client))
                self.answer(status, out_headers, out)

            def answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = relay  # noqa: N815

        return Handler

    def client_for(self, handler: BaseHTTPRequestHandler) -> tuple[str, httpx.Client]:
        """Who sent ``handler``'s request (its TLS client's domain, "" without TLS) and
        the client that forwards it upstream."""
        return "", self.http

    def start(self) -> RecordingProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()
        self.http.close()
        self.thread.join(10)


class Wire:
    """The proxies of a federation: everything providers sent each other, in order."""

    def __init__(self, proxies: list[RecordingProxy]) -> None:
        self.proxies = {p.domain: p for p in proxies}

    def exchanges(self) -> list[Exchange]:
        out: list[Exchange] = []
        for p in self.proxies.values():
            with p.lock:
                out += p.exchanges
        return out

    def mark(self) -> dict[str, int]:
        """Where each proxy's record is now (for :meth:`since`)."""
        return {d: len(p.exchanges) for d, p in self.proxies.items()}

    def since(self, mark: dict[str, int]) -> list[Exchange]:
        out: list[Exchange] = []
        for d, p in self.proxies.items():
            with p.lock:
                out += p.exchanges[mark[d]:]
        return out


# The Accord extension a hub withholds so that its MIMI followers' posts cross as the
# draft's submitMessage (for the tests of the draft's own paths); docs/PROTOCOL.md.
DRAFT_POSTS = ("accord-hiddenSenders",)


@contextmanager
def captured_federation(root: Path, domains: list[str], mimi: bool = True,
                        withhold: Mapping[str, Sequence[str]] | None = None,
                        ) -> Iterator[tuple[dict[str, Provider], Wire]]:
    """Providers for ``domains`` (``mimi``: ``--mimi-transport``) on this run's storage
    engine, each peer reached through a recording proxy; started, stopped on exit.
    ``withhold``: per domain, the Accord extensions its MIMI directory does not list."""
    provs = federation(root, domains, mimi=mimi)
    for p in provs:
        p.withhold = tuple((withhold or {}).get(p.domain, ()))
    proxies = [RecordingProxy(p.domain, p.url) for p in provs]
    via = {x.domain: x.url for x in proxies}
    for p in provs:
        p.peers = {d: url for d, url in via.items() if d != p.domain}
        p.database = database_for(p.data_dir)
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


# ------------------------------------------------------------------ reading the capture

MIMI_PREFIX = "/mimi/v1/"
DIRECTORY_PATH = "/.well-known/mimi-protocol-directory"
ACCORD_KEY_PATH = "/.well-known/accord"  # the RFC 9421 key of Accord's request signatures


def endpoint_of(x: Exchange) -> str:
    """The draft's endpoint name of an exchange (``keyMaterial``, ``update``, ...),
    ``directory``, ``accord-key`` for Accord's peer-key discovery (docs/INTEROP.md 4.1:
    every MIMI request is also signed, the key published there), or ``other``."""
    path = x.path.split("?", 1)[0]
    if path == DIRECTORY_PATH:
        return "directory"
    if path == ACCORD_KEY_PATH:
        return "accord-key"
    if path.startswith(MIMI_PREFIX):
        name = path[len(MIMI_PREFIX):].split("/", 1)[0]
        if name in draft.BODIES or name == "proxyDownload":
            return name
    return "other"


def draft_decode(x: Exchange) -> tuple[str, Any, Any]:
    """The endpoint, request and response of ``x`` decoded with the draft's structures
    (:mod:`tests.federation.mimi_draft_decoder`); ``DraftError`` if a body does not
    decode, or an answer is not a success (the draft defines no error bodies)."""
    name = endpoint_of(x)
    where = f"{x.method} {x.path} (to {x.to}, from {x.sender or 'unsigned'})"
    try:
        if not 200 <= x.status < 300:
            raise draft.DraftError(f"status {x.status}: {x.response_body[:300]!r}")
        if name == "directory":
            if x.method != "GET" or x.request_body:
                raise draft.DraftError("the directory is a GET with no body")
            return name, None, draft.directory(x.response_body)
        if name == "proxyDownload":  # 5.10.2: the asset's bytes, as they are
            if x.method != "GET" or x.request_body:
                raise draft.DraftError("proxyDownload is a GET with no body")
            return name, None, x.response_body
        if name in draft.BODIES:
            if x.method != "POST":
                raise draft.DraftError(f"{name} is a POST")
            req = draft.decode_body(name, "request", x.request_body)
            if draft.BODIES[name][1] is None and x.status != draft.NO_BODY_STATUS:
                raise draft.DraftError(f"{name} answers {draft.NO_BODY_STATUS}, not {x.status}")
            return name, req, draft.decode_body(name, "response", x.response_body)
        raise draft.DraftError("not a MIMI endpoint of the draft")
    except draft.DraftError as exc:
        raise draft.DraftError(f"{where}: {exc}") from None
