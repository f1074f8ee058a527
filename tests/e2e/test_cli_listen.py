"""issue 19: ``accord listen`` as a process against a live provider: unread first,
every kind of change, the provider stopped and started again (reconnect, what was
sent meanwhile), and a clear line with exit status 3 when the device is removed."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from accord.client import conversations as convs
from accord.client import linking, messaging
from tests.e2e.helpers import PASS, Clock, new_device
from tests.engine import start_server
from tests.federation.groups import arrive

WAIT_S = 60.0


def _cli(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ACCORD_PROFILE=str(profile), ACCORD_PASSPHRASE=PASS)
    return subprocess.run([sys.executable, "-c", "from accord.cli.main import main; main()",
                           *args], env=env, capture_output=True, text=True, timeout=WAIT_S)


class Lines:
    """A child's stdout, one JSON object per line, read on a thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.q: queue.Queue[dict[str, Any]] = queue.Queue()
        self.all: list[dict[str, Any]] = []
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("{"):
                self.q.put(json.loads(line))

    def until(self, check: Any) -> dict[str, Any]:
        end = time.monotonic() + WAIT_S
        while time.monotonic() < end:
            try:
                item = self.q.get(timeout=max(0.1, end - time.monotonic()))
            except queue.Empty:
                break
            self.all.append(item)
            if check(item):
                return item
        raise AssertionError(f"not seen; got {self.all}")


async def _setup(tmp: Path, url: str) -> dict[str, str]:
    clock = Clock()
    tag = os.urandom(3).hex()
    ann = await new_device(tmp / "ann", f"ann{tag}@alpha.test", url, clock)
    ben = await new_device(tmp / "ben", f"ben{tag}@alpha.test", url, clock)
    phone = await new_device(tmp / "phone", None, url, clock)
    slot = await linking.open_slot(ben, clock())
    await linking.join(phone, slot.code, url)
    new = await linking.poll_answer(ben, slot)
    assert new is not None
    # no history to send: ben syncs below (to accept ann's request, T14), and a pending
    # transfer would open a note-to-self conversation this test does not count
    phone_id = await linking.certify(ben, slot, new, send_history=False)
    assert await phone.complete_link(clock()) is not None
    conv = await convs.create(ann, "live", [ben.identity.account], clock())
    await messaging.send_text(ann, conv, "before listening", clock())
    await arrive(ben, "live", clock)  # T14: ann is a stranger; ben accepts on his first device
    ids = {"phone_id": phone_id, "ann": ann.identity.account}
    for d in (ann, ben, phone):
        await d.disconnect()
        d.close()
    return ids


def test_listen_catches_up_reconnects_and_reports_removal(tmp_path) -> None:
    data = tmp_path / "provider"
    srv = start_server(data, "alpha.test")
    port = int(srv.url.rsplit(":", 1)[1])
    try:
        ids = asyncio.run(_setup(tmp_path, srv.url))
        env = dict(os.environ, ACCORD_PROFILE=str(tmp_path / "phone"), ACCORD_PASSPHRASE=PASS)
        proc = subprocess.Popen(
            [sys.executable, "-c", "from accord.cli.main import main; main()", "listen",
             "--json", "--no-cover", "--idle", "2", "--duration", "170"],
            env=env, stdout=subprocess.PIPE, text=True)
        try:
            out = Lines(proc)
            banner = out.until(lambda i: i["type"] == "banner")
            assert banner["unread"] == 1 and banner["conversations"] == 1
            # what arrived before this device ever listened: the unread message
            first = out.until(lambda i: i["type"] == "message")
            assert (first["text"], first["sender"]) == ("before listening", ids["ann"])
            assert _cli(tmp_path / "ann", "send", "live", "live one").returncode == 0
            out.until(lambda i: i.get("text") == "live one")
            assert _cli(tmp_path / "ann", "react", "live", first["short_id"], "+1"
                        ).returncode == 0
            react = out.until(lambda i: i["type"] == "reaction")
            assert (react["emoji"], react["by"]) == ("+1", [ids["ann"]])

            srv.stop()  # the provider goes away: a status line, then backoff
            down = out.until(lambda i: i["type"] == "status")
            assert down["text"].startswith("provider unreachable")
            srv = start_server(data, "alpha.test", port=port)
            assert _cli(tmp_path / "ann", "send", "live", "while you were away").returncode == 0
            out.until(lambda i: i["type"] == "status" and i["text"] == "reconnected")
            out.until(lambda i: i.get("text") == "while you were away")

            removed = _cli(tmp_path / "ben", "devices", "remove", ids["phone_id"])
            assert removed.returncode == 0, removed.stderr
            gone = out.until(lambda i: i["type"] == "removed")
            assert "this device was removed" in gone["text"]
            assert proc.wait(WAIT_S) == 3
        finally:
            proc.kill()
            proc.wait()
    finally:
        srv.stop()
