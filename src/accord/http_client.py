"""The HTTP and WebSocket clients of devices and providers: they name no software (T15).

httpx sends ``User-Agent: python-httpx/x.y`` and the websockets library
``User-Agent: Python/3.x websockets/x.y`` unless told otherwise; either tells
a provider or a network observer which library and version to attack.
Every client of the device (its provider API, its WebSocket, its key
transparency requests) and of a provider (federation requests to peers) is
made here, with no ``User-Agent`` at all, and an ``Accept-Encoding`` that
does not depend on which compression packages are installed.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx

# httpx offers br and zstd only when brotli or zstandard is installed; a fixed list
# says nothing about the installation.
ACCEPT_ENCODING = "gzip, deflate"


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verifying context (certifi, or ``$SSL_CERT_FILE``), made once per
    process: loading the CA bundle costs ~0.1 s, and a command makes several clients."""
    return httpx.create_ssl_context()


def async_client(**kw: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` (same arguments) that sends no ``User-Agent``."""
    kw.setdefault("verify", tls_context())
    client = httpx.AsyncClient(**kw)
    client.headers.pop("User-Agent", None)
    client.headers["Accept-Encoding"] = ACCEPT_ENCODING
    return client


def get(url: str, **kw: Any) -> httpx.Response:
    """One ``GET`` without a ``User-Agent`` (health checks of a local provider)."""
    with httpx.Client(**kw) as client:
        client.headers.pop("User-Agent", None)
        client.headers["Accept-Encoding"] = ACCEPT_ENCODING
        return client.get(url)


def ws_connect(url: str, **kw: Any) -> Any:
    """``websockets.connect`` (same arguments) without the ``User-Agent`` header."""
    import websockets  # push and listen only: a send or a read does not load it

    return websockets.connect(url, user_agent_header=None, **kw)
