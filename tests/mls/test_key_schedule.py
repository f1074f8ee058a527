"""Key schedule, PSK chaining and transcript hashes (RFC 9420 8, 8.2, 8.4, 8.5)."""

from __future__ import annotations

import pytest

from accord.errors import CryptoError, ValidationError
from accord.mls.key_schedule import (
    EpochSecrets,
    derive_epoch,
    epoch_from_joiner,
    epoch_secret,
    external_init_receive,
    external_init_send,
    external_key_pair,
    joiner_secret,
    mls_exporter,
    welcome_key_nonce,
)
from accord.mls.psk import PSKLabel, psk_secret
from accord.mls.structs import (
    ConfirmedTranscriptHashInput,
    FramedContent,
    GroupContext,
    PreSharedKeyID,
    Sender,
)
from accord.mls.suites import get_suite
from accord.mls.transcript import (
    confirmation_tag,
    confirmed_transcript_input,
    update_transcript_hashes,
    verify_confirmation_tag,
)

SUITE = get_suite(1)
NH = SUITE.kdf_len
INIT, COMMIT = b"\x11" * NH, b"\x22" * NH


def context(epoch: int = 1) -> bytes:
    return GroupContext(1, 1, b"group", epoch, b"\x33" * NH, b"\x44" * NH, ()).to_bytes()


def test_deterministic_and_bound_to_context() -> None:
    a = derive_epoch(SUITE, INIT, COMMIT, None, context())
    assert a == derive_epoch(SUITE, INIT, COMMIT, None, context())
    b = derive_epoch(SUITE, INIT, COMMIT, None, context(2))
    assert a.encryption_secret != b.encryption_secret
    assert a.init_secret != b.init_secret
    names = [n for n in EpochSecrets.__dataclass_fields__ if n != "cipher_suite"]
    assert len({getattr(a, n) for n in names}) == len(names)


def test_absent_psk_is_zero_vector() -> None:
    a = derive_epoch(SUITE, INIT, COMMIT, None, context())
    assert a == derive_epoch(SUITE, INIT, COMMIT, bytes(NH), context())
    assert a != derive_epoch(SUITE, INIT, COMMIT, b"\x01" * NH, context())


def test_joiner_path_matches_member_path() -> None:
    gc = context()
    joiner = joiner_secret(SUITE, INIT, COMMIT, gc)
    epoch = epoch_secret(SUITE, joiner, None, gc)
    assert epoch_from_joiner(SUITE, joiner, None, gc).init_secret == SUITE.derive_secret(
        epoch, "init"
    )
    assert epoch_from_joiner(SUITE, joiner, None, gc) == derive_epoch(SUITE, INIT, COMMIT, None, gc)


def test_round_trip_and_repr() -> None:
    a = derive_epoch(SUITE, INIT, COMMIT, None, context())
    assert EpochSecrets.from_bytes(a.to_bytes()) == a
    assert a.encryption_secret.hex() not in repr(a)
    assert repr(a.encryption_secret) not in repr(a)


def test_lengths_are_checked() -> None:
    with pytest.raises(ValidationError):
        derive_epoch(SUITE, INIT[:5], COMMIT, None, context())
    with pytest.raises(ValidationError):
        derive_epoch(SUITE, INIT, COMMIT, b"\x00", context())


def test_exporter_and_welcome_keys() -> None:
    a = derive_epoch(SUITE, INIT, COMMIT, None, context())
    assert len(a.exporter("label", b"ctx", 7)) == 7
    assert a.exporter("label", b"ctx", 32) != a.exporter("other", b"ctx", 32)
    assert a.exporter("l", b"a", 32) == mls_exporter(SUITE, a.exporter_secret, "l", b"a", 32)
    key, nonce = welcome_key_nonce(SUITE, a.welcome_secret)
    assert (len(key), len(nonce)) == (SUITE.aead_key_len, SUITE.aead_nonce_len)
    assert len(a.external_pub()) == 32


def test_psk_chaining() -> None:
    assert psk_secret(SUITE, []) == bytes(NH)
    p1 = (PreSharedKeyID.external(b"one", b"\x01" * NH), b"k1")
    p2 = (PreSharedKeyID.resumption(1, b"g", 3, b"\x02" * NH), b"\x05" * NH)
    s12 = psk_secret(SUITE, [p1, p2])
    assert s12 != psk_secret(SUITE, [p2, p1])
    assert s12 != psk_secret(SUITE, [p1])
    label = PSKLabel(p1[0], 0, 2)
    assert PSKLabel.from_bytes(label.to_bytes()) == label


def test_transcript_input_matches_struct() -> None:
    fc = FramedContent(b"g", 4, Sender.member(0), b"", b"app")
    want = ConfirmedTranscriptHashInput(1, fc, b"sig").to_bytes()
    assert confirmed_transcript_input(1, fc.to_bytes(), b"sig") == want


def test_confirmation_tag() -> None:
    key = b"\x07" * NH
    confirmed, interim = update_transcript_hashes(SUITE, b"", 1, b"content", b"sig", b"t")
    assert confirmed != interim and len(confirmed) == NH
    tag = confirmation_tag(SUITE, key, confirmed)
    verify_confirmation_tag(SUITE, key, confirmed, tag)
    with pytest.raises(CryptoError):
        verify_confirmation_tag(SUITE, key, confirmed, bytes([tag[0] ^ 1]) + tag[1:])


@pytest.mark.parametrize("cs", [1, 2, 3, 4, 5, 6, 7])
def test_external_init_round_trip(cs: int) -> None:
    suite = get_suite(cs)
    nh = suite.kdf_len
    gc = GroupContext(1, cs, b"g", 0, b"", b"", ()).to_bytes()
    secrets = derive_epoch(suite, b"\x01" * nh, b"\x02" * nh, None, gc)
    priv, pub = external_key_pair(suite, secrets.external_secret)
    assert secrets.external_key_pair() == (priv, pub)
    kem_output, init_secret = external_init_send(suite, pub)
    assert len(init_secret) == nh
    assert external_init_receive(suite, priv, kem_output) == init_secret
