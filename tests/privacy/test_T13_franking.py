"""T13 evidence: a valid report verifies at the hub (also forwarded by a follower);
each kind of forged report does not; the provider's actions take effect."""

from __future__ import annotations

import dataclasses
import secrets
import sqlite3

import httpx

from accord.content import Content, Text, encode_content
from accord.wire import decode, encode
from accord.wire import privacy as w
from tests.federation.groups import alice_and_bob
from tests.privacy.helpers import DB, content, open_item, post, rows


async def _report(dev, http: httpx.AsyncClient, **kw) -> w.ReportResult:  # type: ignore[no-untyped-def]
    r = await http.post("/v1/reports", json=encode(w.ReportRequest(**kw)), headers=dev.auth)
    assert r.status_code == 200, r.text
    return decode(w.ReportResult, r.json())


def _with(c: Content, **header: object) -> bytes:
    return encode_content(dataclasses.replace(c, header=dataclasses.replace(c.header, **header)))


async def test_T13_reports_verify_and_forgeries_fail(two) -> None:  # type: ignore[no-untyped-def]
    alpha, beta = two["alpha"], two["beta"]
    async with httpx.AsyncClient(base_url=alpha.url, timeout=20) as ha, \
            httpx.AsyncClient(base_url=beta.url, timeout=20) as hb:
        alice, bob, gid = await alice_and_bob(ha, hb, "t13")
        abusive = content("an abusive message, reported by its recipient")
        assert (await post(ha, alice, abusive)).status_code == 201
        items = await bob.wait_items(1)
        item = items[-1]
        assert item.kind == "application" and item.sender is None
        assert item.franking_tag is not None and len(item.franking_tag) == 32
        opened = open_item(bob, item)
        assert opened.content.body == Text("an abusive message, reported by its recipient")
        good = dict(group_id=gid, created_at=item.created_at, content=opened.encoded,
                    franking_tag=item.franking_tag, alleged_sender=alice.account)

        # a follower's user reports: beta forwards to the hub (alpha), which verifies
        ok = await _report(bob, hb, **good)
        assert ok.verified and ok.hub == "alpha.test" and ok.report_id is not None

        other_text = encode_content(dataclasses.replace(opened.content, body=Text("nice")))
        other_key = _with(opened.content, franking_key=secrets.token_bytes(32))
        forgeries = {
            "other text": dict(good, content=other_text),
            "other key": dict(good, content=other_key),
            "other tag": dict(good, franking_tag=secrets.token_bytes(32)),
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
    reports = rows(alpha.data_dir / DB)["abuse_reports"]
    assert len(reports) == 1
    _id, rgid, reporter, alleged, body, at, _created, status = reports[0]
    assert (bytes(rgid), reporter, alleged, bytes(body), at, status) == (
        gid, "via beta.test", alice.account, opened.encoded, item.created_at, "open")
    # beta keeps its own record: its user's report, forwarded
    mine = rows(beta.data_dir / DB)["abuse_reports"]
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
                            content=opened.encoded, franking_tag=item.franking_tag)
        assert res.verified and res.hub == "alpha.test"

        # the operator suspends bob's account (on beta): every authenticated call fails
        _set(beta, bob.account, "suspended")
        assert (await hb.get("/v1/queue", headers=bob.auth)).status_code == 401
        _set(beta, bob.account, None)
        assert (await hb.get("/v1/queue", headers=bob.auth)).status_code == 200

        # alpha refuses beta: bob's posts no longer reach the hub
        con = sqlite3.connect(alpha.data_dir / DB)
        con.execute("INSERT INTO refused_peers VALUES ('beta.test', 'abuse', 0)")
        con.commit()
        r = await post(hb, bob, content("refused"))
        assert r.status_code == 503, r.text  # beta: the hub refused us
        con.execute("DELETE FROM refused_peers")
        con.commit()
        con.close()
        assert (await post(hb, bob, content("allowed again"))).status_code == 201


def _set(prov, account: str, action: str | None) -> None:  # type: ignore[no-untyped-def]
    con = sqlite3.connect(prov.data_dir / DB)
    con.execute("DELETE FROM account_actions WHERE account = ?", (account,))
    if action is not None:
        con.execute("INSERT INTO account_actions VALUES (?, ?, 'test', 0)", (account, action))
    con.commit()
    con.close()
