"""The device's key transparency checks (issue 7) against in-memory logs, no network.

``FakeLogs`` stands in for ``KtHttp``: it answers from ``KeyDirectory``
objects, and a test can make a provider lie (another head, a forged proof,
a new signing key) to see each lie caught.
"""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.client import alerts
from accord.client.keycheck import KeyChecker, KeyNotInLog, SplitView
from accord.client.safety import grouped, safety_number
from accord.errors import CryptoError
from accord.mls.codec import encode
from accord.transparency import Cosignature, KeyDirectory, LookupProof, SignedTreeHead, cosign
from accord.wire import transparency as wt
from accord.wire.accounts import domain_of
from accord.wire.federation import WellKnown

NOW = 1_800_000_000_000


class Kv:
    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get_json(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def put_json(self, key: str, value: Any) -> None:
        self.data[key] = value


class Provider:
    def __init__(self, domain: str) -> None:
        self.domain = domain
        self.key = Ed25519PrivateKey.generate()
        self.log = KeyDirectory(domain, domain.encode() * 4)

    def sth(self, now: int = NOW) -> bytes:
        return encode(SignedTreeHead, self.log.signed_head(self.key, now))

    @property
    def public(self) -> bytes:
        return self.key.public_key().public_bytes_raw()


class FakeLogs:
    def __init__(self, own: Provider, *others: Provider) -> None:
        self.own_domain = own.domain
        self.by_domain = {p.domain: p for p in (own, *others)}
        self.shown: dict[str, Provider] = dict(self.by_domain)  # what a device is shown

    async def well_known(self, domain: str) -> WellKnown:
        p = self.shown[domain]
        return WellKnown(domain, "http://x", p.public, None)

    async def head(self, domain: str) -> wt.KtHead:
        return wt.KtHead(self.shown[domain].sth())

    async def lookup(self, account: str) -> wt.KtLookup:
        p = self.shown[domain_of(account)]
        return wt.KtLookup(account, p.sth(), encode(LookupProof, p.log.lookup(account)))

    async def consistency(self, domain: str, old: int, new: int) -> tuple[bytes, ...]:
        return self.shown[domain].log.consistency_proof(old, new)

    async def witnessed(self, domain: str, min_size: int = 0) -> wt.KtWitnessed:
        own, peer = self.by_domain[self.own_domain], self.by_domain[domain]
        sth = peer.log.signed_head(peer.key, NOW)
        cosig = cosign(own.key, own.domain, sth, NOW)
        return wt.KtWitnessed(domain, own.domain, encode(SignedTreeHead, sth),
                              encode(Cosignature, cosig), peer.public)


def _key() -> bytes:
    return Ed25519PrivateKey.generate().public_key().public_bytes_raw()


async def test_a_key_in_the_log_passes_and_any_other_is_refused() -> None:
    alpha, beta = Provider("alpha.test"), Provider("beta.test")
    bob_key = _key()
    beta.log.publish("bob@beta.test", [bob_key], NOW)
    kv = Kv()
    kc = KeyChecker(kv, FakeLogs(alpha, beta))  # type: ignore[arg-type]
    entry = await kc.verify_device_key("bob@beta.test", bob_key, NOW)
    assert entry.device_keys == (bob_key,)
    with pytest.raises(KeyNotInLog):
        await kc.verify_device_key("bob@beta.test", _key(), NOW)
    with pytest.raises(KeyNotInLog):  # no entry at all
        await kc.verify_device_key("nobody@beta.test", bob_key, NOW)
    assert [a["kind"] for a in alerts.pending(kv)] == ["key_not_in_log", "key_not_in_log"]


async def test_a_rewritten_log_is_caught_by_the_held_head() -> None:
    alpha, beta = Provider("alpha.test"), Provider("beta.test")
    beta.log.publish("bob@beta.test", [_key()], NOW)
    logs = FakeLogs(alpha, beta)
    kv = Kv()
    kc = KeyChecker(kv, logs)  # type: ignore[arg-type]
    await kc.current_entry("bob@beta.test", NOW)
    # beta rebuilds its log (same key, same index key) with bob's key swapped.
    forged = Provider("beta.test")
    forged.key, forged.log = beta.key, KeyDirectory("beta.test", b"beta.test" * 4)
    forged.log.publish("bob@beta.test", [_key()], NOW)
    logs.shown["beta.test"] = forged
    with pytest.raises(SplitView) as caught:
        await kc.current_entry("bob@beta.test", NOW + 1)
    assert caught.value.evidence.kind == "same_size_different_root"
    assert [a["kind"] for a in alerts.pending(kv)] == ["head_inconsistent"]


async def test_a_new_provider_key_and_a_forged_proof_are_alerts() -> None:
    alpha, beta = Provider("alpha.test"), Provider("beta.test")
    beta.log.publish("bob@beta.test", [_key()], NOW)
    logs = FakeLogs(alpha, beta)
    kv = Kv()
    kc = KeyChecker(kv, logs)  # type: ignore[arg-type]
    await kc.current_entry("bob@beta.test", NOW)
    impostor = Provider("beta.test")
    impostor.log = beta.log
    logs.shown["beta.test"] = impostor
    with pytest.raises(CryptoError):
        await kc.current_entry("bob@beta.test", NOW)
    assert alerts.pending(kv)[-1]["kind"] == "provider_key_changed"

    logs.shown["beta.test"] = beta
    carol = KeyDirectory("beta.test", b"beta.test" * 4)
    carol.publish("carol@beta.test", [_key()], NOW)

    async def wrong_entry(account: str) -> wt.KtLookup:  # carol's entry offered as bob's
        proof = beta.log.lookup("bob@beta.test")
        other = carol.lookup("carol@beta.test")
        forged = LookupProof(proof.index, other.opening, proof.map_proof, proof.entry)
        return wt.KtLookup(account, beta.sth(), encode(LookupProof, forged))

    logs.lookup = wrong_entry  # type: ignore[method-assign]
    with pytest.raises(CryptoError):
        await kc.current_entry("bob@beta.test", NOW)
    assert alerts.pending(kv)[-1]["kind"] == "key_not_in_log"


async def test_gossip_finds_a_split_view_and_honest_gossip_finds_none() -> None:
    alpha, beta = Provider("alpha.test"), Provider("beta.test")
    beta.log.publish("bob@beta.test", [_key()], NOW)
    logs = FakeLogs(alpha, beta)
    kv = Kv()
    kc = KeyChecker(kv, logs)  # type: ignore[arg-type]
    assert await kc.gossip("beta.test", NOW) is None
    assert alerts.pending(kv) == []
    fork = Provider("beta.test")
    fork.key, fork.log = beta.key, KeyDirectory("beta.test", b"beta.test" * 4)
    fork.log.publish("bob@beta.test", [_key(), _key()], NOW)
    logs.shown["beta.test"] = fork  # shown directly; alpha witnesses the real one
    evidence = await kc.gossip("beta.test", NOW + 1)
    assert evidence is not None and evidence.conclusive
    assert [a["kind"] for a in alerts.pending(kv)] == ["split_view"]


def test_safety_numbers_are_symmetric_and_follow_the_keys() -> None:
    ka, kb = [_key(), _key()], [_key()]
    one, digest = safety_number("ann@a.test", ka, "bo@b.test", kb)
    two, digest2 = safety_number("bo@b.test", kb[::-1], "ann@a.test", ka[::-1])
    assert (one, digest) == (two, digest2)
    assert len(one) == 60 and one.isdigit() and len(grouped(one).split()) == 12
    changed, _ = safety_number("ann@a.test", ka, "bo@b.test", [*kb, _key()])
    assert changed[:30] == one[:30] and changed[30:] != one[30:]


def test_alerts_are_deduplicated_until_seen_and_listeners_hear_new_ones() -> None:
    kv = Kv()
    heard: list[int] = []
    stop = alerts.subscribe(lambda store, a: heard.append(a["id"]))
    try:
        a1 = alerts.raise_alert(kv, "unknown_device", NOW, account="x@y.test", key="ab")
        assert alerts.raise_alert(kv, "unknown_device", NOW, account="x@y.test", key="ab") == a1
        assert heard == [a1["id"]]
        assert alerts.mark_seen(kv) == 1 and alerts.pending(kv) == []
        a2 = alerts.raise_alert(kv, "unknown_device", NOW, account="x@y.test", key="ab")
        assert a2["id"] != a1["id"] and heard == [a1["id"], a2["id"]]
    finally:
        stop()
    with pytest.raises(ValueError):
        alerts.raise_alert(kv, "no_such_kind", NOW)
