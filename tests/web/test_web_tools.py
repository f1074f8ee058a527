"""The app's tools beyond the conversation itself (issue 20): the admins editor, search
by conversation name, drag-and-drop onto the composer, browser notifications and
security alerts as banners (a fork alert holds sending until the person read it)."""

from __future__ import annotations

import base64
import os
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from accord.client import alerts, messaging
from accord.client import conversations as convs
from accord.client.device import Device
from accord.errors import NotFound
from accord.wire import b64e, decode
from accord.wire import federation as fw
from accord.wire import privacy as w
from tests.e2e.helpers import Clock
from tests.federation.groups import arrive
from tests.federation.test_T13_report_forwarding import operator
from tests.web.conftest import (
    World,
    accept_in_page,
    peer,
    post,
    queue_after,
    run_async,
    shot,
    with_device,
)
from tests.web.test_web_conversation import PNG

WAIT = 30_000


@pytest.fixture(scope="module")
def tag() -> str:
    return os.urandom(2).hex()


def _convs(page: Any) -> Any:
    return page.get_by_role("navigation", name="Conversations")


def _texts(folder: Any, conv_id: str) -> list[str]:
    async def got(dev: Device, clock: Clock) -> list[str]:
        return [m.body for m in dev.store.messages(conv_id)]
    return run_async(with_device(folder, got))


def _wait_for(page: Any, folder: Any, conv_id: str, text: str) -> None:
    for _ in range(50):
        if text in _texts(folder, conv_id):
            return
        page.wait_for_timeout(200)
    assert text in _texts(folder, conv_id)


def _create(page: Any, name: str, members: str) -> None:
    page.get_by_role("button", name="New conversation").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Members", exact=True).fill(members)
    page.get_by_role("button", name="Create").click()
    expect(_convs(page).get_by_role("link", name=name)).to_be_visible(timeout=WAIT)


def test_admins_editor_search_by_conversation_and_drop(world: World, tag: str) -> None:
    ann = world.web("ann", f"ann{tag}@alpha.test", world.alpha.url)
    ben_acct = f"ben{tag}@alpha.test"
    ben = peer(world, "ben", ben_acct, world.alpha.url)
    page = world.page(ann)
    _create(page, "Climbing", ben_acct)
    run_async(with_device(ben, lambda dev, clock: arrive(dev, "Climbing", clock)))  # T14
    conv_id = page.evaluate("decodeURIComponent(location.hash.slice(3))")
    page.get_by_role("textbox", name="Message", exact=True).fill("granite wall at noon")
    page.get_by_role("textbox", name="Message", exact=True).press("Enter")
    _create(page, "Errands", ben_acct)
    page.get_by_role("textbox", name="Message", exact=True).fill("granite countertop")
    page.get_by_role("textbox", name="Message", exact=True).press("Enter")
    expect(page.locator("p.text").get_by_text("granite countertop")).to_be_visible(timeout=WAIT)

    # search: the word is in both; the Conversation filter keeps one, by its name
    page.get_by_role("searchbox", name="Search").fill("granite")
    page.get_by_role("button", name="Find").click()
    results = page.get_by_role("region", name="Search results")
    expect(results.locator(".snippet")).to_have_count(2, timeout=WAIT)
    page.get_by_label("Conversation", exact=True).fill("climbing")
    page.get_by_role("button", name="Find").click()
    expect(results.locator(".snippet")).to_have_text(["granite wall at noon"], timeout=WAIT)
    page.get_by_label("Conversation", exact=True).fill("No such chat")
    page.get_by_role("button", name="Find").click()
    expect(page.locator("#send-error")).not_to_have_text("", timeout=WAIT)

    # admins: ann makes ben an admin, then steps down; the room policy follows
    _convs(page).get_by_role("link", name="Climbing").click()
    page.get_by_role("button", name="Members").click()
    panel = page.get_by_role("region", name="People in this conversation")
    panel.get_by_role("button", name=f"Make admin {ben_acct}").click()
    expect(panel.get_by_text(f"{ben_acct} (admin)")).to_be_visible(timeout=WAIT)
    panel.get_by_role("button", name=f"Remove admin {ann.account}").click()
    expect(panel.get_by_role("button", name=f"Make admin {ann.account}")).to_be_visible(
        timeout=WAIT)
    shot(page, "admins")

    async def ben_sees(dev: Device, clock: Clock) -> list[str]:
        return list(dev.store.conversation(conv_id)["meta"]["admins"])

    assert run_async(with_device(ben, ben_sees)) == [ben_acct]
    page.get_by_label("Conversation name").fill("Bouldering")
    page.get_by_role("button", name="Rename").click()
    expect(page.locator("#send-error")).to_contain_text(
        "only an admin of this conversation may do that", timeout=WAIT)

    async def ben_renames(dev: Device, clock: Clock) -> None:
        await convs.rename(dev, dev.store.conversation(conv_id), "Bouldering", clock())

    run_async(with_device(ben, ben_renames))
    expect(_convs(page).get_by_role("link", name="Bouldering")).to_be_visible(timeout=WAIT)

    # drag and drop: a file dropped on the composer is sent, shown as a thumbnail
    drop = page.evaluate_handle(
        """(b64) => {
             const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
             const dt = new DataTransfer();
             dt.items.add(new File([bytes], "dropped.png", {type: "image/png"}));
             return dt;
           }""", base64.b64encode(PNG).decode())
    composer = page.get_by_role("textbox", name="Message", exact=True)
    composer.dispatch_event("dragenter", {"dataTransfer": drop})
    composer.dispatch_event("dragover", {"dataTransfer": drop})
    expect(page.locator("#composer")).to_have_class("dropping")
    composer.dispatch_event("drop", {"dataTransfer": drop})
    expect(page.get_by_role("link", name="dropped.png")).to_be_visible(timeout=WAIT)
    page.wait_for_function(
        "() => [...document.querySelectorAll('article img.thumb')].some(i => i.naturalWidth === 64)")
    assert composer.input_value() == ""  # the drop did not paste anything as text

    async def ben_files(dev: Device, clock: Clock) -> list[str]:
        return [a["file_name"] for m in dev.store.messages(conv_id)
                for a in m.meta.get("attachments", [])]

    for _ in range(50):
        if "dropped.png" in run_async(with_device(ben, ben_files)):
            break
        page.wait_for_timeout(200)
    assert "dropped.png" in run_async(with_device(ben, ben_files))


