"""messages.json: every field decodes with its structure and re-encodes byte-for-byte."""

from __future__ import annotations

from typing import Any

from accord.mls import structs as s
from accord.mls.codec import decode, encode
from accord.mls.vectors import VectorMismatch, expect, h

FIELDS: dict[str, Any] = {
    "mls_welcome": s.MLSMessage,
    "mls_group_info": s.MLSMessage,
    "mls_key_package": s.MLSMessage,
    "ratchet_tree": s.RatchetTree,
    "group_secrets": s.GroupSecrets,
    "add_proposal": s.Add,
    "update_proposal": s.Update,
    "remove_proposal": s.Remove,
    "pre_shared_key_proposal": s.PreSharedKey,
    "re_init_proposal": s.ReInit,
    "external_init_proposal": s.ExternalInit,
    "group_context_extensions_proposal": s.GroupContextExtensions,
    "commit": s.Commit,
    "public_message_application": s.MLSMessage,
    "public_message_proposal": s.MLSMessage,
    "public_message_commit": s.MLSMessage,
    "private_message": s.MLSMessage,
}

# The wire format and content type each MLSMessage field must carry.
EXPECTED_KIND: dict[str, tuple[int, int | None]] = {
    "mls_welcome": (s.WireFormat.WELCOME, None),
    "mls_group_info": (s.WireFormat.GROUP_INFO, None),
    "mls_key_package": (s.WireFormat.KEY_PACKAGE, None),
    "public_message_application": (s.WireFormat.PUBLIC_MESSAGE, s.ContentType.APPLICATION),
    "public_message_proposal": (s.WireFormat.PUBLIC_MESSAGE, s.ContentType.PROPOSAL),
    "public_message_commit": (s.WireFormat.PUBLIC_MESSAGE, s.ContentType.COMMIT),
    "private_message": (s.WireFormat.PRIVATE_MESSAGE, None),
}


def check(entry: dict[str, Any]) -> None:
    for name, hint in FIELDS.items():
        if name not in entry:
            raise VectorMismatch(f"{name}: missing from the entry")
        data = h(entry[name])
        value = decode(hint, data)
        expect(f"{name} re-encoded", encode(hint, value), data)
        if name in EXPECTED_KIND:
            wire_format, content_type = EXPECTED_KIND[name]
            expect(f"{name} wire_format", value.wire_format, wire_format)
            if content_type is not None:
                expect(f"{name} content_type", value.message.content.content_type, content_type)
