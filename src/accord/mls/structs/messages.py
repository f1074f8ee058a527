"""Message framing structures (RFC 9420 6, 8.2).

``FramedContentAuthData`` never stands alone on the wire: its confirmation
tag depends on the content type of the FramedContent before it, so its two
fields are declared inline in each struct that carries it.
"""

from __future__ import annotations

from typing import Annotated

from accord.mls.codec import U8, U16, U32, U64, Fixed, OneOf, Uint, Variant, When, WireStruct, wire
from accord.mls.structs.app_data import AppDataUpdate, SelfRemove
from accord.mls.structs.group_context import GroupContext, KeyPackage
from accord.mls.structs.proposals import (
    Add,
    Commit,
    ExternalInit,
    GroupContextExtensions,
    PreSharedKey,
    Proposal,
    ReInit,
    Remove,
    Update,
)
from accord.mls.structs.welcome import GroupInfo, Welcome

COMMIT = (3,)
ContentTypeField = Annotated[int, Uint(1), OneOf(1, 2, 3)]


@wire
class Sender(WireStruct):
    sender_type: Annotated[int, Uint(1), OneOf(1, 2, 3, 4)]
    # leaf_index for a member, sender_index (into external_senders) for external.
    index: Annotated[int | None, When("sender_type", (1, 2), U32)] = None

    @classmethod
    def member(cls, leaf_index: int) -> Sender:
        return cls(1, leaf_index)


Content = Annotated[
    bytes | Add | Update | Remove | PreSharedKey | ReInit | ExternalInit
    | GroupContextExtensions | AppDataUpdate | SelfRemove | Commit,
    Variant(U8, {1: bytes, 2: Proposal, 3: Commit}),
]


@wire
class FramedContent(WireStruct):
    group_id: bytes
    epoch: U64
    sender: Sender
    authenticated_data: bytes
    # application_data (bytes), a Proposal, or a Commit; the type is the tag.
    content: Content

    @property
    def content_type(self) -> int:
        c = self.content
        return 1 if type(c) is bytes else 3 if type(c) is Commit else 2


@wire
class FramedContentTBS(WireStruct):
    version: U16
    wire_format: U16
    content: FramedContent
    context: Annotated[GroupContext | None, When("content.sender.sender_type", (1, 4), GroupContext)]


@wire
class AuthenticatedContent(WireStruct):
    wire_format: U16
    content: FramedContent
    signature: bytes
    confirmation_tag: Annotated[bytes | None, When("content.content_type", COMMIT, bytes)]


@wire
class AuthenticatedContentTBM(WireStruct):
    content_tbs: FramedContentTBS
    signature: bytes
    confirmation_tag: Annotated[
        bytes | None, When("content_tbs.content.content_type", COMMIT, bytes)
    ]


@wire
class PublicMessage(WireStruct):
    content: FramedContent
    signature: bytes
    confirmation_tag: Annotated[bytes | None, When("content.content_type", COMMIT, bytes)]
    membership_tag: Annotated[bytes | None, When("content.sender.sender_type", (1,), bytes)]


@wire
class PrivateMessage(WireStruct):
    group_id: bytes
    epoch: U64
    content_type: ContentTypeField
    authenticated_data: bytes
    encrypted_sender_data: bytes
    ciphertext: bytes


@wire
class PrivateContentAAD(WireStruct):
    group_id: bytes
    epoch: U64
    content_type: ContentTypeField
    authenticated_data: bytes


@wire
class SenderData(WireStruct):
    leaf_index: U32
    generation: U32
    reuse_guard: Annotated[bytes, Fixed(4)]


@wire
class SenderDataAAD(WireStruct):
    group_id: bytes
    epoch: U64
    content_type: ContentTypeField


@wire
class ConfirmedTranscriptHashInput(WireStruct):
    wire_format: U16
    content: FramedContent
    signature: bytes


@wire
class InterimTranscriptHashInput(WireStruct):
    confirmation_tag: bytes


WIRE_FORMAT_CLASSES: dict[int, type] = {
    1: PublicMessage,
    2: PrivateMessage,
    3: Welcome,
    4: GroupInfo,
    5: KeyPackage,
}


@wire
class MLSMessage(WireStruct):
    version: U16
    message: Annotated[
        PublicMessage | PrivateMessage | Welcome | GroupInfo | KeyPackage,
        Variant(U16, WIRE_FORMAT_CLASSES),
    ]

    @property
    def wire_format(self) -> int:
        for wf, cls in WIRE_FORMAT_CLASSES.items():
            if type(self.message) is cls:
                return wf
        raise AssertionError("unreachable: MLSMessage holds a known message type")

    @property
    def content_type(self) -> int:
        """The content type of a framed message (1 application, 2 proposal, 3 commit);
        0 for a Welcome, GroupInfo or KeyPackage. A ``select`` reads it (MIMI 5.3, 5.5)."""
        m = self.message
        if type(m) is PublicMessage:
            return m.content.content_type
        if type(m) is PrivateMessage:
            return m.content_type
        return 0

    @classmethod
    def wrap(cls, message: PublicMessage | PrivateMessage | Welcome | GroupInfo | KeyPackage) -> MLSMessage:
        return cls(1, message)
