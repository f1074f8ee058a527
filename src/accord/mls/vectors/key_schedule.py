"""key-schedule.json: epoch secrets, exporter and external_pub (RFC 9420 8, 8.5)."""

from __future__ import annotations

from typing import Any

from accord.mls.key_schedule import derive_epoch
from accord.mls.structs import GroupContext
from accord.mls.suites import get_suite
from accord.mls.vectors import expect, h

_SECRETS = (
    "joiner_secret",
    "welcome_secret",
    "init_secret",
    "sender_data_secret",
    "encryption_secret",
    "exporter_secret",
    "epoch_authenticator",
    "external_secret",
    "confirmation_key",
    "membership_key",
    "resumption_psk",
)


def check(entry: dict[str, Any]) -> None:
    cs = int(entry["cipher_suite"])
    suite = get_suite(cs)
    group_id = h(entry["group_id"])
    init_secret = h(entry["initial_init_secret"])
    for n, ep in enumerate(entry["epochs"]):
        gc = GroupContext(
            1, cs, group_id, n, h(ep["tree_hash"]), h(ep["confirmed_transcript_hash"]), ()
        ).to_bytes()
        expect(f"epochs[{n}].group_context", gc, ep["group_context"])
        psk = h(ep["psk_secret"]) or None
        secrets = derive_epoch(suite, init_secret, h(ep["commit_secret"]), psk, gc)
        for name in _SECRETS:
            expect(f"epochs[{n}].{name}", getattr(secrets, name), ep[name])
        expect(f"epochs[{n}].external_pub", secrets.external_pub(), ep["external_pub"])
        ex = ep["exporter"]
        got = secrets.exporter(ex["label"], h(ex["context"]), int(ex["length"]))
        expect(f"epochs[{n}].exporter.secret", got, ex["secret"])
        init_secret = secrets.init_secret
