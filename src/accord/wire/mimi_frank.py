"""The structures of MIMI franking (draft-ietf-mimi-protocol-06 5.4.1), declared once.

- ``FrankingAgentData``: the ``franking_agent`` GroupContext component (0x0021,
  section 10.2): the hub's franking signature key and a basic credential naming
  the hub's domain;
- ``ServerFrankingContext``: what the hub binds into its ``server_frank``
  besides the sender's ``franking_tag``: the sender URI it was given, the room
  URI and its accepted time;
- ``FrankingIntegrityTBS``: what the hub signs (``SignWithLabel``, label
  :data:`INTEGRITY_LABEL`) so that a receiver can tell that no follower
  provider changed the frank or its context.

The ``Frank`` itself (the submit answer's and the fan-out's) is in
:mod:`accord.wire.mimi`. Accord's one extension of the context: a post whose
sender the hub does not learn (Accord's hidden senders, T11) is franked with an
empty ``sender_uri`` (:data:`HIDDEN_SENDER`), docs/PROTOCOL.md "Franking".
"""

from __future__ import annotations

from typing import Annotated

from accord.errors import DecodeError
from accord.mls.codec import U16, U64, Fixed, WireStruct, wire
from accord.mls.structs import Credential
from accord.wire.mimi import Frank, IdentifierUri

__all__ = [
    "HIDDEN_SENDER",
    "INTEGRITY_LABEL",
    "FrankingAgentData",
    "FrankingIntegrityTBS",
    "ServerFrankingContext",
    "decode_frank",
]

INTEGRITY_LABEL = "FrankingIntegrityTBS"
HIDDEN_SENDER = IdentifierUri(b"")


@wire
class FrankingAgentData(WireStruct):
    franking_signature_key: bytes
    credential: Credential


@wire
class ServerFrankingContext(WireStruct):
    sender_uri: IdentifierUri
    room_uri: IdentifierUri
    accepted_timestamp: U64


@wire
class FrankingIntegrityTBS(WireStruct):
    server_frank: Annotated[bytes, Fixed(32)]
    franking_signature_ciphersuite: U16
    context: ServerFrankingContext


def decode_frank(raw: bytes | None) -> Frank | None:
    """The Frank Accord's queues carry encoded (``frank`` of an item), or None: none,
    or bytes that are not a Frank (a tag filed by an older version) frank nothing."""
    if raw is None:
        return None
    try:
        return Frank.from_bytes(raw)
    except DecodeError:
        return None
