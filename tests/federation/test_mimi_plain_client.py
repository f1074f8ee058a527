"""Accord's full client library with a user of a plain MIMI provider (issue 22: "interoperate
without it when a peer does not offer it"; docs/PROTOCOL.md "Keys not transparency-checked",
docs/INTEROP.md "MIMI transport").

alpha.test and beta.test run Accord; plain.test runs ``--mimi-plain`` (no ``accord-*``
extension: no key transparency, no device lists, no ``/.well-known/accord``), all over
mutual TLS with a CA of this test. Every person is a real :class:`Device` of the client
library on its own provider. Both directions: alice@alpha creates a room and adds
pete@plain and bob@beta; pete creates a room and adds alice. Texts, a reply, a reaction,
an attachment and a removal cross. Pete's keys cannot be held to a log: alice's device
takes them as *not transparency-checked* (T06), a state of its own that the conversation
records and shows, never as checked; bob's keys, whose provider offers transparency, are
checked as always.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from accord import http_client
from accord.client import alerts, device_kt, messaging, safety
from accord.client import api as client_api
from accord.client import conversations as convs
from accord.client.keycheck import KtHttp
from accord.errors import NoTransparency
from accord.wire import b64e
from tests.e2e.helpers import PASS, Clock
from tests.engine import engine_params
from tests.federation.capture import Wire
from tests.federation.groups import arrive, bodies, people, until
from tests.federation.providers import Provider
from tests.federation.test_mtls import Authority
from tests.federation.tls_capture import captured_tls_federation

A, B, P = "alpha.test", "beta.test", "plain.test"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pki")
    ca = Authority("Accord plain client test CA")
    files = {"ca": ca.write(root / "ca.pem")}
    for d in (A, B, P):
        files[d], files[d + ".key"] = ca.issue(d, root / "ca")
    return files


@pytest.fixture(scope="module", params=engine_params())
def world(request: pytest.FixtureRequest, pki: dict[str, Path],
          tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[dict[str, Provider], Wire]]:
    with captured_tls_federation(tmp_path_factory.mktemp("plainclient"), [A, B, P], pki,
                                 plain={P}) as out:
        yield out


@pytest.fixture
def trust_test_ca(pki: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Devices reach their providers over HTTPS with the test CA (providers listen at
    127.0.0.1, their certificates name their domains)."""
    ctx = ssl.create_default_context(cafile=str(pki["ca"]))
    ctx.check_hostname = False
    monkeypatch.setattr(http_client, "tls_context", lambda: ctx)
    real = client_api.ws_connect
    monkeypatch.setattr(client_api, "ws_connect", lambda url, **kw: real(url, ssl=ctx, **kw))


def short(provs: dict[str, Provider]) -> dict[str, Provider]:
    return {d.split(".")[0]: p for d, p in provs.items()}


async def attachment_of(dev: Any, conv_id: str, file_id: bytes) -> bytes | None:
    if file_id not in {x.msg_id for x in dev.store.messages(conv_id)}:
        return None
    return (await messaging.fetch_attachment(dev, file_id))[1]


async def web_json(dev: Any, view: str, conv_id: str) -> Any:
    """What the web app's view ``view`` answers for conversation ``conv_id``."""
    from starlette.requests import Request

    from accord.web.live import Live
    from accord.web.views import Api

    request = Request({"type": "http", "method": "GET", "path": "/", "headers": [],
                       "query_string": b"", "path_params": {"conv": conv_id}})
    response = await getattr(Api(Live(dev)), view)(request)
    return orjson.loads(response.body)


async def cli_text(profile: Path, *args: str) -> str:
    """``accord ARGS`` in this process (the test CA trusted), on its own thread."""
    from click.testing import CliRunner

    from accord.cli.main import cli

    env = {"ACCORD_PROFILE": str(profile), "ACCORD_PASSPHRASE": PASS, "COLUMNS": "200"}
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


async def cli_json(profile: Path, *args: str) -> Any:
    return orjson.loads(await cli_text(profile, *args, "--json"))


def reactions_of(dev: Any, conv_id: str, msg_id: bytes) -> Any:
    [msg] = [x for x in dev.store.messages(conv_id) if x.msg_id == msg_id]
    return msg.meta.get("reactions") or None


