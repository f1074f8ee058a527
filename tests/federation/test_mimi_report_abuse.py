"""Reports sent over MIMI (issue 22, draft-ietf-mimi-protocol-06 5.9, T13).

alpha.test hubs a room; bob@beta.test is a member. Both providers send room traffic over
MIMI (``--mimi-transport``), each reached through a recording proxy. bob reports alice's
message with a reason code and a note: beta sends alpha the draft's AbuseReport on
``reportAbuse`` (decoded here with the draft-only decoder), never Accord's
``/federation/v1/reports``; alpha verifies the Frank and files the report with the reason
and the note, which its operator reads (escaped) with ``accord admin reports``; bob's
device is told the report was acknowledged (5.9's answer says no more). A forged report
(altered content, another message's frank) is acknowledged and filed nowhere at the hub.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.client import conversations as convs
from accord.client import messaging
from accord.client import report as reporting
from accord.errors import ValidationError
from accord.wire import mimi as w
from accord.wire import privacy as p
from tests.e2e.helpers import Clock, new_device
from tests.engine import admin_store, engine_params
from tests.federation.capture import DRAFT_POSTS, Wire, captured_federation, draft_decode
from tests.federation.groups import arrive, bodies
from tests.federation.providers import Provider
from tests.privacy.helpers import rows

A, B = "alpha.test", "beta.test"
NOTE = "threats [bold]again[/bold] <script>x</script>\x1b[31m"


@pytest.fixture(scope="module", params=engine_params())
def captured(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[dict[str, Provider], Wire]]:
    with captured_federation(tmp_path_factory.mktemp("report"), [A, B],
                             withhold={d: DRAFT_POSTS for d in (A, B)}) as fed:
        yield fed


def admin_reports(prov: Provider, *extra: str) -> str:
    """``accord admin reports --status all`` as the hub's operator runs it."""
    cmd = [sys.executable, "-c", "from accord.cli.main import main; main()", "admin",
           *admin_store(prov.data_dir, prov.database), "reports", "--status", "all", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True,
                          env=dict(os.environ, COLUMNS="400")).stdout


def hub_reports(prov: Provider) -> list[tuple[object, ...]]:
    return rows(prov)["abuse_reports"]


async def test_T13_a_report_to_a_hub_over_mimi_is_the_drafts_abuse_report(
    captured: tuple[dict[str, Provider], Wire], tmp_path: Path,
) -> None:
    provs, wire = captured
    alpha, beta = provs[A], provs[B]
    clock, tag = Clock(), secrets.token_hex(3)
    alice = await new_device(tmp_path / "alice", f"alice{tag}@alpha.test", alpha.url, clock)
    bob = await new_device(tmp_path / "bob", f"bob{tag}@beta.test", beta.url, clock)
    try:
        conv = await convs.create(alice, "reported", [bob.identity.account], clock())
        await arrive(bob, "reported", clock)
        for text in ("you will regret this", "a second message"):
            await messaging.send_text(alice, alice.store.conversation(conv["conv_id"]), text,
                                      clock())
        await bodies(bob, "reported", "a second message", clock)
        bconv = convs.find(bob, "reported")
        msgs = {x.body: x for x in bob.store.messages(bconv["conv_id"])}
        abusive, other = msgs["you will regret this"], msgs["a second message"]
        kept = abusive.meta["franking"]
        before = len(hub_reports(alpha))

        mark = wire.mark()
        result = await reporting.report(bob, bconv, abusive.msg_id, reason_code=3, note=NOTE)
        # 5.9 answers 201 only: acknowledged by the hub, not said to be verified
        assert (result.verified, result.outcome, result.hub) == (False, p.ACKNOWLEDGED, A)
        sent = wire.since(mark)
        assert not [x for x in sent if x.path.startswith("/federation/v1/reports")]
        [x] = [x for x in sent if x.path.startswith("/mimi/v1/reportAbuse/")]
        assert (x.to, x.sender, x.status) == (A, B, 201)
        room = w.mimi_room_uri(A, bytes.fromhex(kept["group_id"]))
        assert x.path == w.endpoint_path("reportAbuse", room)
        name, req, answer = draft_decode(x)  # the draft's AbuseReport, to the last byte
        assert (name, answer) == ("reportAbuse", None)
        [message] = req["messages"]
        assert (req["reportingUser"], req["allegedAbuserUri"], req["reasonCode"], req["note"]) == (
            "", w.mimi_user_uri(alice.identity.account), 3, NOTE.encode())
        assert message["message_content"] == bytes.fromhex(kept["content"])
        assert message["accepted_timestamp"] == kept["created_at"]
        frank = w.Frank.from_bytes(bytes.fromhex(kept["frank"]))
        assert (message["frank"]["server_frank"], message["frank"]["franking_integrity_signature"]
                ) == (frank.server_frank, frank.franking_integrity_signature)

        # the hub verified the Frank and filed the report, with the reason and the note
        filed = hub_reports(alpha)
        assert len(filed) == before + 1
        (_id, gid, reporter, alleged, body, at, _created, status, reason, note) = filed[-1]
        assert (bytes(gid).hex(), reporter, alleged, bytes(body).hex(), at, status, reason,
                note) == (kept["group_id"], "via beta.test", alice.identity.account,
                          kept["content"], kept["created_at"], "open", 3, NOTE)
        # beta keeps its own record of its user's report: sent, acknowledged
        mine = hub_reports(beta)[-1]
        assert (mine[2], mine[7], mine[8], mine[9]) == (bob.identity.account, "acknowledged",
                                                        3, NOTE)
        # the hub's operator reads the reason and the note, as inert text
        listed = admin_reports(alpha)
        line = next(ln for ln in listed.splitlines() if ln.startswith(f"#{_id} "))
        assert "reason 3" in line and "[bold]again[/bold]" in line and "<script>" in line
        assert "\x1b" not in listed
        assert "\\x1b[31m" in line

        # forgeries, sent by beta as bob's device asks: acknowledged, not filed by the hub
        good = p.ReportRequest(group_id=bytes.fromhex(kept["group_id"]),
                               created_at=kept["created_at"],
                               content=bytes.fromhex(kept["content"]),
                               frank=bytes.fromhex(kept["frank"]),
                               alleged_sender=alice.identity.account, reason_code=1, note="x")
        content = bytearray(good.content)
        content[-1] ^= 1
        forgeries = {"altered content": dict(content=bytes(content)),
                     "another message's frank": dict(
                         frank=bytes.fromhex(other.meta["franking"]["frank"]))}
        for what, changed in forgeries.items():
            mark = wire.mark()
            answer = await bob.api._json(p.ReportResult, "POST", "/v1/reports",
                                         body=dataclasses.replace(good, **changed), auth=True)
            assert answer.outcome == p.ACKNOWLEDGED, what
            [x] = [x for x in wire.since(mark) if x.path.startswith("/mimi/v1/reportAbuse/")]
            assert x.status == 201, what
            assert len(hub_reports(alpha)) == before + 1, what

        # the follower's limit: a note over MAX_NOTE octets is refused at beta, before
        # anything goes to the hub
        mark = wire.mark()
        with pytest.raises(ValidationError, match="note"):
            await bob.api._json(p.ReportResult, "POST", "/v1/reports", auth=True,
                                body=dataclasses.replace(good, note="é" * p.MAX_NOTE))
        assert not [x for x in wire.since(mark) if "reportAbuse" in x.path]
    finally:
        await alice.disconnect()
        await bob.disconnect()
