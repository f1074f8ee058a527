"""Units of accord-forkDetection over MIMI (issue 22): the signed chain header
(docs/PROTOCOL.md "accord-forkDetection") and its reading."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from accord.errors import AuthError, DecodeError
from accord.federation import http_signatures as hs
from accord.wire import mimi_accord as x

KEY = Ed25519PrivateKey.generate()
PUB = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
LINKS = x.FanoutChainLinks((x.FanoutChainLink(0, 3, bytes(32)),
                            x.FanoutChainLink(2, 4, b"\x01" * 32)))


def signed(covered: dict[str, str] | None) -> dict[str, str]:
    headers = hs.sign_request(KEY.sign, method="POST", authority="beta.test",
                              path="/mimi/v1/notify/r", body=b"body", keyid="alpha.test",
                              created=1, nonce="n" * 20, covered=covered)
    return {k.lower(): v for k, v in (headers | (covered or {})).items()}


def verify(headers: dict[str, str]) -> None:
    claim = hs.parse_signature(headers)
    covered = hs.covered_headers(claim, headers)
    hs.verify_request(claim, PUB, method="POST", authority="beta.test",
                      path="/mimi/v1/notify/r", digest=hs.check_digest(headers, b"body"),
                      covered=covered)


def test_the_chain_header_is_covered_by_the_request_signature() -> None:
    value = x.chain_header(LINKS)
    verify(signed({x.CHAIN_HEADER: value}))
    verify(signed(None))  # without the extension: Accord's one form, as before
    assert '"content-digest" "accord-handshake-chain")' in signed(
        {x.CHAIN_HEADER: value})["signature-input"]


def test_T07_a_chain_header_changed_on_the_way_is_refused() -> None:
    headers = signed({x.CHAIN_HEADER: x.chain_header(LINKS)})
    headers[x.CHAIN_HEADER] = x.chain_header(x.FanoutChainLinks(LINKS.links[:1]))
    with pytest.raises(AuthError):
        verify(headers)


def test_T07_a_chain_header_the_signature_does_not_cover_is_refused() -> None:
    headers = signed(None) | {x.CHAIN_HEADER: x.chain_header(LINKS)}
    with pytest.raises(AuthError, match="covered"):
        verify(headers)
    covered = signed({x.CHAIN_HEADER: x.chain_header(LINKS)})
    del covered[x.CHAIN_HEADER]  # signed, then left out
    with pytest.raises(AuthError, match="covered"):
        verify(covered)


def test_chain_links_read_by_position() -> None:
    assert x.links_of_header(x.chain_header(LINKS), 3) == {0: (3, bytes(32)),
                                                            2: (4, b"\x01" * 32)}
    for bad, count in ((x.chain_header(LINKS), 2),  # index 2 of a notify of two
                       (x.chain_header(x.FanoutChainLinks(LINKS.links[:1] * 2)), 3),
                       ("AAAA", 3), (":***:", 3), (":AQ==:", 3)):
        with pytest.raises(DecodeError):
            x.links_of_header(bad, count)