@pytest.mark.usefixtures("trust_test_ca")
async def test_T06_full_client_library_with_a_plain_mimi_users_room_both_ways(
    world: tuple[dict[str, Provider], Wire], tmp_path: Path
) -> None:
    provs, _ = world
    clock = Clock()
    alice, bob, pete = await people(tmp_path, short(provs), clock,
                                    "alice@alpha", "bob@beta", "pete@plain")
    try:
        # --- alice (Accord) creates the room, adds bob (Accord) and pete (plain) ---
        conv = await convs.create(alice, "mixed", [bob.identity.account, pete.identity.account],
                                  clock())
        # pete's keys: taken, visibly not transparency-checked; bob's: checked
        assert safety.unlogged_members(alice, conv) == [pete.identity.account]
        checked = set(alice.store.get_json("kt:checked", []))
        assert {a.split("|")[0] for a in checked} >= {bob.identity.account}
        assert not any(a.startswith(pete.identity.account + "|") for a in checked)
        assert safety.unproven_members(alice, conv) == []
        hello = await messaging.send_text(alice, conv, "hello plain", clock())
        pconv = await arrive(pete, "mixed", clock)
        await bodies(pete, "mixed", "hello plain", clock)
        bconv = await arrive(bob, "mixed", clock)
        await bodies(bob, "mixed", "hello plain", clock)
        # pete's device: alice's and bob's keys come from providers it cannot ask
        assert safety.unlogged_members(pete, pconv) == sorted(
            [alice.identity.account, bob.identity.account])
        await messaging.send_text(pete, pconv, "hello accord", clock(), reply_to=hello)
        await bodies(alice, "mixed", "hello accord", clock)
        # the conversation records it, once (each sync's duties note it)
        events = [e for e in alice.store.events(conv["conv_id"]) if e["kind"] == "security"]
        assert [e["detail"]["account"] for e in events
                if e["detail"].get("what") == device_kt.UNLOGGED_EVENT] == [pete.identity.account]
        [reply] = [x for x in alice.store.messages(conv["conv_id"]) if x.body == "hello accord"]
        assert reply.reply_to == hello
        await messaging.react(pete, pconv, hello, "+1", clock())
        await until(alice, clock, lambda: reactions_of(alice, conv["conv_id"], hello), "reaction")
        file_id = await messaging.send_file(alice, alice.store.conversation(conv["conv_id"]),
                                            b"attached bytes", "a.txt", "text/plain", clock())
        got = await until(pete, clock,
                          lambda: attachment_of(pete, pconv["conv_id"], file_id), "attachment")
        assert got == b"attached bytes"
        pfile = await messaging.send_file(pete, pete.store.conversation(pconv["conv_id"]),
                                          b"plain bytes", "p.txt", "text/plain", clock())
        got = await until(bob, clock,
                          lambda: attachment_of(bob, bconv["conv_id"], pfile), "attachment")
        assert got == b"plain bytes"
        await convs.remove_member(alice, alice.store.conversation(conv["conv_id"]),
                                  pete.identity.account, clock())
        await messaging.send_text(alice, alice.store.conversation(conv["conv_id"]),
                                  "after pete", clock())
        await bodies(bob, "mixed", "after pete", clock)

        # the key-change gate holds pete to the keys alice's device took first
        seen = alice.store.get_json("kt:unlogged")
        alice.store.put_json("kt:unlogged", [pete.identity.account + "|" + b64e(b"\x01" * 32)])
        with pytest.raises(safety.KeyChangeUnconfirmed):
            await convs.create(alice, "again", [pete.identity.account], clock())
        await convs.create(alice, "again", [pete.identity.account], clock(),
                           confirmed=[pete.identity.account])
        assert set(seen) <= set(alice.store.get_json("kt:unlogged"))

        # --- pete (plain) creates a room and adds alice ---
        room = await convs.create(pete, "plainroom", [alice.identity.account], clock())
        assert safety.unlogged_members(pete, room) == [alice.identity.account]
        await messaging.send_text(pete, room, "from the plain hub", clock())
        aroom = await arrive(alice, "plainroom", clock)
        await bodies(alice, "plainroom", "from the plain hub", clock)
        assert safety.unlogged_members(alice, aroom) == [pete.identity.account]
        first = await messaging.send_text(alice, aroom, "alpha answers", clock())
        await bodies(pete, "plainroom", "alpha answers", clock)
        await messaging.react(pete, pete.store.conversation(room["conv_id"]), first, "ok",
                              clock())
        await until(alice, clock, lambda: reactions_of(alice, aroom["conv_id"], first),
                    "reaction")
        afile = await messaging.send_file(alice, alice.store.conversation(aroom["conv_id"]),
                                          b"to plain", "b.txt", "text/plain", clock())
        got = await until(pete, clock,
                          lambda: attachment_of(pete, room["conv_id"], afile), "attachment")
        assert got == b"to plain"
        await convs.remove_member(pete, pete.store.conversation(room["conv_id"]),
                                  alice.identity.account, clock())

        async def gone() -> bool:
            return not alice.store.conversation(aroom["conv_id"])["meta"].get("active", True)

        await until(alice, clock, gone, "alice's removal")
        # no alert on any device: a plain peer's missing transparency is a state, not a
        # failure (no log_unavailable), and a plain hub's rooms, which carry no chain
        # links (no accord-forkDetection), raise no fork alert
        for d in (alice, bob, pete):
            assert alerts.all_alerts(d.store) == [], d.identity.account
        # pete's own provider publishes no log: no self-monitoring, a state of its own
        assert device_kt.own_unlogged(pete) and not device_kt.own_unlogged(alice)
        # the faces: the web app's views, then accord chat members / chat info
        again = convs.find(alice, "again")
        web = await web_json(alice, "members", again["conv_id"])
        assert {r["account"]: r["transparency_checked"] for r in web["members"]} == {
            alice.identity.account: True, pete.identity.account: False}
        web = await web_json(alice, "conversation", again["conv_id"])
        assert web["not_transparency_checked"] == [pete.identity.account]
        await alice.disconnect()
        alice.close()
        members = await cli_json(tmp_path / "alice", "chat", "members", "again")
        assert members["not_transparency_checked"] == [pete.identity.account]
        info = await cli_json(tmp_path / "alice", "chat", "info", "again")
        assert info["not_transparency_checked"] == [pete.identity.account]
        text = await cli_text(tmp_path / "alice", "chat", "members", "again")
        assert "NOT TRANSPARENCY-CHECKED" in text
    finally:
        for d in (alice, bob, pete):
            await d.disconnect()


