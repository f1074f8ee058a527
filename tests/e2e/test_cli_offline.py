"""Without its provider a device still reads and searches; what it sends is queued."""

from __future__ import annotations

import asyncio
import json
import os

from click.testing import CliRunner

from accord.cli.main import cli
from accord.client import conversations as convs
from accord.client import messaging
from accord.client.local_server import free_port
from tests.e2e.helpers import PASS, Clock, new_device


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
    env = {"ACCORD_PROFILE": str(tmp_path / "a"), "ACCORD_PASSPHRASE": PASS}
    runner = CliRunner()
    read = runner.invoke(cli, ["read", "notes", "--json", "--no-receipts"], env=env)
    assert read.exit_code == 0, read.output
    assert "remember the milk" in read.output
    found = runner.invoke(cli, ["search", "milk", "--json"], env=env)
    assert found.exit_code == 0 and "remember the milk" in found.output
    sent = runner.invoke(cli, ["send", "notes", "hello?", "--json"], env=env)
    assert sent.exit_code == 0 and "Traceback" not in sent.output  # kept, not lost (issue 19)
    assert json.loads(sent.stdout)["state"] == "queued"
    read = runner.invoke(cli, ["read", "notes", "--json", "--no-receipts"], env=env)
    shown = json.loads(read.stdout)
    assert [(i["text"], i["outbox"]) for i in shown["items"] if i["type"] == "message"] == [
        ("remember the milk", None), ("hello?", "pending")]
    assert [(o["kind"], o["state"]) for o in shown["outbox"]] == [("text", "pending")]
