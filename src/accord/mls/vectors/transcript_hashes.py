"""transcript-hashes.json: transcript hash updates and the confirmation tag (RFC 9420 8.2)."""

from __future__ import annotations

from typing import Any

from accord.mls.structs import AuthenticatedContent, Commit
from accord.mls.suites import get_suite
from accord.mls.transcript import update_transcript_hashes, verify_confirmation_tag
from accord.mls.vectors import VectorMismatch, expect, h


def check(entry: dict[str, Any]) -> None:
    suite = get_suite(int(entry["cipher_suite"]))
    ac = AuthenticatedContent.from_bytes(h(entry["authenticated_content"]))
    if type(ac.content.content) is not Commit or ac.confirmation_tag is None:
        raise VectorMismatch("authenticated_content does not carry a Commit")
    confirmed_after = h(entry["confirmed_transcript_hash_after"])
    verify_confirmation_tag(
        suite, h(entry["confirmation_key"]), confirmed_after, ac.confirmation_tag
    )
    confirmed, interim = update_transcript_hashes(
        suite,
        h(entry["interim_transcript_hash_before"]),
        ac.wire_format,
        ac.content.to_bytes(),
        ac.signature,
        ac.confirmation_tag,
    )
    expect("confirmed_transcript_hash_after", confirmed, confirmed_after)
    expect("interim_transcript_hash_after", interim, entry["interim_transcript_hash_after"])
