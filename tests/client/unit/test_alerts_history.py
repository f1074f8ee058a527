"""Security alerts kept until seen (``alerts``), the plain-data history
(``history``), passphrase strength (``passphrase``) and proven successions
(``successions``): no server, no clock, no network."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.client import alerts, history, passphrase, successions
from accord.client.store import KdfParams, ProfileStore, StoredMessage
from accord.errors import NotFound, ValidationError
from accord.transparency.entries import LogEntry, Succession
from accord.wire import signing

from .kv import Kv

CHEAP = KdfParams(time_cost=1, memory_kib=8 * 1024, parallelism=1)
NOW = 1_700_000_000_000


def _msg(i: int, body: str = "", **kw: object) -> StoredMessage:
    fields = dict(msg_id=bytes([i]) * 16, conv_id="c1", sender="bob@alpha.test",
                  sender_device="d", sent_at=1000 + i, received_at=1000 + i, kind="text",
                  body=body or f"m{i}", reply_to=None, edited=False, deleted=False,
                  expires_at=None, meta={})
    fields.update(kw)
    return StoredMessage(**fields)  # type: ignore[arg-type]


def test_alerts_keep_their_order_are_marked_seen_by_id_and_old_seen_ones_are_dropped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    kv = Kv()
    a = alerts.raise_alert(kv, "log_unavailable", NOW, account="a@x.test")
    b = alerts.raise_alert(kv, "log_unavailable", NOW, account="b@x.test")
    assert (a["id"], b["id"]) == (1, 2)
    assert alerts.mark_seen(kv, [2]) == 1
    assert [x["id"] for x in alerts.pending(kv)] == [1]
    assert alerts.mark_seen(kv, [2]) == 0  # seen already
    assert [x["seen"] for x in alerts.all_alerts(kv)] == [False, True]
    # beyond the bound, the oldest SEEN alerts go; unseen ones never do
    monkeypatch.setattr(alerts, "MAX_ALERTS", 3)
    alerts.raise_alert(kv, "log_unavailable", NOW, account="c@x.test")
    alerts.raise_alert(kv, "log_unavailable", NOW, account="d@x.test")
    assert [x["id"] for x in alerts.all_alerts(kv)] == [1, 3, 4]
    alerts.raise_alert(kv, "log_unavailable", NOW, account="e@x.test")
    assert [x["id"] for x in alerts.all_alerts(kv)] == [1, 3, 4, 5]  # all unseen: kept


def test_an_alert_kept_after_a_rollback_is_unseen_and_not_told_again() -> None:
    kv = Kv()
    heard: list[dict] = []
    stop = alerts.subscribe(lambda store, a: heard.append(a))
    try:
        first = alerts.raise_alert(kv, "unknown_device", NOW, account="me@x.test", key="k1")
        kv.put_json("alerts", [])  # the transaction that held it was rolled back
        alerts.keep(kv, first)
        assert [(x["kind"], x["detail"], x["seen"]) for x in alerts.pending(kv)] == [
            ("unknown_device", {"account": "me@x.test", "key": "k1"}, False)]
        assert len(heard) == 1
    finally:
        stop()
    stop()  # a second unsubscribe is harmless
    alerts.raise_alert(kv, "split_view", NOW, provider="beta.test")
    assert len(heard) == 1  # unsubscribed


def test_alert_texts_name_who_and_what_and_never_fail_on_missing_detail() -> None:
    def one(kind: str, **detail: object) -> str:
        return alerts.describe({"id": 7, "kind": kind, "detail": detail})

    assert one("key_not_in_log", account="bob@b.test") == (
        "SECURITY ALERT #7: a key offered for bob@b.test is NOT in its provider's "
        "transparency log (possible key substitution); it was refused")
    assert "(key ab12)" in one("unknown_device", account="me@a.test", key="ab12")
    assert "provider beta.test showed" in one("split_view", provider="beta.test",
                                                evidence="two heads")
    fork = one("split_view", group="g1", what="a gap", evidence="chain")
    assert "the hub of conversation g1" in fork and "a gap (chain)" in fork
    assert "(3 claims held back" in one("key_packages_withheld", count=3)
    assert "(?)" in one("head_inconsistent")  # evidence missing: a placeholder
    assert one("something_new") == "SECURITY ALERT #7: something_new"
    assert alerts.fingerprint(b"k" * 32) == alerts.fingerprint(b"k" * 32)
    assert len(alerts.fingerprint(b"k" * 32)) == 16


def test_message_views_carry_no_attachment_key_and_previews_name_files() -> None:
    att = {"file_name": "a.png", "media_type": "image/png", "size": 3, "key": "SECRET",
           "locator": "accord-blob:x"}
    m = _msg(1, body="", meta={"attachments": [att], "reactions": {"+": ["x"]},
                               "read_by": ["y"], "outbox": "pending"}, reply_to=b"\x02" * 16)
    view = history.message_view(m)
    assert view["attachments"] == [{"file_name": "a.png", "media_type": "image/png", "size": 3}]
    assert "SECRET" not in repr(view)
    assert (view["reply_to"], view["outbox"], view["short_id"]) == ("02" * 16, "pending",
                                                                   "01" * 4)
    assert history.preview(m) == "m1"  # a body wins
    assert history.preview(_msg(2, body="x", deleted=True)) == "message deleted"
    no_text = StoredMessage(b"\x03" * 16, "c1", "b", "d", 1, 1, "text", "", None, False,
                            False, None, {"attachments": [att]})
    assert history.preview(no_text) == "a.png"
    empty = StoredMessage(b"\x04" * 16, "c1", "b", "d", 1, 1, "text", "", None, False,
                          False, None, {})
    assert history.preview(empty) == ""


def test_events_are_described_and_a_malformed_one_falls_back_to_its_kind() -> None:
    assert history.describe_event({"kind": "member_added", "by": "a", "account": "b"}) == (
        "a added b")
    assert history.describe_event({"kind": "joined", "members": ["a", "b"]}) == (
        "you joined (with a, b)")
    assert history.describe_event({"kind": "renamed", "by": "a", "name": "x"}) == (
        "a renamed the conversation to 'x'")
    assert history.describe_event({"kind": "member_added"}) == "member_added"  # no fields
    assert history.describe_event({"kind": "unknown_kind"}) == "unknown_kind"


def test_a_message_is_named_by_a_unique_prefix_of_four_or_more(tmp_path: Path) -> None:
    store = ProfileStore.create(tmp_path / "p", "pw", CHEAP)
    store.add_message(_msg(1, msg_id=bytes.fromhex("abcd01" + "00" * 13)))
    store.add_message(_msg(2, msg_id=bytes.fromhex("abcd02" + "00" * 13)))
    dev = SimpleNamespace(store=store)
    conv = {"conv_id": "c1"}
    assert history.resolve_message(dev, conv, " ABCD01 ") == bytes.fromhex("abcd01" + "00" * 13)
    with pytest.raises(ValidationError, match="at least 4"):
        history.resolve_message(dev, conv, "abc")
    with pytest.raises(ValidationError, match="several"):
        history.resolve_message(dev, conv, "abcd")
    with pytest.raises(NotFound):
        history.resolve_message(dev, conv, "ffff")
    with pytest.raises(NotFound):
        history.resolve_message(dev, {"conv_id": "other"}, "abcd01")
    store.lock()


def test_timeline_orders_by_delivery_not_by_the_senders_clock(tmp_path: Path) -> None:
    store = ProfileStore.create(tmp_path / "p", "pw", CHEAP)
    store.add_event("c1", 1, "created", {"by": "a"})
    store.add_message(_msg(1, sent_at=9_999))  # a sender whose clock runs ahead
    store.add_message(_msg(2, sent_at=5))
    store.add_event("c1", 2, "renamed", {"by": "a", "name": "n"})
    items = history.timeline(SimpleNamespace(store=store), {"conv_id": "c1"})
    assert [(i["type"], i.get("text") or i["kind"]) for i in items] == [
        ("event", "created"), ("message", "m1"), ("message", "m2"), ("event", "renamed")]
    store.lock()


def test_passphrase_strength_is_judged_and_long_input_is_cut() -> None:
    weak = passphrase.judge("password")
    assert not weak.acceptable and weak.score < passphrase.WEAKEST_ACCEPTED and weak.hint
    strong = passphrase.judge("correct horse battery staple orbit lantern")
    assert strong.acceptable and strong.score >= passphrase.STRONG
    assert strong.offline_guessing
    # the same verdict for 100 characters and for those followed by 10 000 more
    long = "q8#Lm" * 20
    assert passphrase.judge(long) == passphrase.judge(long + "x" * 10_000)


def _entry(successions_: tuple[Succession, ...]) -> LogEntry:
    return LogEntry(index=b"\x00" * 32, identity_commitment=b"\x00" * 32, version=1,
                    previous=None, timestamp=NOW, deleted=False, device_keys=(),
                    successions=successions_)


def test_only_successions_signed_by_the_predecessor_are_kept_once_each() -> None:
    old, new, mallory = (Ed25519PrivateKey.generate() for _ in range(3))

    def pub(k: Ed25519PrivateKey) -> bytes:
        return k.public_key().public_bytes_raw()

    acct = "ann@a.test"
    good = Succession(pub(old), pub(new),
                      old.sign(signing.succession_input(acct, pub(old), pub(new))))
    forged = Succession(pub(old), pub(mallory),
                        mallory.sign(signing.succession_input(acct, pub(old), pub(mallory))))
    other_account = Succession(pub(old), pub(new), old.sign(
        signing.succession_input("eve@a.test", pub(old), pub(new))))
    kv = Kv()
    successions.keep(kv, acct, None)
    assert successions.successions(kv, acct) == [] and kv.data == {}
    successions.keep(kv, acct, _entry((forged, other_account)))
    assert successions.successions(kv, acct) == []
    successions.keep(kv, acct, _entry((good, forged)))
    successions.keep(kv, acct, _entry((good,)))  # seen again: kept once
    assert successions.successions(kv, acct) == [(pub(old), pub(new))]
    successions.keep(kv, acct, _entry(()))  # a later entry without it: still known
    assert successions.successions(kv, acct) == [(pub(old), pub(new))]
    assert successions.successions(kv, "eve@a.test") == []
