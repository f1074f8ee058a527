"""psk_secret.json: chaining external PSKs into psk_secret (RFC 9420 8.4)."""

from __future__ import annotations

from typing import Any

from accord.mls.psk import psk_secret
from accord.mls.structs import PreSharedKeyID
from accord.mls.suites import get_suite
from accord.mls.vectors import expect, h


def check(entry: dict[str, Any]) -> None:
    suite = get_suite(int(entry["cipher_suite"]))
    psks = [
        (PreSharedKeyID.external(h(p["psk_id"]), h(p["psk_nonce"])), h(p["psk"]))
        for p in entry["psks"]
    ]
    expect("psk_secret", psk_secret(suite, psks), entry["psk_secret"])
