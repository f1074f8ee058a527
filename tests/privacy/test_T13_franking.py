"""T13 evidence: a valid report verifies at the hub (also forwarded by a follower);
each kind of forged report does not; the provider's actions take effect."""

from __future__ import annotations

import dataclasses
import os
import secrets
import subprocess
import sys

import httpx

from accord.content import Content, Opened, Text, seal
from accord.content.mimi_map import MemoryIndex
from accord.wire import decode, encode
from accord.wire import privacy as w
from accord.wire.mimi import Frank
from tests.engine import admin_store
from tests.federation.groups import alice_and_bob
from tests.privacy.helpers import content, open_item, post, rows


async def _report(dev, http: httpx.AsyncClient, **kw) -> w.ReportResult:  # type: ignore[no-untyped-def]
    r = await http.post("/v1/reports", json=encode(w.ReportRequest(**kw)), headers=dev.auth)
    assert r.status_code == 200, r.text
    return decode(w.ReportResult, r.json())


def _encoded(c: Content, like: Opened) -> bytes:
    """``c`` sealed as the reported message was (same sender and room)."""
    return seal(c, MemoryIndex(), like.mimi.sender_uri, like.mimi.room_uri).plaintext


def _with(c: Opened, **header: object) -> bytes:
    content = c.content
    assert isinstance(content, Content)
    return _encoded(dataclasses.replace(content, header=dataclasses.replace(content.header, **header)), c)


async def test_T13_reports_verify_and_forgeries_fail(accord_two) -> None:  # type: ignore[no-untyped-def]
    # Accord's earlier transport: over MIMI a report goes to the hub's reportAbuse (5.9),
    # which only acknowledges it; its verification over MIMI is not landed yet (issue 22)
    alpha, beta = accord_two["alpha"], accord_two["beta"]
    async with httpx.AsyncClient(base_url=alpha.url, timeout=20) as ha, \
            httpx.AsyncClient(base_url=beta.url, timeout=20) as hb:
        alice, bob, gid = await alice_and_bob(ha, hb, "t13")
        abusive = content("an abusive message, reported by its recipient")
        assert (await post(ha, alice, abusive)).status_code == 201
        items = await bob.wait_items(1)
        item = items[-1]
        assert item.kind == "application" and item.sender is None
        assert item.frank is not None
        frank = Frank.from_bytes(item.frank)
        opened = open_item(bob, item)
        assert opened.content.body == Text("an abusive message, reported by its recipient")
        good = dict(group_id=gid, created_at=item.created_at, content=opened.encoded,
                    frank=item.frank, alleged_sender=alice.account, reason_code=7,
                    note="threats <b>[red]x[/red]</b>")

        # a follower's user reports: beta forwards to the hub (alpha), which verifies
        ok = await _report(bob, hb, **good)
        assert ok.verified and ok.hub == "alpha.test" and ok.report_id is not None
        assert ok.outcome == w.VERIFIED

        # MIMI 5.9's limits on Accord's route: a uint8 reason code, a note of at most
        # MAX_NOTE UTF-8 octets (characters beyond ASCII count by their octets)
        for what, bad in {"reason 256": dict(good, reason_code=256),
                          "reason -1": dict(good, reason_code=-1),
                          "a long note": dict(good, note="x" * (w.MAX_NOTE + 1)),
                          "a note long in octets": dict(good, note="é" * w.MAX_NOTE)}.items():
            body = {**encode(w.ReportRequest(**dict(good, reason_code=0, note=""))),
                    "reason_code": bad["reason_code"], "note": bad["note"]}
            r = await hb.post("/v1/reports", json=body, headers=bob.auth)
            assert (r.status_code, r.json()["error"]) == (422, "validation_error"), what

        other_text = _encoded(dataclasses.replace(opened.content, body=Text("nice")), opened)
        other_salt = _with(opened, message_id=secrets.token_bytes(16))
        forgeries = {
            "other text": dict(good, content=other_text),
            "other salt": dict(good, content=other_salt),
            "other server frank": dict(good, frank=dataclasses.replace(
                frank, server_frank=secrets.token_bytes(32)).to_bytes()),
            "not a frank": dict(good, frank=secrets.token_bytes(32)),
            "other time": dict(good, created_at=item.created_at + 1),
        }
        for what, forged in forgeries.items():
            assert not (await _report(bob, hb, **forged)).verified, what
        # other group: a second group of the same two members
        _a2, b2, gid2 = await alice_and_bob(ha, hb, "t13b")
        assert not (await _report(b2, hb, **dict(good, group_id=gid2))).verified
        # a non-member cannot report in a group (and learns nothing about it)
        r = await hb.post("/v1/reports", json=encode(w.ReportRequest(**good)), headers=b2.auth)
        assert r.status_code == 404

    # the hub filed exactly the valid report, without the reporter's name
    reports = rows(alpha)["abuse_reports"]
    assert len(reports) == 1
    _id, rgid, reporter, alleged, body, at, _created, status, reason, note = reports[0]
    assert (bytes(rgid), reporter, alleged, bytes(body), at, status, reason, note) == (
        gid, "via beta.test", alice.account, opened.encoded, item.created_at, "open", 7,
        "threats <b>[red]x[/red]</b>")
    # beta keeps its own record: its user's report, forwarded
    mine = rows(beta)["abuse_reports"]
    assert [(r[2], r[7]) for r in mine] == [(bob.account, "forwarded")]


