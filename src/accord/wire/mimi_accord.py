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
import re
from typing import Annotated

from accord.errors import DecodeError
from accord.mls.codec import U8, U64, Fixed, OneOf, Uint, WireStruct, wire
from accord.wire.messages import DEVICE_ID_RE, MAX_FIRST_CONTACT, SealedFirstContact

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


# ------------------------------------------------------------------ accord-firstContact

UPDATE, NOTIFY = 1, 2  # the draft endpoint a FirstContactCarrier wraps
MAX_CARRIED = 1000  # sealed requests in one carrier (one per added device)


@wire
class CarriedFirstContact(WireStruct):
    """One sealed first-contact request (issue 18) for the added device ``device_id``."""

    device_id: bytes  # UTF-8, Accord's device id: the last segment of its client URI
    sealed: bytes  # 1..4096 octets, opened by that device alone


@wire
class FirstContactCarrier(WireStruct):
    """A draft request body (``update``, 5.3, or ``notify``, 5.5) unchanged, with the
    sealed first-contact requests of the commit or of the notify's Welcomes."""

    endpoint: Annotated[int, Uint(1), OneOf(UPDATE, NOTIFY)]
    mimi_body: bytes
    first_contact: tuple[CarriedFirstContact, ...]


def carry(endpoint: int, body: bytes, sealed: list[SealedFirstContact]) -> FirstContactCarrier:
    return FirstContactCarrier(endpoint, body, tuple(
        CarriedFirstContact(s.device_id.encode(), s.sealed) for s in sealed))


def carried(carrier: FirstContactCarrier) -> list[SealedFirstContact]:
    """The carrier's sealed requests; a DecodeError for a malformed one."""
    if len(carrier.first_contact) > MAX_CARRIED:
        raise DecodeError("too many sealed first-contact requests")
    out = []
    for c in carrier.first_contact:
        device = c.device_id.decode("utf-8", "replace")
        if re.fullmatch(DEVICE_ID_RE, device) is None or not 0 < len(c.sealed) <= (
                MAX_FIRST_CONTACT):
            raise DecodeError("a sealed first-contact request is malformed")
        out.append(SealedFirstContact(device, c.sealed))
    return out
