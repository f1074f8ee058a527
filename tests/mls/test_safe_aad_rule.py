"""The group engine's Safe AAD rule (draft-ietf-mls-extensions 4.9, 6): in a group whose
GroupContext lists ``safe_aad`` (even empty), an application message's whole
``authenticated_data`` is a well-formed SafeAAD (sorted, one item per id, nothing
after it); ``protect`` refuses to send another, and ``process`` refuses one received,
leaving the state as it was. A group without ``safe_aad`` takes any bytes. Every Accord
room requires it, for the franking tag (T13) and the epoch tag (T07) it carries."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.errors import DecodeError, ValidationError
from accord.mls import group as g
from accord.mls.group import send
from accord.mls.structs.app_data import SafeAAD, SafeAADItem
from tests.mls.group_sim import NOW as NOW_S
from tests.mls.test_required_components import FRANK, LOG, group_exts, kp, two

RULE = "draft-ietf-mls-extensions 4.9"


def _unsorted() -> bytes:
    raw = SafeAAD.__new__(SafeAAD)  # past the constructor's check, as a peer could
    object.__setattr__(raw, "aad_items", (SafeAADItem(FRANK, b"b"), SafeAADItem(LOG, b"a")))
    return raw.to_bytes()


MALFORMED = [
    b"",  # not even the empty vector
    b"\x01" + bytes(40),  # Accord's layout before Safe AAD
    SafeAAD.of({FRANK: b"x"}).to_bytes() + b"\x00",  # a byte after the struct
    _unsorted(),  # items out of order
    SafeAAD.of({FRANK: b"x"}).to_bytes()[:-1],  # truncated
]


def _safe_group(safe_aad: tuple[int, ...] = (FRANK,)) -> tuple[g.GroupState, g.GroupState]:
    return two(group_exts((LOG,), safe_aad), kp("bob", (LOG,), safe_aad))


@pytest.mark.parametrize("aad", MALFORMED)
def test_protect_refuses_to_send_what_is_not_a_safe_aad(aad: bytes) -> None:
    alice, _bob = _safe_group()
    with pytest.raises(ValidationError) as exc:
        g.protect(alice, b"hello", aad)
    assert exc.value.rule == RULE


@pytest.mark.parametrize("aad", MALFORMED)
def test_a_received_message_whose_aad_is_not_a_safe_aad_is_refused(
        aad: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    alice, bob = _safe_group()
    with monkeypatch.context() as m:  # a sender that does not keep the rule
        m.setattr(send, "check_safe_aad", lambda *a: None)
        bad, alice = g.protect(alice, b"forged", aad)
    with pytest.raises(ValidationError) as exc:
        g.process(bob, bad, NOW_S)
    assert exc.value.rule == RULE
    # bob's state is as it was: the next well-formed message reads
    good, alice = g.protect(alice, b"fine", SafeAAD.of({FRANK: b"t"}).to_bytes())
    result, _ = g.process(bob, good, NOW_S)
    assert result.application_data == b"fine"
    assert SafeAAD.from_bytes(result.authenticated_data).get(FRANK) == b"t"


def test_an_empty_safe_aad_list_still_frames_the_aad() -> None:
    alice, bob = _safe_group(())
    with pytest.raises(ValidationError):
        g.protect(alice, b"x", b"")
    msg, alice = g.protect(alice, b"x", SafeAAD().to_bytes())  # 4.9: zero items
    assert g.process(bob, msg, NOW_S)[0].application_data == b"x"


def test_a_group_without_safe_aad_takes_any_authenticated_data() -> None:
    alice, bob = two(group_exts((LOG,)))
    for aad in MALFORMED:
        msg, alice = g.protect(alice, b"free", aad)
        result, bob = g.process(bob, msg, NOW_S)
        assert result.authenticated_data == aad


def test_a_late_message_of_an_earlier_epoch_is_held_to_the_rule_too(
        monkeypatch: pytest.MonkeyPatch) -> None:
    alice, bob = _safe_group()
    with monkeypatch.context() as m:
        m.setattr(send, "check_safe_aad", lambda *a: None)
        bad, alice = g.protect(alice, b"late", b"\x01" + bytes(40))
    res, alice = g.commit(alice, now=NOW_S)
    alice = g.merge_pending(alice)
    _, bob = g.process(bob, res.commit, NOW_S)
    assert g.epoch_authenticator(alice) == g.epoch_authenticator(bob)
    with pytest.raises(ValidationError) as exc:
        g.process(bob, bad, NOW_S)  # kept epoch (RFC 9420 15.3)
    assert exc.value.rule == RULE


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(aad=st.one_of(st.binary(max_size=24), st.dictionaries(
    st.integers(0, 0xFFFF), st.binary(max_size=8), max_size=4).map(
        lambda d: SafeAAD.of(d).to_bytes())))
def test_protect_sends_exactly_the_aads_that_decode_as_a_safe_aad(aad: bytes) -> None:
    alice, _bob = GROUP
    try:
        SafeAAD.from_bytes(aad)
        well_formed = True
    except DecodeError:
        well_formed = False
    try:
        g.protect(alice, b"p", aad)
        sent = True
    except ValidationError:
        sent = False
    assert sent == well_formed



GROUP = _safe_group()


def test_accords_rooms_require_frank_aad_from_epoch_0_and_leaves_support_the_epoch_tag() -> None:
    from accord.client import mls_room
    from accord.client.mls_rfc import RfcEngine
    from accord.mls.group.safe_aad import requires_safe_aad
    from accord.mls.leaf_node import required_components

    engine = RfcEngine()
    priv, pub = engine.signature_keypair()
    state = engine.create_group(b"g" * 16, b"alice@a.example/d1", priv, pub, NOW_S * 1000,
                                room="mimi://a.example/r/room")
    context = g.GroupState.from_bytes(state, mls_room.CONFIG).context
    assert context.epoch == 0 and requires_safe_aad(tuple(context.extensions))
    assert required_components(tuple(context.extensions))[1] == (0x0020,)  # MIMI's only
    assert required_components(mls_room.leaf_extensions())[1] == (0x0020, 0xAC02)
