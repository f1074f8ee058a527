"""``accord web``: the consent requests the provider sent for you (MIMI 5.7, T14, issue 22).

beta.test runs --require-consent. alice (alpha.test) starts a conversation with bob
(beta.test) in the app: the app says consent was requested, lists the request as
waiting ("Waiting for consent", the target set as text only) and withdraws it on
request, after which bob's provider no longer lists it. The app only drives
``accord.client.message_requests`` (``consent_kept``, ``follow_consent``,
``cancel_consent``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from accord.client.device import Device
from accord.wire import federation as fw
from tests.e2e.helpers import Clock
from tests.web.conftest import World, peer, post, run_async, running_world, shot, with_device

WAIT = 30_000


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from running_world(tmp_path_factory, require_consent=True)


def _bobs_requests(bob: Any) -> list[fw.MessageRequest]:
    async def go(dev: Device, clock: Clock) -> list[fw.MessageRequest]:
        return (await dev.api._json(fw.MessageRequestList, "GET", "/v1/requests",
                                    auth=True)).requests
    return list(run_async(with_device(bob, go, sync=False)))


def test_T14_web_lists_a_consent_request_sent_and_withdraws_it(world: World) -> None:
    tag = os.urandom(3).hex()
    alice = world.web("alice", f"alice{tag}@alpha.test", world.alpha.url)
    bob_acct = f"bob{tag}@beta.test"
    bob = peer(world, "bob", bob_acct, world.beta.url)
    page = world.page(alice)
    page.get_by_role("button", name="New conversation").click()
    page.locator("#new-name").fill("<b>hi</b>")
    page.locator("#new-members").fill(bob_acct)
    page.locator("#new-form").evaluate("f => f.requestSubmit()")
    expect(page.locator("#new-error")).to_contain_text("consent was requested", timeout=WAIT)
    region = page.get_by_role("region", name="Consent requests sent")
    item = region.get_by_role("listitem").filter(has=page.get_by_text(bob_acct, exact=True))
    expect(item).to_be_visible(timeout=WAIT)
    expect(item.get_by_text("waiting for an answer")).to_be_visible()
    tags = set(page.eval_on_selector_all("#sent-list *",
                                         "els => els.map(e => e.tagName.toLowerCase())"))
    assert tags <= {"li", "p", "button"}, tags
    shot(page, "consent-sent")
    for _ in range(50):  # bob's provider got the request (the outbound queue)
        if _bobs_requests(bob):
            break
        page.wait_for_timeout(200)
    assert [r.from_account for r in _bobs_requests(bob)] == [alice.account]
    # a cancel is for the caller's own pending request only (the provider's rule)
    status, body = post(page, "/api/consent/cancel", {"target": f"carol{tag}@beta.test"})
    assert (status, body["code"]) == (404, "not_found")
    item.get_by_role("button", name="Withdraw").click()
    expect(region).to_be_hidden(timeout=WAIT)
    for _ in range(50):
        if not _bobs_requests(bob):
            break
        page.wait_for_timeout(200)
    assert _bobs_requests(bob) == []


HOSTILE = '<img src=x onerror=alert(1)>[b]x@evil.example'
HOSTILE_ROOM = 'mimi://evil.example/r/<b onclick=alert(2)>room</b>'


def test_T16_web_sets_a_consent_request_sent_as_text_only(world: World) -> None:
    """Whatever the listing holds (here a hostile target and room, answered in place of
    the app's own state), the app renders it inert: literal text, no element of it."""
    tag = os.urandom(3).hex()
    alice = world.web("alice2", f"alice{tag}@alpha.test", world.alpha.url)
    page = world.page(alice)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    def hostile(route: Any) -> None:
        state = route.fetch().json()
        state["sent"] = [{"target": HOSTILE, "room": HOSTILE_ROOM, "at": 0}]
        route.fulfill(json=state)

    page.route("**/api/state", hostile)
    page.reload()
    region = page.get_by_role("region", name="Consent requests sent")
    expect(region.get_by_text(HOSTILE, exact=True)).to_be_visible(timeout=WAIT)
    expect(region.get_by_text("for " + HOSTILE_ROOM, exact=True)).to_be_visible()
    assert region.locator("img, b, a").count() == 0
    page.wait_for_timeout(300)
    assert dialogs == []
    page.unroute("**/api/state")
