"""A provider outage from the CLI (issue 19): real processes, a provider stopped and
started again. `send` keeps the message and says it is queued; the next command
after the provider is back delivers it; the recipient gets it exactly once."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from accord.client import conversations as convs
from accord.client.local_server import free_port
from tests.e2e.helpers import Clock, new_device, run_cli
from tests.engine import start_server
from tests.federation.groups import arrive


async def _pair(url: str, tmp_path: Path) -> None:
    clock = Clock()
    tag = os.urandom(3).hex()
    alice = await new_device(tmp_path / "alice", f"alice{tag}@alpha.test", url, clock)
    bob = await new_device(tmp_path / "bob", f"bob{tag}@alpha.test", url, clock)
    await convs.create(alice, "pair", [bob.identity.account], clock())
    await arrive(bob, "pair", clock)  # T14: alice is a stranger
    for d in (alice, bob):
        await d.disconnect()
        d.close()


def _js(profile: Path, *args: str, at_ms: int | None = None) -> dict:
    """``accord ARGS --json``; with ``at_ms`` the CLI's clock starts at that time."""
    out = run_cli(profile, *args, "--json", clock_at_ms=at_ms)
    assert out.returncode == 0, out.stderr + out.stdout
    return json.loads(out.stdout)


def test_send_during_an_outage_is_queued_and_delivered_once(tmp_path) -> None:
    port = free_port()
    data = tmp_path / "provider"
    server = start_server(data, "alpha.test", port=port, log_path=tmp_path / "p1.log")
    try:
        asyncio.run(_pair(server.url, tmp_path))
    finally:
        server.stop()  # the outage
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    human = run_cli(alice, "send", "pair", "sent during the outage")
    assert human.returncode == 0, human.stderr
    assert "queued: the provider cannot take it now" in human.stderr.replace("\n", " ")
    read = _js(alice, "read", "pair", "--no-receipts")
    mine = [i for i in read["items"] if i["type"] == "message"]
    assert [(i["text"], i["outbox"]) for i in mine] == [("sent during the outage", "pending")]
    (item,) = read["outbox"]
    assert (item["kind"], item["state"], item["attempts"]) == ("text", "pending", 1)
    assert _js(alice, "chat", "list")[0]["pending"] == 1
    due = item["next_attempt_at"]
    server = start_server(data, "alpha.test", port=port, log_path=tmp_path / "p2.log")
    try:
        # The backoff decides: a command before the time the CLI reported sends nothing,
        # the next one at that time sends it (the CLI's clock is moved, not waited for).
        # (a minute early: the CLI's clock runs on while it starts and unlocks the profile)
        assert _js(alice, "chat", "list", at_ms=due - 60_000)[0]["pending"] == 1
        assert _js(alice, "chat", "list", at_ms=due)[0]["pending"] == 0
        assert _js(alice, "outbox", "list") == []
        got = _js(bob, "read", "pair", "--no-receipts")
        texts = [i["text"] for i in got["items"] if i["type"] == "message"]
        assert texts == ["sent during the outage"]  # exactly once
        again = _js(bob, "read", "pair", "--no-receipts")
        assert [i["text"] for i in again["items"] if i["type"] == "message"] == texts
        after = _js(alice, "read", "pair", "--no-receipts")
        assert [i["outbox"] for i in after["items"] if i["type"] == "message"] == [None]
    finally:
        server.stop()
