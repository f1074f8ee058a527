"""Message framing (RFC 9420 6): round trips per suite and the checks a receiver makes.

Adversarial tests carry the THREATS.md row they answer: T03 (tampering: every
single-bit flip is rejected) and T04 (replay: a used generation is refused).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import AccordError, CryptoError, DecodeError, ValidationError
from accord.mls import framing
from accord.mls.codec import encode
from accord.mls.secret_tree import (
    GenerationUnavailable,
    RatchetType,
    SecretTree,
    sender_data_key_nonce,
)
from accord.mls.structs.enums import SenderType, WireFormat
from accord.mls.structs.group_context import GroupContext
from accord.mls.structs.messages import (
    AuthenticatedContent,
    FramedContent,
    MLSMessage,
    PrivateContentAAD,
    PrivateMessage,
    PublicMessage,
    Sender,
    SenderData,
    SenderDataAAD,
)
from accord.mls.structs.proposals import Commit, Remove
from accord.mls.suites import CipherSuite, get_suite

SUITES = range(1, 8)
N_LEAVES = 4
SENDER = 1


@dataclasses.dataclass(frozen=True)
class Epoch:
    """The values of one epoch that framing needs, for one sender."""

    suite: CipherSuite
    context: GroupContext
    priv: bytes
    pub: bytes
    encryption_secret: bytes
    sender_data_secret: bytes
    membership_key: bytes

    def tree(self) -> SecretTree:
        return SecretTree.create(self.suite, self.encryption_secret, N_LEAVES)

    def content(
        self, value: bytes | Remove | Commit, sender: Sender | None = None
    ) -> FramedContent:
        sender = sender or Sender.member(SENDER)
        return FramedContent(self.context.group_id, self.context.epoch, sender, b"ad", value)


@cache
def epoch(suite_id: int) -> Epoch:
    suite = get_suite(suite_id)
    priv, pub = suite.generate_signature_key_pair()
    nh = suite.hash_len
    context = GroupContext(1, suite_id, b"group-1", 7, bytes(nh), bytes(range(nh)), ())
    return Epoch(suite, context, priv, pub, bytes([1]) * nh, bytes([2]) * nh, bytes([3]) * nh)


def private_round_trip(
    e: Epoch, value: bytes | Remove | Commit, tag: bytes | None = None
) -> tuple[PrivateMessage, AuthenticatedContent]:
    message, _ = framing.protect_private(
        e.suite,
        e.tree(),
        e.sender_data_secret,
        e.content(value),
        e.priv,
        e.context,
        confirmation_tag=tag,
    )
    wire = encode(MLSMessage, MLSMessage.wrap(message))
    received = framing.read_framed_message(wire)
    assert isinstance(received, PrivateMessage)
    auth, _ = framing.unprotect_private(
        e.suite, e.tree(), e.sender_data_secret, received, e.pub, e.context, range(N_LEAVES)
    )
    return message, auth


CONTENTS: list[tuple[str, bytes | Remove | Commit, bytes | None]] = [
    ("application", b"hello, group", None),
    ("proposal", Remove(2), None),
    ("commit", Commit((Remove(3),), None), b"\x07" * 32),
]


@pytest.mark.parametrize("suite_id", SUITES)
@pytest.mark.parametrize(("kind", "value", "tag"), CONTENTS, ids=[c[0] for c in CONTENTS])
def test_private_round_trip(suite_id: int, kind: str, value: object, tag: bytes | None) -> None:
    e = epoch(suite_id)
    _, auth = private_round_trip(e, value, tag)  # type: ignore[arg-type]
    assert auth.content == e.content(value)  # type: ignore[arg-type]
    assert auth.confirmation_tag == tag
    assert auth.wire_format == WireFormat.PRIVATE_MESSAGE


@pytest.mark.parametrize("suite_id", SUITES)
@pytest.mark.parametrize(("kind", "value", "tag"), CONTENTS[1:], ids=[c[0] for c in CONTENTS[1:]])
def test_public_round_trip(suite_id: int, kind: str, value: object, tag: bytes | None) -> None:
    e = epoch(suite_id)
    message = framing.protect_public(
        e.suite,
        e.content(value),
        e.priv,
        e.context,
        e.membership_key,
        tag,  # type: ignore[arg-type]
    )
    received = framing.read_framed_message(encode(MLSMessage, MLSMessage.wrap(message)))
    assert isinstance(received, PublicMessage)
    auth = framing.unprotect_public(e.suite, received, e.pub, e.context, e.membership_key)
    assert auth.content == e.content(value)  # type: ignore[arg-type]
    assert auth.confirmation_tag == tag


def test_commit_in_two_steps_signs_before_the_tag() -> None:
    e = epoch(1)
    content = e.content(Commit((), None))
    auth = framing.sign_content(e.suite, WireFormat.PRIVATE_MESSAGE, content, e.priv, e.context)
    with pytest.raises(ValidationError, match="6.1"):
        framing.private_message_from(e.suite, e.tree(), e.sender_data_secret, auth)
    auth = framing.with_confirmation_tag(auth, b"tag")
    message, _ = framing.private_message_from(e.suite, e.tree(), e.sender_data_secret, auth)
    got, _ = framing.unprotect_private(
        e.suite, e.tree(), e.sender_data_secret, message, e.pub, e.context, {SENDER}
    )
    assert got == auth


def test_application_data_is_never_a_public_message() -> None:
    e = epoch(1)
    with pytest.raises(ValidationError, match="RFC 9420 6"):
        framing.protect_public(e.suite, e.content(b"x"), e.priv, e.context, e.membership_key)


def test_external_sender_public_message_has_no_membership_tag() -> None:
    e = epoch(2)
    content = e.content(Remove(0), Sender(SenderType.EXTERNAL, 0))
    message = framing.protect_public(e.suite, content, e.priv, None, None)
    assert message.membership_tag is None
    auth = framing.unprotect_public(e.suite, message, lambda c: e.pub, e.context, None)
    assert auth.content == content


def test_signature_is_bound_to_the_wire_format() -> None:
    e = epoch(1)
    auth = framing.sign_content(
        e.suite, WireFormat.PUBLIC_MESSAGE, e.content(Remove(0)), e.priv, e.context
    )
    forged = dataclasses.replace(auth, wire_format=WireFormat.PRIVATE_MESSAGE)
    with pytest.raises(CryptoError):
        framing.verify_content(e.suite, forged, e.pub, e.context)


def test_wrong_signature_key_is_rejected() -> None:
    e = epoch(1)
    message, _ = framing.protect_private(
        e.suite, e.tree(), e.sender_data_secret, e.content(b"x"), e.priv, e.context
    )
    other = e.suite.generate_signature_key_pair()[1]
    with pytest.raises(CryptoError):
        framing.unprotect_private(
            e.suite, e.tree(), e.sender_data_secret, message, other, e.context, range(N_LEAVES)
        )


# --------------------------------------------------------------------------
# Receiver checks


def test_wrong_epoch_is_rejected() -> None:
    e = epoch(1)
    message, _ = framing.protect_private(
        e.suite, e.tree(), e.sender_data_secret, e.content(b"x"), e.priv, e.context
    )
    later = dataclasses.replace(e.context, epoch=e.context.epoch + 1)
    with pytest.raises(ValidationError) as info:
        framing.unprotect_private(
            e.suite, e.tree(), e.sender_data_secret, message, e.pub, later, range(N_LEAVES)
        )
    assert info.value.rule == "RFC 9420 12.4.2"
    public = framing.protect_public(
        e.suite, e.content(Remove(0)), e.priv, e.context, e.membership_key
    )
    with pytest.raises(ValidationError, match="12.4.2"):
        framing.unprotect_public(e.suite, public, e.pub, later, e.membership_key)


def test_non_member_sender_is_rejected() -> None:
    e = epoch(1)
    message, _ = framing.protect_private(
        e.suite, e.tree(), e.sender_data_secret, e.content(b"x"), e.priv, e.context
    )
    with pytest.raises(ValidationError) as info:
        framing.unprotect_private(
            e.suite, e.tree(), e.sender_data_secret, message, e.pub, e.context, {0, 2, 3}
        )
    assert info.value.rule == "RFC 9420 6.3.2"
    with pytest.raises(ValidationError, match="6.3.2"):
        framing.unprotect_private(
            e.suite, e.tree(), e.sender_data_secret, message, e.pub, e.context, lambda i: i != 1
        )


def test_only_members_send_private_messages() -> None:
    e = epoch(1)
    content = e.content(Remove(0), Sender(SenderType.EXTERNAL, 0))
    with pytest.raises(ValidationError, match="6.3.2"):
        framing.protect_private(e.suite, e.tree(), e.sender_data_secret, content, e.priv, None)  # type: ignore[arg-type]


def _encrypt_plaintext(e: Epoch, plaintext: bytes, content_type: int = 1) -> PrivateMessage:
    """A PrivateMessage around a chosen PrivateMessageContent, built step by step (6.3)."""
    ctx, guard = e.context, b"\x00\x00\x00\x00"
    kind = RatchetType.for_content_type(content_type)
    key, _ = e.tree().next_key(SENDER, kind)
    aad = encode(PrivateContentAAD, PrivateContentAAD(ctx.group_id, ctx.epoch, content_type, b"ad"))
    ciphertext = e.suite.aead_encrypt(key.key, key.nonce, aad, plaintext)
    sd_key, sd_nonce = sender_data_key_nonce(e.suite, e.sender_data_secret, ciphertext)
    sd = encode(SenderData, SenderData(SENDER, key.generation, guard))
    sd_aad = encode(SenderDataAAD, SenderDataAAD(ctx.group_id, ctx.epoch, content_type))
    encrypted = e.suite.aead_encrypt(sd_key, sd_nonce, sd_aad, sd)
    return PrivateMessage(ctx.group_id, ctx.epoch, content_type, b"ad", encrypted, ciphertext)


def test_non_zero_padding_is_rejected() -> None:
    e = epoch(1)
    auth = framing.sign_content(
        e.suite, WireFormat.PRIVATE_MESSAGE, e.content(b"x"), e.priv, e.context
    )
    plaintext = framing.encode_private_content(auth, framing.ACCORD_BUCKETS)
    assert plaintext.endswith(b"\x00" * 16)
    # The honest plaintext, encrypted by hand, is accepted ...
    good = _encrypt_plaintext(e, plaintext)
    got, _ = framing.unprotect_private(
        e.suite, e.tree(), e.sender_data_secret, good, e.pub, e.context, range(N_LEAVES)
    )
    assert got == auth
    # ... and a single non-zero padding byte anywhere rejects it (6.3.1).
    for i in (len(plaintext) - 1, len(plaintext) - 16):
        bad = plaintext[:i] + b"\x01" + plaintext[i + 1 :]
        message = _encrypt_plaintext(e, bad)
        with pytest.raises(DecodeError, match="6.3.1"):
            framing.unprotect_private(
                e.suite, e.tree(), e.sender_data_secret, message, e.pub, e.context, range(4)
            )


def test_T04_replayed_generation_is_rejected() -> None:
    """THREATS.md T04: a generation's key is deleted once used (RFC 9420 9.2)."""
    e = epoch(1)
    sender_tree = e.tree()
    first, sender_tree = framing.protect_private(
        e.suite, sender_tree, e.sender_data_secret, e.content(b"1"), e.priv, e.context
    )
    second, sender_tree = framing.protect_private(
        e.suite, sender_tree, e.sender_data_secret, e.content(b"2"), e.priv, e.context
    )
    tree = e.tree()
    # Out of order is fine; each key works once.
    got2, tree = framing.unprotect_private(
        e.suite, tree, e.sender_data_secret, second, e.pub, e.context, range(N_LEAVES)
    )
    got1, tree = framing.unprotect_private(
        e.suite, tree, e.sender_data_secret, first, e.pub, e.context, range(N_LEAVES)
    )
    assert (got1.content.content, got2.content.content) == (b"1", b"2")
    for replay in (first, second):
        with pytest.raises(GenerationUnavailable):
            framing.unprotect_private(
                e.suite, tree, e.sender_data_secret, replay, e.pub, e.context, range(N_LEAVES)
            )


