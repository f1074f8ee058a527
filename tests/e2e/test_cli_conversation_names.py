"""Naming conversations from the CLI (issue 19): a failed `chat new` saves nothing,
names are unique and non-empty, an ambiguous name is refused with the candidates,
and a unique id prefix names a conversation in every command."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from accord.client import conversations as convs
from accord.client.device import Device
from tests.e2e.helpers import PASS, Clock, engine, new_device, run_cli
from tests.federation.groups import arrive


async def _people(server, tmp_path: Path, clock: Clock, *names: str) -> dict[str, str]:
    tag = os.urandom(3).hex()
    accounts = {}
    for n in names:
        dev = await new_device(tmp_path / n, f"{n}{tag}@alpha.test", server.url, clock)
        accounts[n] = dev.identity.account
        await dev.disconnect()
        dev.close()
    return accounts


def _names(profile: Path) -> list[str]:
    out = run_cli(profile, "chat", "list", "--json")
    assert out.returncode == 0, out.stderr
    return [c["name"] for c in json.loads(out.stdout)]


def test_failed_chat_new_saves_nothing_and_names_are_unique(server, tmp_path) -> None:
    clock = Clock()
    acct = asyncio.run(_people(server, tmp_path, clock, "alice", "bob"))
    alice = tmp_path / "alice"
    bad = run_cli(alice, "chat", "new", "trip", "nobody@nowhere.invalid")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert _names(alice) == []  # nothing saved
    ok = run_cli(alice, "chat", "new", "trip", acct["bob"], "--json")
    assert ok.returncode == 0, ok.stderr
    again = run_cli(alice, "chat", "new", "Trip", acct["bob"])
    assert again.returncode == 1
    assert "you already have a conversation named 'Trip'" in again.stderr
    assert "(conversation name)" in again.stderr
    empty = run_cli(alice, "chat", "new", "  ", acct["bob"])
    assert empty.returncode == 1 and "a conversation needs a name" in empty.stderr
    assert _names(alice) == ["trip"]
    run_cli(alice, "chat", "new", "other", acct["bob"])
    taken = run_cli(alice, "chat", "rename", "other", "TRIP")
    assert taken.returncode == 1 and "already have a conversation named 'TRIP'" in taken.stderr
    blank = run_cli(alice, "chat", "rename", "other", "")
    assert blank.returncode == 1 and "a conversation needs a name" in blank.stderr
    assert sorted(_names(alice)) == ["other", "trip"]


async def _two_invites_named_alike(server, tmp_path: Path, clock: Clock) -> None:
    acct = await _people(server, tmp_path, clock, "alice")
    tag = os.urandom(3).hex()
    ids = []
    for n in ("bob", "carol"):
        dev = await new_device(tmp_path / n, f"{n}{tag}@alpha.test", server.url, clock)
        ids.append((await convs.create(dev, "trip", [acct["alice"]], clock()))["conv_id"])
        await dev.disconnect()
        dev.close()
    alice = Device.open(tmp_path / "alice", PASS, engine=engine())
    await alice.connect()
    for conv_id in ids:  # T14: both are strangers, alice accepts
        await arrive(alice, conv_id, clock)
    await alice.disconnect()
    alice.close()


def test_ambiguous_name_is_refused_and_an_id_prefix_works(server, tmp_path) -> None:
    clock = Clock()
    asyncio.run(_two_invites_named_alike(server, tmp_path, clock))
    alice = tmp_path / "alice"
    listed = json.loads(run_cli(alice, "chat", "list", "--json").stdout)
    assert [c["name"] for c in listed] == ["trip", "trip"]
    ids = [c["id"] for c in listed]
    sent = run_cli(alice, "send", "trip", "which one?")
    assert sent.returncode == 1
    assert "'trip' names several conversations" in sent.stderr.replace("\n", "")
    for conv_id in ids:  # the candidates, with their ids
        assert conv_id in sent.stderr.replace("\n", "")
    prefix = ids[0][:6] if ids[0][:6] != ids[1][:6] else ids[0]
    ok = run_cli(alice, "send", prefix, "the first one", "--json")
    assert ok.returncode == 0, ok.stderr
    read = json.loads(run_cli(alice, "read", prefix, "--json", "--no-receipts").stdout)
    assert read["id"] == ids[0]
    assert [i["text"] for i in read["items"] if i["type"] == "message"] == ["the first one"]
    info = json.loads(run_cli(alice, "chat", "info", ids[1][:8], "--json").stdout)
    assert info["id"] == ids[1]
    short = run_cli(alice, "read", ids[0][:3])  # under 4 characters is no prefix
    assert short.returncode == 1 and "no conversation" in short.stderr


async def _create_with_failing_commit(server, tmp_path: Path, clock: Clock) -> None:
    from accord.client.api import ServerError

    tag = os.urandom(3).hex()
    alice = await new_device(tmp_path / "alice", f"alice{tag}@alpha.test", server.url, clock)
    bob = await new_device(tmp_path / "bob", f"bob{tag}@alpha.test", server.url, clock)
    real_commit = alice.api.commit

    async def refused(*_a: object, **_k: object) -> None:
        raise ServerError("provider error: the follower's provider is unreachable")

    alice.api.commit = refused  # type: ignore[method-assign]
    try:
        try:
            await convs.create(alice, "trip", [bob.identity.account], clock())
            raise AssertionError("create must fail when its commit fails")
        except ServerError:
            pass
        assert alice.store.conversations() == []  # nothing left behind
        alice.api.commit = real_commit  # type: ignore[method-assign]
        conv = await convs.create(alice, "trip", [bob.identity.account], clock())
        assert [c["conv_id"] for c in alice.store.conversations()] == [conv["conv_id"]]
        assert set(convs.members(alice, conv)) == {alice.identity.account, bob.identity.account}
    finally:
        for d in (alice, bob):
            await d.disconnect()
            d.close()


def test_create_whose_commit_fails_is_not_saved(server, tmp_path) -> None:
    asyncio.run(_create_with_failing_commit(server, tmp_path, Clock()))
