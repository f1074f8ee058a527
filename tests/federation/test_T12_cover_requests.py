"""T12 and T14 together, on two live providers: cover traffic never goes into a pending
message request, and the inviter's cover reaching a device that has not accepted is
dropped unread (it can neither fill the request's hold nor push real messages out)."""

from __future__ import annotations

import asyncio
import os

from accord.client import conversations as convs
from accord.client import cover, message_requests, messaging
from accord.content.preview import quarantine_preview
from tests.e2e.helpers import Clock, new_device
from tests.federation.providers import Provider


def _texts(held: list[dict[str, object]]) -> list[str]:
    return [quarantine_preview(bytes.fromhex(str(h["plaintext"]))).text for h in held]


async def test_T12_cover_and_pending_requests(providers: dict[str, Provider], tmp_path
                                              ) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    tag = os.urandom(3).hex()
    alice = await new_device(tmp_path / "a", f"alice{tag}@alpha.test",
                             providers["alpha"].url, clock)
    carol = await new_device(tmp_path / "c", f"carol{tag}@beta.test", providers["beta"].url,
                             clock)
    try:
        ask = await convs.create(carol, "ask", [alice.identity.account], clock())
        await messaging.send_text(carol, ask, "hi alice", clock())
        assert [c["conv_id"] for c in cover.eligible(carol)] == [ask["conv_id"]]
        for _ in range(3):
            await cover.send_cover(carol, clock())
        await messaging.send_text(carol, carol.store.conversation(ask["conv_id"]),
                                  "still there?", clock())
        for _ in range(100):
            await alice.sync(clock())
            pending = message_requests.pending(alice)
            held = alice.store.get_json("held:" + pending[0]["conv_id"], []) if pending else []
            if "still there?" in _texts(held):
                break
            await asyncio.sleep(0.1)
        (request,) = pending
        assert request["conv_id"] not in [c["conv_id"] for c in cover.eligible(alice)]  # T14
        await asyncio.sleep(0.5)
        await alice.sync(clock())
        held = alice.store.get_json("held:" + request["conv_id"], [])
        kinds = [quarantine_preview(bytes.fromhex(h["plaintext"])).kind for h in held]
        assert kinds == ["notice", "notice", "text", "text"]  # name, admins, texts: no cover
        assert await message_requests.accept(alice, request, clock()) == 4
        assert [m.body for m in alice.store.messages(request["conv_id"])] == [
            "hi alice", "still there?"]
    finally:
        for d in (alice, carol):
            await d.disconnect()
