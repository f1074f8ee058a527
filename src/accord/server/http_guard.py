"""A deadline and a size bound on each request head, around uvicorn's HTTP protocol.

uvicorn closes an idle keep-alive connection, but any byte received cancels
that timer and nothing bounds the time a client may take to finish a
request's head: a client that sends a partial head and then one byte every
few seconds (slowloris) holds a connection, its buffers and a file
descriptor for ever, and many such clients exhaust the provider. The
parser (httptools) also keeps every header line it is sent.

So, from the moment a connection opens, or a request has been answered and
its body fully received, until the next request's head is complete, the
connection has ``head_timeout_s`` seconds and ``max_head_bytes`` bytes;
past either it is closed. Bodies are
bounded in size and time by the endpoints (``read_body``: 413, 408),
WebSocket frames by uvicorn's ``ws_max_size``.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEAD_TIMEOUT_S = 10.0
MAX_HEAD_BYTES = 32 * 1024
_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
              b"content-length: 0\r\nconnection: close\r\n\r\n")


class GuardedHttp(HttpToolsProtocol):
    head_timeout_s: float = HEAD_TIMEOUT_S
    max_head_bytes: int = MAX_HEAD_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._in_body = False  # between a head and the end of its body
        self._tls: dict[str, Any] | None = None

    def _await_head(self) -> None:
        self._head_done()
        self._head_bytes = 0
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_expired)

    def _head_done(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_expired(self) -> None:
        self._head_timer = None
        serving = self.cycle is not None and not self.cycle.response_complete
        if not serving and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._tls = _tls_extension(transport.get_extra_info("ssl_object"))
        self._await_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._tls is not None:  # the ASGI TLS extension (uvicorn itself sets none)
            extensions: dict[str, Any] = {**self.scope.get("extensions", {}), "tls": self._tls}
            self.scope["extensions"] = extensions

    def data_received(self, data: bytes) -> None:
        awaiting = self._head_timer is not None
        super().data_received(data)
        if awaiting and self._head_timer is not None:  # the head is still incomplete
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes and not self.transport.is_closing():
                self._head_done()
                self.transport.write(_TOO_LARGE)
                self.transport.close()

    def on_headers_complete(self) -> None:
        self._head_done()
        self._in_body = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        super().on_message_complete()
        # A request answered before its body arrived (413): the next head starts now.
        answered = self.cycle is not None and self.cycle.response_complete
        if answered and not self.transport.is_closing():
            self._await_head()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self._in_body and not self.transport.is_closing():
            self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_done()
        super().connection_lost(exc)


def _tls_extension(ssl_object: ssl.SSLObject | None) -> dict[str, Any] | None:
    """The ASGI ``tls`` scope extension of a connection: the client's certificate (PEM),
    which the handshake verified against the trust anchors (``--peer-ca``), if any."""
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return {"client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
            "client_cert_name": None, "client_cert_error": None, "server_cert": None,
            "tls_version": None, "cipher_suite": None}


def guarded_http(head_timeout_s: float, max_head_bytes: int = MAX_HEAD_BYTES) -> type[GuardedHttp]:
    """The protocol class uvicorn runs (``uvicorn.run(http=...)``), with these bounds."""
    return type("AccordHttp", (GuardedHttp,),
                {"head_timeout_s": head_timeout_s, "max_head_bytes": max_head_bytes})
