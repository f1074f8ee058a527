"""``accord interop serve``: Accord's MLSClient gRPC server (servicer.py) on a port.

Start-up contract (as the ts-mls peer): once the socket is bound, exactly one line
``listening on HOST:PORT`` on stdout; ``--port 0`` lets the OS pick the port.
Peer quirks (quirks.py; not RFC 9420) are off unless asked for; each one on is
named in a line on stderr, so stdout keeps its one line.
"""

from __future__ import annotations

import signal
import sys
import threading
from concurrent import futures
from typing import TextIO

import grpc  # type: ignore[import-untyped]

from accord.interop.proto import mls_client_pb2_grpc as pb_grpc
from accord.interop.quirks import PEER_QUIRKS
from accord.interop.servicer import AccordMLSClient

__all__ = ["serve", "start"]

MAX_MESSAGE = 64 * 1024 * 1024  # deep_random's trees and Welcomes are large


def start(host: str = "127.0.0.1", port: int = 0,
          quirks: frozenset[str] = frozenset()) -> tuple[grpc.Server, int]:
    servicer = AccordMLSClient(quirks)  # ValueError on an unknown quirk, before binding
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        options=[("grpc.max_receive_message_length", MAX_MESSAGE),
                 ("grpc.max_send_message_length", MAX_MESSAGE)],
    )
    pb_grpc.add_MLSClientServicer_to_server(servicer, server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot bind {host}:{port}")
    server.start()
    return server, bound


def serve(host: str, port: int, out: TextIO = sys.stdout,
          quirks: frozenset[str] = frozenset(), err: TextIO = sys.stderr) -> None:
    server, bound = start(host, port, quirks)
    for name in sorted(quirks):
        err.write(f"peer quirk {name} is on: {PEER_QUIRKS[name]}\n")
    err.flush()
    out.write(f"listening on {host}:{bound}\n")
    out.flush()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=2).wait(5)
