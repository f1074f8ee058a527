"""THREATS.md T03 (tampering): a server alters a message or a commit.

Every single-bit flip of a commit, a Welcome and an application message
makes processing fail with a typed error (an ``AccordError``), and the
receiver's state is unchanged (it is an immutable value; its serialization
is compared before and after all attempts to catch any in-place write).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from accord.errors import AccordError
from accord.mls import group as g
from accord.mls.structs import Add, Remove
from tests.mls.group_sim import NOW, Group, new_kp


def flips(data: bytes) -> Iterator[bytes]:
    buf = bytearray(data)
    for i in range(len(buf) * 8):
        buf[i >> 3] ^= 1 << (i & 7)
        yield bytes(buf)
        buf[i >> 3] ^= 1 << (i & 7)


def assert_every_flip_rejected(data: bytes, attempt: Callable[[bytes], object]) -> int:
    count = 0
    for tampered in flips(data):
        with pytest.raises(AccordError):
            attempt(tampered)
        count += 1
    return count


@pytest.mark.parametrize("encrypt_handshake", [False, True], ids=["public", "private"])
def test_T03_every_bit_flip_of_a_commit_is_rejected(encrypt_handshake: bool) -> None:
    grp = Group(encrypt_handshake=encrypt_handshake)
    grp.add("alice", ["bob"])
    res, _ = g.commit(grp.states["alice"], now=NOW, force_path=True)
    bob = grp.states["bob"]
    before = bob.to_bytes()
    data = res.commit.to_bytes()  # type: ignore[attr-defined]
    n = assert_every_flip_rejected(data, lambda m: g.process(bob, m, NOW))
    assert n == len(data) * 8
    assert bob.to_bytes() == before
    _, bob = g.process(bob, data, NOW)  # the genuine commit still applies
    assert bob.epoch == grp.states["alice"].epoch + 1


def test_T03_every_bit_flip_of_a_remove_commit_without_path_is_rejected() -> None:
    grp = Group()
    grp.add("alice", ["bob", "carol"])
    kp = new_kp(1, "dave")
    res, _ = g.commit(grp.states["alice"], now=NOW, by_value=[Add(kp.key_package)])
    carol = grp.states["carol"]
    before = carol.to_bytes()
    assert_every_flip_rejected(res.commit.to_bytes(), lambda m: g.process(carol, m, NOW))  # type: ignore[attr-defined]
    assert carol.to_bytes() == before
    res, _ = g.commit(grp.states["alice"], now=NOW, by_value=[Remove(grp.leaf("bob"))])
    assert_every_flip_rejected(res.commit.to_bytes(), lambda m: g.process(carol, m, NOW))  # type: ignore[attr-defined]
    assert carol.to_bytes() == before


def test_T03_every_bit_flip_of_a_welcome_is_rejected() -> None:
    grp = Group()
    grp.add("alice", ["bob"])
    kp = new_kp(1, "carol")
    res, _ = g.commit(grp.states["alice"], now=NOW, by_value=[Add(kp.key_package)])
    assert res.welcome is not None
    data = res.welcome.to_bytes()  # type: ignore[attr-defined]
    assert_every_flip_rejected(data, lambda w: g.join_from_welcome(_decode(w), kp, NOW))
    assert g.join_from_welcome(_decode(data), kp, NOW).epoch == 2


def test_T03_every_bit_flip_of_an_application_message_is_rejected() -> None:
    grp = Group()
    grp.add("alice", ["bob"])
    msg, _ = g.protect(grp.states["alice"], b"attack at dawn", b"aad")
    bob = grp.states["bob"]
    before = bob.to_bytes()
    assert_every_flip_rejected(msg.to_bytes(), lambda m: g.process(bob, m, NOW))  # type: ignore[attr-defined]
    assert bob.to_bytes() == before
    out, _ = g.process(bob, msg, NOW)
    assert out.application_data == b"attack at dawn"


def _decode(data: bytes) -> g.MLSMessage:  # type: ignore[name-defined]
    from accord.mls.codec import decode
    from accord.mls.structs import MLSMessage

    return decode(MLSMessage, data)  # type: ignore[no-any-return]