@pytest.mark.usefixtures("trust_test_ca")
async def test_T06_a_provider_whose_log_was_used_cannot_stop_offering_it(
    world: tuple[dict[str, Provider], Wire], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """alice's device checked bob@beta's keys in beta's log (its head key pinned). When
    lookups of beta's users then answer no_transparency (beta's directory dropped
    accord-keyTransparency, or alice's provider says so), that is a downgrade: an add of
    bob is refused, a leaf of bob's to check becomes unproven (the send gate asks), an
    alert is raised, and nothing is taken as not transparency-checked. Nor ever for
    alice's own provider's users."""
    provs, _ = world
    clock = Clock()
    alice, bob, carol = await people(tmp_path, short(provs), clock,
                                     "alice@alpha", "bob@beta", "carol@alpha")
    try:
        conv = await convs.create(alice, "first", [bob.identity.account], clock())
        assert alice.store.get_json("kt:key:" + B) is not None
        real = KtHttp.lookup

        async def withdrawn(self: KtHttp, account: str) -> Any:
            if account in (bob.identity.account, carol.identity.account):
                raise NoTransparency("no key transparency")
            return await real(self, account)

        monkeypatch.setattr(KtHttp, "lookup", withdrawn)
        for who in (bob, carol):
            with pytest.raises(device_kt.TransparencyWithdrawn):
                await convs.create(alice, "again" + who.identity.account[:3],
                                   [who.identity.account], clock())
        kinds = [a["kind"] for a in alerts.all_alerts(alice.store)]
        assert kinds.count("transparency_withdrawn") == 2
        assert device_kt.unlogged(alice) == set()
        # a leaf of bob's still to check (as after a Welcome or an added device)
        alice.store.put_json("kt:checked", [])
        await device_kt.after_sync(alice, clock())
        assert safety.unproven_members(alice, conv) == [bob.identity.account]
        assert safety.unlogged_members(alice, conv) == []
        with pytest.raises(safety.KeyChangeUnconfirmed):
            await messaging.send_text(alice, alice.store.conversation(conv["conv_id"]),
                                      "to a downgraded log", clock())
        # alice's own provider, its head key pinned, then publishing no Accord document
        assert alice.store.get_json("kt:key:" + A) is not None

        async def no_document(self: KtHttp, domain: str) -> Any:
            raise NoTransparency("no Accord document")

        monkeypatch.setattr(KtHttp, "well_known", no_document)
        await device_kt.after_sync(alice, clock(), force=True)
        assert not device_kt.own_unlogged(alice)
        assert {"provider": A} in [a["detail"] for a in alerts.all_alerts(alice.store)
                                   if a["kind"] == "transparency_withdrawn"]
    finally:
        for d in (alice, bob, carol):
            await d.disconnect()