def test_a_rejected_message_consumes_no_key() -> None:
    e = epoch(1)
    message, _ = framing.protect_private(
        e.suite, e.tree(), e.sender_data_secret, e.content(b"x"), e.priv, e.context
    )
    tampered = dataclasses.replace(message, authenticated_data=b"AD")
    tree = e.tree()
    with pytest.raises(CryptoError):
        framing.unprotect_private(
            e.suite, tree, e.sender_data_secret, tampered, e.pub, e.context, range(N_LEAVES)
        )
    # The caller's tree is a value: the genuine message still opens with it.
    framing.unprotect_private(
        e.suite, tree, e.sender_data_secret, message, e.pub, e.context, range(N_LEAVES)
    )


def test_padding_hides_the_length_within_a_bucket() -> None:
    e = epoch(1)
    sizes = set()
    for text in (b"", b"Wednesday", b"w" * 400):
        message, _ = framing.protect_private(
            e.suite, e.tree(), e.sender_data_secret, e.content(text), e.priv, e.context
        )
        sizes.add(len(message.ciphertext))
    assert sizes == {512 + 16}
    assert framing.ACCORD_BUCKETS(16385) == 2 * 16384 - 16385
    assert framing.BucketPadding((10, 20), 5)(21) == 4
    assert framing.no_padding(100) == 0