async def test_T13_local_report_and_provider_actions(two) -> None:  # type: ignore[no-untyped-def]
    alpha, beta = two["alpha"], two["beta"]
    async with httpx.AsyncClient(base_url=alpha.url, timeout=20) as ha, \
            httpx.AsyncClient(base_url=beta.url, timeout=20) as hb:
        alice, bob, gid = await alice_and_bob(ha, hb, "t13c")
        assert (await post(hb, bob, content("from beta, reported on the hub"))).status_code == 201
        item = (await alice.wait_items(1))[-1]
        opened = open_item(alice, item)
        res = await _report(alice, ha, group_id=gid, created_at=item.created_at,
                            content=opened.encoded, frank=item.frank,
                            alleged_sender="mallory@alpha.test")
        assert res.verified and res.hub == "alpha.test"
        # the claim names no member of the group: the hub keeps the report, not the claim
        filed = rows(alpha)["abuse_reports"]
        assert [(r[2], r[3]) for r in filed][-1] == (alice.account, None)
        # a member whom the franked MIMI content does not name as its sender (its
        # extension 1 names bob): the claim is not kept either; the one it names is
        for alleged, kept in ((alice.account, None), (bob.account, bob.account)):
            res = await _report(alice, ha, group_id=gid, created_at=item.created_at,
                                content=opened.encoded, frank=item.frank,
                                alleged_sender=alleged)
            assert res.verified
            filed = rows(alpha)["abuse_reports"]
            assert [(r[2], r[3]) for r in filed][-1] == (alice.account, kept), alleged

        # the operator suspends bob's account (on beta) through the admin API
        beta_ops = {"Authorization": "Bearer " + _operator_token(beta)}
        act = "/v1/admin/accounts/" + bob.account + "/action"
        r = await hb.post(act, json={"action": "suspended", "reason": "threats"})
        assert r.status_code == 401  # no operator token, no action
        r = await hb.post(act, json={"action": "suspended", "reason": "threats"}, headers=bob.auth)
        assert r.status_code == 401  # a device session is not the operator
        r = await hb.post(act, json={"action": "suspended", "reason": "threats"},
                          headers=beta_ops)
        assert r.status_code == 204
        assert (await hb.get("/v1/queue", headers=bob.auth)).status_code == 401
        await hb.post(act, json={"action": "none"}, headers=beta_ops)
        assert (await hb.get("/v1/queue", headers=bob.auth)).status_code == 200

        # alpha's operator lists the report filed at the hub, and refuses beta
        alpha_ops = {"Authorization": "Bearer " + _operator_token(alpha)}
        listed = (await ha.get("/v1/admin/reports", headers=alpha_ops)).json()["reports"]
        assert listed[-1]["reporter"] == alice.account  # after the first test's forwarded one
        r = await ha.post("/v1/admin/peers/beta.test", json={"refused": True, "reason": "spam"},
                          headers=alpha_ops)
        assert r.status_code == 204
        r = await post(hb, bob, content("refused"))
        assert r.status_code == 503, r.text  # beta: the hub refused us
        await ha.post("/v1/admin/peers/beta.test", json={"refused": False}, headers=alpha_ops)
        assert (await post(hb, bob, content("allowed again"))).status_code == 201


def _operator_token(prov) -> str:  # type: ignore[no-untyped-def]
    """``accord admin --data DIR token``, as the operator runs it next to the server."""
    out = subprocess.run([sys.executable, "-c", "from accord.cli.main import main; main()",
                          "admin", *admin_store(prov.data_dir, prov.database), "token"],
                         capture_output=True, text=True, timeout=60, check=True,
                         env=dict(os.environ, COLUMNS="200")).stdout
    return out.rsplit(":", 1)[1].strip()
