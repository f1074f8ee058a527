"""What the fault tests' fake peers need to be a plain MIMI follower (issue 22).

A fake peer in MIMI mode serves ``/.well-known/mimi-protocol-directory`` (5.1) listing
only its ``notify`` URL (no ``accord-`` extension: a plain MIMI peer, so the hub sends
it the draft's notify, never Accord's deliver) and reads ``POST`` bodies at
:data:`NOTIFY_PATH` as the draft's FanoutMessages (5.5); it accepts with a 201 and
no body. Used by tests/federation/test_outbox.py and tests/faults (one scenario, two
peers: ``accord`` reads Accord's FedDeliver, ``mimi`` this).
"""

from __future__ import annotations

import json

from accord.wire import mimi as w

TRANSPORTS = ("accord", "mimi")
NOTIFY_PATH = "/mimi/v1/notify/"


def directory(base: str) -> bytes:
    """The peer's MIMI directory: its notify endpoint, at its own origin."""
    return json.dumps({"notify": base + NOTIFY_PATH + "{roomId}"}).encode()


def is_notify(path: str) -> bool:
    return path.startswith(NOTIFY_PATH)


def notified(body: bytes) -> list[tuple[str, bytes]]:
    """(kind, sealed body) of each FanoutMessage of a notify body, in order."""
    kinds = {1: "application", 2: "proposal", 3: "commit"}
    out = []
    for fanout in w.FanoutBatch.from_bytes(body).messages:
        message = fanout.message
        kind = "welcome" if message.wire_format == 3 else kinds[message.content_type]
        inner = message.message
        out.append((kind, bytes(getattr(inner, "ciphertext", b""))))
    return out
