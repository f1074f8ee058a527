"""Accord's extensions to the MIMI transport that travel beside the draft's bodies
(docs/PROTOCOL.md, "Accord extensions to MIMI"), each declared once in the TLS
presentation language (``accord.mls.codec``).

- ``accord-forkDetection``: the hub's handshake chain links (T07) of a notify's
  FanoutMessages, in the signed request header :data:`CHAIN_HEADER`, so the draft's
  notify body stays byte-exact;
- ``accord-firstContact``: a commit's sealed first-contact requests (issue 18) with
  its update (5.3) and with its Welcome's notify (5.5), in a body that wraps the
  draft's body whole (:class:`FirstContactCarrier`).

A provider uses one towards a peer only when the peer's MIMI directory lists it.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from accord.errors import DecodeError
from accord.mls.codec import U8, U64, Fixed, WireStruct, wire

FORK_DETECTION = "accord-forkDetection"
FIRST_CONTACT = "accord-firstContact"
CHAIN_HEADER = "accord-handshake-chain"  # a signed component (RFC 9421 2.1)
MAX_HEADER = 8192


@wire
class FanoutChainLink(WireStruct):
    """The hub's chain link of the notify body's FanoutMessage at ``index``."""

    index: U8
    chain_seq: U64
    chain: Annotated[bytes, Fixed(32)]


@wire
class FanoutChainLinks(WireStruct):
    links: tuple[FanoutChainLink, ...]


def chain_header(links: FanoutChainLinks) -> str:
    """The header's value: the links as an RFC 8941 byte sequence."""
    return ":" + base64.b64encode(links.to_bytes()).decode() + ":"


def links_of_header(value: str, count: int) -> dict[int, tuple[int, bytes]]:
    """``index -> (chain_seq, chain)`` of a notify of ``count`` FanoutMessages; a
    DecodeError for a malformed header, an index out of range or named twice."""
    value = value.strip()
    if len(value) > MAX_HEADER or len(value) < 2 or value[0] != ":" or value[-1] != ":":
        raise DecodeError(f"{CHAIN_HEADER} is not a byte sequence (RFC 8941 3.3.5)")
    try:
        raw = base64.b64decode(value[1:-1], validate=True)
    except binascii.Error:
        raise DecodeError(f"{CHAIN_HEADER} is not base64") from None
    out: dict[int, tuple[int, bytes]] = {}
    for link in FanoutChainLinks.from_bytes(raw).links:
        if link.index >= count or link.index in out:
            raise DecodeError(f"{CHAIN_HEADER} names a FanoutMessage twice or out of range")
        out[link.index] = (link.chain_seq, link.chain)
    return out