# --------------------------------------------------------------------------
# T03: every single-bit flip is rejected with a typed error


def _every_bit_flip_is_rejected(wire: bytes, unprotect: Callable[[bytes], object]) -> int:
    unprotect(wire)  # the genuine message is accepted
    flips = 0
    for i in range(len(wire)):
        for bit in range(8):
            flipped = wire[:i] + bytes([wire[i] ^ (1 << bit)]) + wire[i + 1 :]
            try:
                unprotect(flipped)
            except AccordError:
                flips += 1
                continue
            raise AssertionError(f"flipping bit {bit} of byte {i} was accepted")
    return flips


@pytest.mark.parametrize("suite_id", [1, 2])
def test_T03_every_bit_flip_of_a_private_message_is_rejected(suite_id: int) -> None:
    """THREATS.md T03: a relay that alters any bit of a PrivateMessage is detected."""
    e = epoch(suite_id)
    message, _ = framing.protect_private(
        e.suite,
        e.tree(),
        e.sender_data_secret,
        e.content(b"hi"),
        e.priv,
        e.context,
        padding=framing.no_padding,
    )
    wire = encode(MLSMessage, MLSMessage.wrap(message))

    def unprotect(data: bytes) -> object:
        received = framing.read_framed_message(data)
        assert isinstance(received, PrivateMessage)
        return framing.unprotect_private(
            e.suite, e.tree(), e.sender_data_secret, received, e.pub, e.context, range(N_LEAVES)
        )

    assert _every_bit_flip_is_rejected(wire, unprotect) == 8 * len(wire)


