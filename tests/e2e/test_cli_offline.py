"""Without its provider a device still reads and searches; what it sends is queued.
Real ``accord`` processes on a profile the library set up."""

from __future__ import annotations

import asyncio
import json
import os

from accord.client import conversations as convs
from accord.client import messaging
from accord.client.local_server import free_port
from tests.e2e.helpers import Clock, new_device, run_cli


def test_read_and_search_work_offline_and_send_fails_cleanly(server, tmp_path) -> None:
    clock = Clock()

    async def setup() -> None:
        dev = await new_device(tmp_path / "a", f"a{os.urandom(3).hex()}@alpha.test",
                               server.url, clock)
        conv = await convs.create(dev, "notes", [], clock())
        await messaging.send_text(dev, conv, "remember the milk", clock())
        ident = dev.store.get_json("identity")
        # the provider goes away: nothing answers on this port
        dev.store.put_json("identity", dict(ident, server=f"http://127.0.0.1:{free_port()}"))
        await dev.disconnect()
        dev.close()

    asyncio.run(setup())
    profile = tmp_path / "a"
    read = run_cli(profile, "read", "notes", "--json", "--no-receipts")
    assert read.returncode == 0, read.stderr
    assert "remember the milk" in read.stdout
    found = run_cli(profile, "search", "milk", "--json")
    assert found.returncode == 0 and "remember the milk" in found.stdout
    sent = run_cli(profile, "send", "notes", "hello?", "--json")
    assert sent.returncode == 0, sent.stderr  # kept, not lost (issue 19)
    assert "Traceback" not in sent.stderr
    assert json.loads(sent.stdout)["state"] == "queued"
    read = run_cli(profile, "read", "notes", "--json", "--no-receipts")
    shown = json.loads(read.stdout)
    assert [(i["text"], i["outbox"]) for i in shown["items"] if i["type"] == "message"] == [
        ("remember the milk", None), ("hello?", "pending")]
    assert [(o["kind"], o["state"]) for o in shown["outbox"]] == [("text", "pending")]
