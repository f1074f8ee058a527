"""message-protection.json: unprotect the given messages, and protect then unprotect our own.

For each of proposal, commit and application (test-vectors.md, "Message
Protection"): the given PublicMessage (none for application) and
PrivateMessage must unprotect to the raw value; protecting the raw value
ourselves must give messages that unprotect again; and protecting
application data as a PublicMessage must fail. The sender is leaf 1 of a
two-member secret tree rooted at ``encryption_secret``.
"""

from __future__ import annotations

from typing import Any

from accord.errors import ValidationError
from accord.mls import framing
from accord.mls.codec import decode
from accord.mls.secret_tree import SecretTree
from accord.mls.structs.group_context import GroupContext
from accord.mls.structs.messages import (
    FramedContent,
    PrivateMessage,
    PublicMessage,
    Sender,
)
from accord.mls.structs.proposals import Commit, Proposal
from accord.mls.suites import CipherSuite, get_suite
from accord.mls.vectors import VectorMismatch, expect, h

SENDER_LEAF = 1
N_LEAVES = 2


class _Entry:
    """The parsed inputs of one entry, shared by the three content kinds."""

    def __init__(self, entry: dict[str, Any]) -> None:
        self.suite: CipherSuite = get_suite(entry["cipher_suite"])
        self.group_context = GroupContext(
            1,
            entry["cipher_suite"],
            h(entry["group_id"]),
            entry["epoch"],
            h(entry["tree_hash"]),
            h(entry["confirmed_transcript_hash"]),
            (),
        )
        self.signature_priv = h(entry["signature_priv"])
        self.signature_pub = h(entry["signature_pub"])
        self.encryption_secret = h(entry["encryption_secret"])
        self.sender_data_secret = h(entry["sender_data_secret"])
        self.membership_key = h(entry["membership_key"])

    def tree(self) -> SecretTree:
        return SecretTree.create(self.suite, self.encryption_secret, N_LEAVES)

    def content(self, value: Any, authenticated_data: bytes = b"") -> FramedContent:
        gc = self.group_context
        return FramedContent(
            gc.group_id, gc.epoch, Sender.member(SENDER_LEAF), authenticated_data, value
        )


def check(entry: dict[str, Any]) -> None:
    e = _Entry(entry)
    kinds: tuple[tuple[str, Any], ...] = (
        ("proposal", decode(Proposal, h(entry["proposal"]))),
        ("commit", decode(Commit, h(entry["commit"]))),
        ("application", h(entry["application"])),
    )
    for name, value in kinds:
        tag = None
        if name != "application":
            tag = _check_public(e, name, value, h(entry[f"{name}_pub"]))
        else:
            _check_public_application_fails(e, value)
        _check_private(e, name, value, h(entry[f"{name}_priv"]), tag)


def _unwrap(name: str, data: bytes, cls: type) -> Any:
    message = framing.read_framed_message(data)
    if type(message) is not cls:
        raise VectorMismatch(f"{name}: not a {cls.__name__}")
    return message


def _check_public(e: _Entry, name: str, value: Any, data: bytes) -> bytes | None:
    """Unprotect the given PublicMessage, then round-trip our own; returns the commit's tag."""
    message = _unwrap(f"{name}_pub", data, PublicMessage)
    auth = framing.unprotect_public(
        e.suite, message, e.signature_pub, e.group_context, e.membership_key
    )
    expect(f"{name}_pub content", auth.content.content, value)
    # A commit's confirmation tag comes from the next epoch's key schedule,
    # which this vector does not give; the one of the given message serves.
    ours = framing.protect_public(
        e.suite,
        e.content(value),
        e.signature_priv,
        e.group_context,
        e.membership_key,
        confirmation_tag=auth.confirmation_tag,
    )
    again = framing.unprotect_public(
        e.suite,
        PublicMessage.from_bytes(ours.to_bytes()),
        e.signature_pub,
        e.group_context,
        e.membership_key,
    )
    expect(f"{name} protected as PublicMessage, content", again.content.content, value)
    return auth.confirmation_tag


def _check_public_application_fails(e: _Entry, value: bytes) -> None:
    try:
        framing.protect_public(
            e.suite, e.content(value), e.signature_priv, e.group_context, e.membership_key
        )
    except ValidationError:
        return
    raise VectorMismatch("application data protected as a PublicMessage did not fail")


def _check_private(e: _Entry, name: str, value: Any, data: bytes, tag: bytes | None) -> None:
    message = _unwrap(f"{name}_priv", data, PrivateMessage)
    members = range(N_LEAVES)
    auth, _ = framing.unprotect_private(
        e.suite, e.tree(), e.sender_data_secret, message, e.signature_pub, e.group_context, members
    )
    expect(f"{name}_priv content", auth.content.content, value)
    expect(f"{name}_priv sender", auth.content.sender, Sender.member(SENDER_LEAF))
    ours, _ = framing.protect_private(
        e.suite,
        e.tree(),
        e.sender_data_secret,
        e.content(value),
        e.signature_priv,
        e.group_context,
        confirmation_tag=tag,
    )
    again, _ = framing.unprotect_private(
        e.suite,
        e.tree(),
        e.sender_data_secret,
        PrivateMessage.from_bytes(ours.to_bytes()),
        e.signature_pub,
        e.group_context,
        members,
    )
    expect(f"{name} protected as PrivateMessage, content", again.content.content, value)