@pytest.mark.parametrize("suite_id", [1, 2])
@pytest.mark.parametrize("kind", ["proposal", "commit"])
def test_T03_every_bit_flip_of_a_public_message_is_rejected(suite_id: int, kind: str) -> None:
    """THREATS.md T03: a server that alters any bit of a PublicMessage is detected."""
    e = epoch(suite_id)
    value = Remove(1) if kind == "proposal" else Commit((), None)
    tag = None if kind == "proposal" else b"\x05" * 32
    message = framing.protect_public(
        e.suite, e.content(value), e.priv, e.context, e.membership_key, tag
    )
    wire = encode(MLSMessage, MLSMessage.wrap(message))

    def unprotect(data: bytes) -> object:
        received = framing.read_framed_message(data)
        if not isinstance(received, PublicMessage):
            raise ValidationError("not a PublicMessage")
        return framing.unprotect_public(e.suite, received, e.pub, e.context, e.membership_key)

    assert _every_bit_flip_is_rejected(wire, unprotect) == 8 * len(wire)


@settings(max_examples=60, deadline=None)
@given(payload=st.binary(max_size=20_000), ad=st.binary(max_size=64))
def test_any_application_payload_round_trips_padded_to_a_bucket(payload: bytes, ad: bytes) -> None:
    e = epoch(1)
    content = dataclasses.replace(e.content(payload), authenticated_data=ad)
    message, _ = framing.protect_private(
        e.suite, e.tree(), e.sender_data_secret, content, e.priv, e.context
    )
    padded = len(message.ciphertext) - 16  # AES-GCM tag
    assert padded in framing.ACCORD_BUCKETS.buckets or padded % 16384 == 0
    auth, _ = framing.unprotect_private(
        e.suite, e.tree(), e.sender_data_secret, message, e.pub, e.context, range(N_LEAVES)
    )
    assert auth.content == content