# A stand-in for the page's Notification that records each one (the permission is the
# real one, granted to the context), and a switch for ``document.hidden``.
NOTIFICATION_STUB = """
(() => {
  const Real = window.Notification;
  window.__notes = [];
  window.__hidden = false;
  class Recorded {
    constructor(title, options) { window.__notes.push({title, body: (options || {}).body}); }
    static get permission() { return Real.permission; }
    static requestPermission() { window.__asked = true; return Real.requestPermission(); }
  }
  window.Notification = Recorded;
  Object.defineProperty(document, "hidden", {get: () => window.__hidden});
  Object.defineProperty(document, "visibilityState",
                        {get: () => (window.__hidden ? "hidden" : "visible")});
})();
"""


def test_notifications_opt_in_and_without_text(world: World, tag: str) -> None:
    cleo = world.web("cleo", f"cleo{tag}@alpha.test", world.alpha.url)
    dan = peer(world, "dan", f"dan{tag}@alpha.test", world.alpha.url)

    def prepare(ctx: Any) -> None:
        ctx.grant_permissions(["notifications"], origin=cleo.origin)
        ctx.add_init_script(NOTIFICATION_STUB)

    page = world.page(cleo, prepare)

    async def start(dev: Device, clock: Clock) -> str:
        conv = await convs.create(dev, "Plans", [cleo.account], clock())
        await messaging.send_text(dev, conv, "first", clock())
        return conv["conv_id"]

    conv_id = run_async(with_device(dan, start))
    accept_in_page(page, f"dan{tag}@alpha.test", WAIT)  # T14: dan is a stranger

    def say(text: str) -> None:
        async def go(dev: Device, clock: Clock) -> None:
            await messaging.send_text(dev, dev.store.conversation(conv_id), text, clock())
        run_async(with_device(dan, go))

    preview = _convs(page).locator(".preview").first
    expect(preview).to_contain_text("first", timeout=WAIT)
    # off by default: a hidden tab gets nothing, and the permission was never asked
    page.evaluate("window.__hidden = true")
    say("while off")
    expect(preview).to_contain_text("while off", timeout=WAIT)
    assert page.evaluate("[window.__notes, window.__asked || false]") == [[], False]

    page.get_by_role("button", name="Settings", exact=True).click()
    page.get_by_label("Notify me of new messages while this tab is hidden").check()
    expect(page.locator("#notify-status")).to_have_text("Notifications are on", timeout=WAIT)
    assert page.evaluate("window.__asked") is True  # asked on the click
    expect(page.get_by_label("Show the message text in notifications")).not_to_be_checked()
    say("secret plans")
    page.wait_for_function("() => window.__notes.length === 1", timeout=WAIT)
    note = page.evaluate("window.__notes[0]")
    assert note == {"title": "Accord", "body": "New message"}  # no text, no name

    page.evaluate("window.__hidden = false")  # the person is looking: no notification
    say("seen live")
    expect(preview).to_contain_text("seen live", timeout=WAIT)
    page.evaluate("window.__hidden = true")
    page.get_by_label("Show the message text in notifications").check()
    page.wait_for_timeout(300)
    say("<b>lunch</b>?")
    page.wait_for_function("() => window.__notes.length === 2", timeout=WAIT)
    assert page.evaluate("window.__notes[1]") == {
        "title": "Plans", "body": f"dan{tag}@alpha.test: <b>lunch</b>?"}


