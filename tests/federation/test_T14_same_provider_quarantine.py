"""T14, same rules for everyone (issue 18): a stranger of the invitee's own provider
is quarantined exactly like one of another provider.

alice and bob are both users of alpha.test and have never talked. alice's
invitation reaches bob as a message request: the sealed preview only, his
device parses no Welcome and sends nothing until he accepts. Before, a
same-provider invitation was delivered as accepted and went straight through
full MLS processing. Once bob accepts, alice is his contact, and her next
invitation is no request.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from accord.client import conversations as convs
from accord.client import invites, message_requests
from tests.e2e.helpers import Clock, new_device
from tests.federation.groups import until
from tests.federation.providers import Provider
from tests.federation.test_T14_sealed_first_contact import _decided, _sent
from tests.federation.test_T14_welcome_waits_for_accept import _spy

FIRST = "hi bob, alice from two floors up"


async def test_T14_a_same_provider_strangers_invitation_is_quarantined(
        providers: dict[str, Provider], tmp_path: Path) -> None:
    clock, tag = Clock(), os.urandom(3).hex()
    alpha = providers["alpha"].url
    alice = await new_device(tmp_path / "a", f"alice{tag}@alpha.test", alpha, clock)
    bob = await new_device(tmp_path / "b", f"bob{tag}@alpha.test", alpha, clock)
    parsed, sent = _spy(bob), _sent(bob)
    try:
        conv = await convs.create(alice, "lunch", [bob.identity.account], clock(),
                                  first_message=FIRST)
        breq = (await until(bob, clock, _decided(bob)))[0]
        request = breq["meta"]["request"]
        assert request["from"] == alice.identity.account
        assert request["first_contact"]["state"] == "checked"
        assert request["first_contact"]["preview"] == FIRST
        assert invites.is_deferred(breq)
        await until(bob, clock, lambda: invites.held_count(bob, breq) == 3)  # 2 notices, text
        assert parsed == Counter() and sent == Counter()  # no MLS parse, nothing sent
        assert bob.store.messages(breq["conv_id"]) == []

        assert await message_requests.accept(bob, breq, clock()) == 3
        assert parsed["join"] == 1
        shown = [x.body for x in bob.store.messages(breq["conv_id"]) if x.kind == "text"]
        assert shown == [FIRST] and breq["group_id"] == conv["group_id"]

        # accepted: alice is bob's contact, her next invitation is no request
        await convs.create(alice, "dinner", [bob.identity.account], clock())
        await until(bob, clock, lambda: convs.find(bob, "dinner"))
        assert message_requests.pending(bob) == []
    finally:
        for d in (alice, bob):
            await d.disconnect()
