"""Opt-in peer quirks of Accord's MLSClient server (``accord interop serve --peer-quirk``).

A quirk makes the server deviate from RFC 9420 in one named way so that a
specific peer with a known bug can still run a scenario against Accord. None is
on by default; the messenger never uses them. Kept free of gRPC imports so the
CLI can list the names cheaply.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["PEER_QUIRKS", "TSMLS_EXTERNAL_PUB", "check_quirks"]

TSMLS_EXTERNAL_PUB = "tsmls-external-pub"

PEER_QUIRKS: dict[str, str] = {
    TSMLS_EXTERNAL_PUB: "write external_pub as the bare key, as ts-mls 1.6.4 reads it "
                        "(not RFC 9420 12.4.3.2)",
}


def check_quirks(names: Iterable[str]) -> frozenset[str]:
    """The names as a set; ValueError on any name not in PEER_QUIRKS."""
    quirks = frozenset(names)
    unknown = sorted(quirks - PEER_QUIRKS.keys())
    if unknown:
        raise ValueError(f"unknown peer quirk(s) {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(PEER_QUIRKS))}")
    return quirks