def test_T07_fork_alert_banner_blocks_sending_until_read(world: World, tag: str) -> None:
    fay_acct = f"fay{tag}@alpha.test"
    fay, gus = (peer(world, "fay", fay_acct, world.alpha.url),
                peer(world, "gus", f"gus{tag}@alpha.test", world.alpha.url))

    async def make(dev: Device, clock: Clock) -> str:
        return str((await convs.create(dev, "Forked", [f"gus{tag}@alpha.test"],
                                       clock()))["conv_id"])

    conv_id = run_async(with_device(fay, make))
    run_async(with_device(gus, lambda dev, clock: arrive(dev, "Forked", clock)))  # T14

    async def forked(dev: Device, clock: Clock) -> None:
        # what fork_check files when the hub withholds a commit from this member (T07),
        # and a provider's split view from key transparency, with markup in its name
        alerts.raise_alert(dev.store, "split_view", clock(), group=conv_id,
                           evidence="withheld_commit", epoch=3,
                           what="<img src=x onerror=alert(1)> epoch 3 was never shown")
        alerts.raise_alert(dev.store, "split_view", clock(),
                           provider="<b>evil</b>.test", evidence="inconsistent_heads")

    run_async(with_device(fay, forked, sync=False))
    app = world.start("fay", fay_acct)
    page = world.page(app)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    banner = page.get_by_role("region", name="Security alerts")
    expect(banner).to_contain_text("withheld_commit", timeout=WAIT)
    expect(banner).to_contain_text("provider <b>evil</b>.test showed different key "
                                   "directories")
    assert banner.locator("img, b").count() == 0
    _convs(page).get_by_role("link", name="Forked").click()
    fork = page.get_by_role("alert").filter(has_text="may show its members different")
    expect(fork).to_be_visible(timeout=WAIT)
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    shot(page, "fork-alert")
    status, body = post(page, f"/api/conv/{conv_id}/send", {"text": "sneaky"})
    assert (status, body["code"]) == (409, "fork_alert")
    page.wait_for_timeout(500)
    assert queue_after(gus) == []  # nothing left fay's device

    fork.get_by_role("button", name="I have read this; go on").click()
    expect(page.get_by_role("button", name="Send")).to_be_enabled(timeout=WAIT)
    expect(banner).not_to_contain_text("withheld_commit", timeout=WAIT)
    page.get_by_role("textbox", name="Message", exact=True).fill("read it, going on")
    page.get_by_role("textbox", name="Message", exact=True).press("Enter")
    _wait_for(page, gus, conv_id, "read it, going on")
    banner.get_by_role("button", name="Dismiss").click()
    expect(banner).to_be_hidden(timeout=WAIT)
    assert dialogs == []


async def _noop() -> None:
    return None


def test_T13_T14_request_reported_unread_and_sender_blocked(world: World, tag: str) -> None:

    rex = world.web("rex", f"rex{tag}@alpha.test", world.alpha.url)
    spam_acct = f"spam{tag}@beta.test"
    spammer = peer(world, "spam", spam_acct, world.beta.url)

    async def pitch(dev: Device, clock: Clock) -> str:
        conv = await convs.create(dev, "Deal", [rex.account], clock())
        await messaging.send_text(dev, conv, "cheap watches", clock())
        return str(conv["group_id"].hex())

    group_hex = run_async(with_device(spammer, pitch))
    run_async(with_device(spammer, lambda dev, clock: _noop()))  # its own echoes
    page = world.page(rex)
    region = page.get_by_role("region", name="Message requests")
    expect(region.get_by_text(spam_acct, exact=True)).to_be_visible(timeout=WAIT)
    expect(region.get_by_role("button", name="Report")).to_be_visible()
    region.get_by_role("button", name="Report").click()
    expect(region).to_be_hidden(timeout=WAIT)
    expect(page.locator("#send-error")).to_have_text("")

    # rex's provider filed who sent it and when, and nothing of its content
    with httpx.Client(base_url=world.alpha.url) as http:
        found = decode(w.AdminReports, http.get("/v1/admin/reports",
                                                headers=operator(world.alpha)).json()).reports
    mine = [r for r in found if r.group_id.hex() == group_hex]
    assert [(r.reporter, r.alleged_sender, r.content) for r in mine] == [
        (rex.account, spam_acct, b"")]

    async def rex_blocks(dev: Device, clock: Clock) -> list[str]:
        return list((await dev.api._json(fw.BlockList, "GET", "/v1/blocks", auth=True)).targets)

    assert spam_acct in run_async(with_device(world.root / "rex", rex_blocks, sync=False))
    assert queue_after(spammer) == []  # nothing reached the stranger

    # only a request the provider recorded for the caller can be reported
    async def forge(dev: Device, clock: Clock) -> None:
        await dev.api._json(w.ReportResult, "POST",
                            f"/v1/requests/{b64e(bytes.fromhex(group_hex))}/report", auth=True)

    with pytest.raises(NotFound):
        run_async(with_device(spammer, forge, sync=False))
