"""T01 (spoofing): a message forged or re-signed by a server or by another member is rejected.

Every MLS message is signed by its sender's leaf key (RFC 9420 6.1); a
PrivateMessage's sender is inside the encryption, and a member's
PublicMessage carries a membership tag (6.2). A member holds the group's
encryption keys, so it can encrypt under another member's leaf index: only
the signature stops it. A provider holds no group key at all.

- Live, two providers: mallory (a member) sends application messages as
  alice, signed with mallory's own device key (re-signed) and with a key of
  nobody in the group (forged). Carol's device shows neither, records the
  failure, and still reads what alice really sends.
- Engine: a commit re-signed by the provider (its own key, the sender changed
  to alice, the membership tag kept) and by a member (who can also recompute
  the membership tag) is rejected by the other members; the genuine commit
  is accepted.
"""

from __future__ import annotations

import dataclasses

import pytest

from accord.client import conversations as convs
from accord.client import messaging
from accord.client.mls_rfc import RfcEngine
from accord.client.mls_session import CLASSIC_SUITE, PQ_SUITE, identity_of
from accord.errors import AccordError, CryptoError
from accord.mls import group as g
from accord.mls.codec import decode, encode
from accord.mls.framing_auth import sign_content
from accord.mls.framing_public import membership_tag
from accord.mls.structs.enums import WireFormat
from accord.mls.structs.messages import MLSMessage, PublicMessage, Sender
from accord.mls.suites import get_suite
from tests.e2e.helpers import Clock
from tests.federation.groups import arrive, bodies, events_of, people
from tests.federation.providers import Provider


class ImpersonatingEngine(RfcEngine):
    """Mallory's engine: encrypts under ``victim``'s leaf, signs with ``key``."""

    def __init__(self, victim: bytes, key: bytes) -> None:
        self.victim, self.key = victim, key

    def protect(self, state: bytes, plaintext: bytes, authenticated_data: bytes
                ) -> tuple[bytes, bytes]:
        st = g.GroupState.from_bytes(state)
        leaf = next(i for i, lf in g.members(st) if lf.credential.identity == self.victim)
        forged = dataclasses.replace(st, own_leaf=leaf, signature_priv=self.key)
        msg, _ = g.protect(forged, plaintext, authenticated_data)
        return encode(MLSMessage, msg), state  # mallory's own state is left as it was


async def test_T01_a_member_cannot_send_as_another_member(
    providers: dict[str, Provider], tmp_path
) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    alice, mallory, carol = await people(
        tmp_path, providers, clock, "alice@alpha", "mallory@alpha", "carol@beta")
    devices = [alice, mallory, carol]
    try:
        conv = await convs.create(alice, "t01", [mallory.identity.account,
                                                 carol.identity.account], clock())
        await messaging.send_text(alice, conv, "hello", clock())
        cconv = await arrive(carol, "t01", clock)
        assert await bodies(carol, "t01", "hello", clock) == ["hello"]
        mconv = await arrive(mallory, "t01", clock)

        victim = alice.identity.mls_identity
        stranger_key, _ = get_suite(PQ_SUITE).generate_signature_key_pair()
        honest = mallory.engine
        for n, key in enumerate([mallory._sig_priv(), stranger_key], 1):  # re-signed, forged
            mallory.engine = ImpersonatingEngine(victim, key)
            await messaging.send_text(mallory, mconv, f"alice owes mallory {n}000", clock())
            mallory.engine = honest
            errors = await events_of(carol, cconv["conv_id"], "error", clock, n)
            assert errors[-1]["detail"]["error"] == "CryptoError"  # the signature (6.1)

        await messaging.send_text(alice, alice.store.conversation(conv["conv_id"]),
                                  "what I really said", clock())
        await bodies(carol, "t01", "what I really said", clock)
        shown = [(x.sender, x.body) for x in carol.store.messages(cconv["conv_id"])]
        assert shown == [(alice.identity.account, "hello"),
                         (alice.identity.account, "what I really said")]
    finally:
        for d in devices:
            await d.disconnect()


def _three(suite: int) -> tuple[RfcEngine, list[bytes], list[bytes]]:
    """alice, bob and carol in one group (engine only); their states and keys."""
    engine, now = RfcEngine(), 1_800_000_000_000
    keys = [engine.signature_keypair() for _ in range(3)]
    idents = [identity_of(f"{n}@alpha.test", "d1") for n in ("alice", "bob", "carol")]
    kps = [engine.key_package(idents[i], *keys[i], now, suite) for i in (1, 2)]
    alice = engine.create_group(b"g" * 16, idents[0], *keys[0], now, suite)
    out = engine.commit(alice, add=[kp.public for kp in kps], remove=[], update=False, now=now)
    states = [out.state] + [engine.join(out.welcome, {kp.ref: kp.private}, now) for kp in kps]
    return engine, states, [k[0] for k in keys]


@pytest.mark.parametrize("suite", [CLASSIC_SUITE, PQ_SUITE])
def test_T01_a_commit_re_signed_by_the_provider_or_a_member_is_rejected(suite: int) -> None:
    engine, (alice, bob, carol), keys = _three(suite)
    now = 1_800_000_000_000
    real = engine.commit(bob, add=[], remove=[], update=True, now=now).commit
    pub = decode(MLSMessage, real).message
    assert isinstance(pub, PublicMessage)
    st = g.GroupState.from_bytes(carol)
    as_alice = dataclasses.replace(pub.content, sender=Sender.member(0))

    def re_signed(key: bytes, recompute_tag: bool) -> bytes:
        auth = sign_content(st.suite, WireFormat.PUBLIC_MESSAGE, as_alice, key, st.context,
                            pub.confirmation_tag)
        tag = (membership_tag(st.suite, st.secrets.membership_key, auth, st.context)
               if recompute_tag else pub.membership_tag)
        return encode(MLSMessage, MLSMessage.wrap(dataclasses.replace(
            pub, content=as_alice, signature=auth.signature, membership_tag=tag)))

    provider_key, _ = get_suite(suite).generate_signature_key_pair()
    forged = {
        "provider": re_signed(provider_key, recompute_tag=False),  # no membership key
        "member": re_signed(keys[1], recompute_tag=True),  # bob re-signs it as alice's
    }
    for msg in forged.values():
        with pytest.raises(CryptoError):  # membership tag or signature (6.1, 6.2)
            engine.process(carol, msg, now)
        with pytest.raises(AccordError):  # alice knows she did not commit
            engine.process(alice, msg, now)
    # The genuine commit is accepted, so what failed above is the forgery only.
    assert engine.process(carol, real, now).sender == identity_of("bob@alpha.test", "d1")
