"""T14 / issue 18: reading a message request is not accepting it.

alice (alpha.test) writes to bob (beta.test), a stranger. While the request
is pending, bob's device reads it (library and `accord read`), has a
self-update due, and links a second device: nothing leaves bob's device for
the request (no receipt, no message, no commit), and the provider still
lists it as pending. After bob's explicit accept, the receipt and the
commits go.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from accord.client import conversations as convs
from accord.client import invites, linking, message_requests, messaging
from accord.client.device import Device
from accord.errors import NotFound, ValidationError
from tests.e2e.helpers import PASS, Clock, new_device
from tests.federation.groups import until
from tests.federation.providers import Provider

DAY_MS = 86_400_000


def _cli(profile: Path, *args: str) -> Any:
    env = dict(os.environ, ACCORD_PROFILE=str(profile), ACCORD_PASSPHRASE=PASS)
    proc = subprocess.run([sys.executable, "-c", "from accord.cli.main import main; main()",
                           *args, "--json"], env=env, capture_output=True, text=True,
                          timeout=90)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


async def _nothing_from_bob(alice: Device) -> None:
    assert (await alice.api.fetch(alice.cursor)).items == []


async def test_T14_nothing_leaves_the_device_for_a_pending_request(
        providers: dict[str, Provider], tmp_path: Path) -> None:
    clock = Clock()
    tag = os.urandom(3).hex()
    alice = await new_device(tmp_path / "a", f"alice{tag}@alpha.test", providers["alpha"].url,
                             clock)
    bob = await new_device(tmp_path / "b", f"bob{tag}@beta.test", providers["beta"].url, clock)
    bob2 = await new_device(tmp_path / "b2", None, providers["beta"].url, clock)
    try:
        conv = await convs.create(alice, "first contact", [bob.identity.account], clock())
        await messaging.send_text(alice, conv, "hello stranger", clock())
        await alice.sync(clock())
        breq = (await until(bob, clock, lambda: [
            c for c in message_requests.pending(bob)
            if invites.held_count(bob, c) >= 3]))[0]
        with pytest.raises(NotFound):  # the Welcome waits unparsed: no group state (issue 18)
            bob.store.load_group(breq["group_id"])

        # bob links a second device, and a self-update of every conversation is due.
        slot = await linking.open_slot(bob, clock())
        await linking.join(bob2, slot.code, providers["beta"].url)
        new = await linking.poll_answer(bob, slot)
        assert new is not None
        device2 = await linking.certify(bob, slot, new, send_history=False)
        assert await bob2.complete_link(clock()) is not None
        clock.t += 30 * DAY_MS

        assert await messaging.mark_read(bob, breq, clock()) == 0
        with pytest.raises(ValidationError) as refused:
            await messaging.send_text(bob, breq, "who are you?", clock())
        assert refused.value.rule == "T14 consent"
        for commit in ({"update": True}, {"remove": [bob.identity.mls_identity]}):
            with pytest.raises(ValidationError) as refused:
                await convs.commit(bob, breq, clock(), **commit)  # type: ignore[arg-type]
            assert refused.value.rule == "T14 consent"
        with pytest.raises(ValidationError):
            await convs.leave(bob, breq, clock())
        assert await linking.add_to_conversations(bob, device2, clock()) == 0
        await bob.sync(clock())  # housekeeping: self-updates, linked devices
        events = [e["kind"] for e in bob.store.events(breq["conv_id"])]
        assert "error" not in events, events  # housekeeping left the request alone
        with pytest.raises(NotFound):  # still nothing parsed, nothing committed
            bob.store.load_group(breq["group_id"])
        await _nothing_from_bob(alice)
    finally:
        await bob.disconnect()
    bob.close()

    try:
        # the waiting request is listed; nothing of it is read and nothing is sent
        await _nothing_from_bob(alice)
        assert [r["conv_id"] for r in _cli(tmp_path / "b", "requests", "list")] == [
            breq["conv_id"]]

        # The explicit accept: now the receipt and bob's commits reach alice.
        _cli(tmp_path / "b", "requests", "accept", alice.identity.account)
        _cli(tmp_path / "b", "read", breq["conv_id"])
        kinds = [i.kind for i in (await alice.api.fetch(alice.cursor)).items]
        assert "application" in kinds and "commit" in kinds, kinds
    finally:
        for d in (alice, bob2):
            await d.disconnect()
