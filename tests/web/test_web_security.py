"""The local app's defences (issue 20): who may talk to it, what the browser may run,
what reaches a stranger, and the key-change gate, each driven through the app."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from accord.client import conversations as convs
from accord.client import messaging
from accord.client.device import Device
from accord.web.security import CSP
from tests.e2e.helpers import Clock
from tests.e2e.test_T06_key_change_gate import verified_before_a_change
from tests.federation.groups import arrive
from tests.web.conftest import (
    WebApp,
    World,
    accept_in_page,
    peer,
    post,
    queue_after,
    run_async,
    shot,
    with_device,
)

WAIT = 30_000


def _tag() -> str:
    return os.urandom(2).hex()


@pytest.fixture(scope="module")
def alice(world: World) -> WebApp:
    return world.web("alice", f"alice{_tag()}@alpha.test", world.alpha.url)


# -- who may talk to the app ------------------------------------------------------------

def _session(world: World, app: WebApp) -> tuple[Any, str, str]:
    page = world.page(app)
    cookie = next(c for c in page.context.cookies() if c["name"] == "accord_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    return page, cookie["value"], csrf


def test_requests_without_cookie_host_origin_or_csrf_are_refused(world: World,
                                                                 alice: WebApp) -> None:
    _page, cookie, csrf = _session(world, alice)
    base = alice.origin
    good = {"cookie": f"accord_session={cookie}", "origin": base, "x-csrf-token": csrf}
    body = {"name": "x", "members": "nobody@alpha.test"}
    with httpx.Client(base_url=base) as http:
        assert http.get("/api/state", headers={"cookie": good["cookie"]}).status_code == 200
        r = http.get("/api/state")
        assert (r.status_code, r.json()["code"]) == (401, "no_session")
        r = http.get("/api/state", headers={"cookie": good["cookie"], "host": "evil.example"})
        assert (r.status_code, r.json()["code"]) == (421, "bad_host")
        r = http.get("/", headers={"cookie": good["cookie"], "host": f"evil.example:{alice.port}"})
        assert (r.status_code, r.json()["code"]) == (421, "bad_host")
        r = http.post("/api/conv", json=body, headers={**good, "origin": "http://evil.example"})
        assert (r.status_code, r.json()["code"]) == (403, "bad_origin")
        r = http.post("/api/conv", json=body,
                      headers={k: v for k, v in good.items() if k != "origin"})
        assert (r.status_code, r.json()["code"]) == (403, "bad_origin")
        r = http.post("/api/conv", json=body,
                      headers={k: v for k, v in good.items() if k != "x-csrf-token"})
        assert (r.status_code, r.json()["code"]) == (403, "bad_csrf")
        r = http.post("/api/conv", json=body, headers={**good, "x-csrf-token": "guess"})
        assert (r.status_code, r.json()["code"]) == (403, "bad_csrf")
        r = http.post("/api/conv", json=body,
                      headers={k: v for k, v in good.items() if k != "cookie"})
        assert (r.status_code, r.json()["code"]) == (401, "no_session")
        # the printed link works once only
        r = http.get(alice.url.removeprefix(base))
        assert (r.status_code, r.json()["code"]) == (401, "no_session")


def test_csp_and_headers_on_every_response(world: World, alice: WebApp) -> None:
    _page, cookie, _csrf = _session(world, alice)
    with httpx.Client(base_url=alice.origin) as http:
        auth = {"cookie": f"accord_session={cookie}"}
        for path, headers in [("/", auth), ("/static/app.js", auth), ("/static/app.css", auth),
                              ("/api/state", auth), ("/api/state", {}), ("/nothing", auth),
                              ("/", {"host": "evil.example"})]:
            r = http.get(path, headers=headers)
            assert r.headers["content-security-policy"] == CSP, path
            assert r.headers["x-content-type-options"] == "nosniff", path
    assert "script-src 'self'" in CSP and "'unsafe-inline'" not in CSP
    assert "default-src 'none'" in CSP


# -- hostile content renders as text -----------------------------------------------------

XSS = ['<script>alert(1)</script>', '<img src=x onerror=alert(2)>',
       '<a href="javascript:alert(3)">click me</a>',
       '<svg onload=alert(4)><circle r="9"/></svg>',
       '<iframe src="http://evil.example/"></iframe>',
       '"><b onmouseover=alert(5)>bold</b>', '{{ 7*7 }} ${7*7}']
SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(8)">'
       b'<script>fetch("http://evil.example/")</script></svg>')


def test_T16_xss_corpus_renders_inert(world: World, alice: WebApp) -> None:
    mallory_acct = f"mallory{_tag()}@alpha.test"
    mallory = peer(world, "mallory", mallory_acct, world.alpha.url)
    chat = '<img src=x onerror=alert("name")>'

    async def attack(dev: Device, clock: Clock) -> str:
        conv = await convs.create(dev, chat, [alice.account], clock())
        for text in XSS:
            await messaging.send_text(dev, conv, text, clock())
        await messaging.send_file(dev, conv, SVG, '<img src=x onerror=alert(6)>.svg',
                                  "image/svg+xml", clock(), text="svg file")
        await messaging.send_file(dev, conv, SVG, "fake.png", "image/png", clock(),
                                  text="svg posing as png")
        return conv["conv_id"]

    conv_id = run_async(with_device(mallory, attack))
    page = world.page(alice)
    accept_in_page(page, mallory_acct, WAIT)  # T14: mallory is a stranger, accepted here
    dialogs: list[str] = []
    foreign: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: None if r.url.startswith(alice.origin)
            else foreign.append(r.url))
    link = page.get_by_role("navigation", name="Conversations").get_by_role("link", name=chat)
    expect(link).to_be_visible(timeout=WAIT)
    link.click()
    for text in XSS:
        expect(page.locator("p.text").get_by_text(text, exact=True)).to_be_visible(timeout=WAIT)
    expect(page.get_by_role("link", name="<img src=x onerror=alert(6)>.svg")).to_be_visible()
    expect(page.get_by_role("heading", name=chat)).to_be_visible()
    for article in page.get_by_role("article").all():
        article.hover()
    page.wait_for_timeout(500)
    shot(page, "xss-corpus")
    assert dialogs == [] and foreign == []
    # no element came from peer text: the timeline has only the app's own tags
    tags = set(page.eval_on_selector_all("#timeline *, #conv-list *",
                                         "els => els.map(e => e.tagName.toLowerCase())"))
    assert tags <= {"li", "article", "header", "span", "time", "p", "footer", "div", "button",
                    "a", "img", "blockquote"}, tags
    hrefs = page.eval_on_selector_all("#timeline a, #conv-list a",
                                      "els => els.map(e => e.getAttribute('href'))")
    assert all(h.startswith(("/api/conv/", "#c=")) for h in hrefs), hrefs
    # the files: never inline, never SVG; the claimed PNG is not an image to the browser
    with httpx.Client(base_url=alice.origin) as http:
        cookie = next(c["value"] for c in page.context.cookies()
                      if c["name"] == "accord_session")
        items = http.get(f"/api/conv/{conv_id}",
                         headers={"cookie": f"accord_session={cookie}"}).json()["items"]
        files = [i["id"] for i in items if i.get("attachments")]
        assert len(files) == 2
        for mid in files:
            r = http.get(f"/api/conv/{conv_id}/file/{mid}/0?inline=1",
                         headers={"cookie": f"accord_session={cookie}"})
            assert r.status_code == 200 and r.content == SVG
            assert r.headers["content-type"] == "application/octet-stream"
            assert r.headers["content-disposition"].startswith("attachment;")
            assert "<" not in r.headers["content-disposition"]


# -- message requests: preview only, nothing to the stranger before Accept ---------------

def test_T14_stranger_request_is_preview_only_until_accept(world: World, alice: WebApp) -> None:
    stranger_acct = f"stranger{_tag()}@beta.test"
    stranger = peer(world, "stranger", stranger_acct, world.beta.url)

    async def first_contact(dev: Device, clock: Clock) -> str:
        conv = await convs.create(dev, "Offer", [alice.account], clock(),
                                  first_message="Hi, I am <b>new</b> here")
        await messaging.send_file(dev, conv, b"GIF89a" + b"\0" * 32, "cat.gif", "image/gif",
                                  clock(), text="see https://evil.example/")
        return conv["conv_id"]

    conv_id = run_async(with_device(stranger, first_contact))
    run_async(with_device(stranger, lambda dev, clock: _noop()))  # the stranger's own echoes
    page = world.page(alice)
    region = page.get_by_role("region", name="Message requests")
    # issue 18: what the stranger sent waits unread until Accept; the preview is the
    # sealed first-contact request's (checked, inert text), and the count of waiting items
    expect(region.get_by_text(stranger_acct, exact=True)).to_be_visible(timeout=WAIT)
    expect(region.get_by_text("Hi, I am <b>new</b> here", exact=True)).to_be_visible(
        timeout=WAIT)
    assert region.locator("b").count() == 0
    expect(region.get_by_text("see https://evil.example/")).to_have_count(0)
    expect(region.get_by_text("4 waiting, unread until you accept")).to_be_visible()
    expect(region.get_by_role("button", name="Accept")).to_be_visible()
    expect(region.get_by_role("button", name="Block")).to_be_visible()
    assert region.locator("img, a").count() == 0  # no attachment, no link, no image
    expect(page.get_by_role("navigation", name="Conversations").get_by_role(
        "link", name="Offer")).to_have_count(0)
    # reading, answering or receipting a request is refused by the app itself
    for path, body in [(f"/api/conv/{conv_id}/read", {}),
                       (f"/api/conv/{conv_id}/send", {"text": "hello?"})]:
        assert post(page, path, body) == (404, {
            "code": "not_found",
            "message": "that conversation is a message request; accept it first"})
    shot(page, "requests")
    page.wait_for_timeout(1000)
    assert queue_after(stranger) == []  # nothing reached the stranger before Accept

    region.get_by_role("button", name="Accept").click()
    link = page.get_by_role("navigation", name="Conversations").get_by_role("link",
                                                                             name="Offer")
    expect(link).to_be_visible(timeout=WAIT)
    page.get_by_role("textbox", name="Message", exact=True).fill("Welcome")
    page.get_by_role("button", name="Send").click()

    async def got(dev: Device, clock: Clock) -> list[str]:
        return [m.body for m in dev.store.messages(conv_id)]

    for _ in range(50):
        if "Welcome" in run_async(with_device(stranger, got)):
            break
        page.wait_for_timeout(200)
    assert "Welcome" in run_async(with_device(stranger, got))


async def _noop() -> None:
    return None


# -- a key change blocks sending until confirmed -------------------------------------------

def test_T06_key_change_blocks_sending_until_confirmed(world: World) -> None:
    tag = _tag()
    carol = peer(world, "carol", f"carol{tag}@alpha.test", world.alpha.url)
    dora = peer(world, "dora", f"dora{tag}@alpha.test", world.alpha.url)
    carol_acct, dora_acct = f"carol{tag}@alpha.test", f"dora{tag}@alpha.test"

    async def make(dev: Device, clock: Clock) -> str:
        conv = await convs.create(dev, "Keys", [dora_acct], clock())
        return conv["conv_id"]

    conv_id = run_async(with_device(carol, make))

    async def changed(dev: Device, clock: Clock) -> None:
        await arrive(dev, "Keys", clock)  # T14: carol is a stranger, accepted here
        verified_before_a_change(dev, carol_acct)

    run_async(with_device(dora, changed))
    app = world.start("dora", dora_acct)
    page = world.page(app)
    page.get_by_role("navigation", name="Conversations").get_by_role("link", name="Keys").click()
    alert = page.get_by_role("alert").filter(has_text="changed")
    expect(alert).to_be_visible(timeout=WAIT)
    expect(alert).to_contain_text(carol_acct)
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    shot(page, "key-change")
    run_async(with_device(carol, lambda dev, clock: _noop()))  # carol has read all before this
    status, body = post(page, f"/api/conv/{conv_id}/send", {"text": "sneaky"})
    assert (status, body["code"], body["accounts"]) == (409, "key_change", [carol_acct])
    page.wait_for_timeout(1000)
    assert queue_after(carol) == []  # nothing left dora's device

    page.get_by_role("button", name="Confirm key change").click()
    expect(page.get_by_role("button", name="Send")).to_be_enabled(timeout=WAIT)
    page.get_by_role("textbox", name="Message", exact=True).fill("confirmed hello")
    page.get_by_role("textbox", name="Message", exact=True).press("Enter")

    async def got(dev: Device, clock: Clock) -> list[str]:
        return [m.body for m in dev.store.messages(conv_id)]

    for _ in range(50):
        if "confirmed hello" in run_async(with_device(carol, got)):
            break
        page.wait_for_timeout(200)
    assert run_async(with_device(carol, got)) == ["confirmed hello"]


# -- settings: backup (recovery key shown once), export, deletion with confirmation -------

def test_backup_export_and_delete_with_confirmation(world: World) -> None:
    from accord.client import backup

    erin = world.web("erin", f"erin{_tag()}@alpha.test", world.alpha.url)
    page = world.page(erin)
    page.get_by_role("button", name="Settings", exact=True).click()
    settings = page.get_by_role("region", name="Settings")
    settings.get_by_role("button", name="Create backup").click()
    key_box = page.locator("#backup-key-text")
    expect(key_box).not_to_have_text("", timeout=WAIT)
    key = key_box.text_content()
    doc = run_async(_read_backup(world.alpha.url, key, backup))
    assert doc["account"] == erin.account

    resp = page.request.get(erin.origin + "/api/account/export")
    assert resp.status == 200
    assert resp.headers["content-disposition"].startswith("attachment;")
    assert erin.account in resp.text()

    page.get_by_label("Type your account to delete it for good").fill("not my account")
    settings.get_by_role("button", name="Delete account").click()
    expect(page.locator("#send-error")).to_have_text(
        "type your account to confirm its deletion", timeout=WAIT)
    assert page.request.get(erin.origin + "/api/account/export").status == 200  # still there
    page.get_by_label("Type your account to delete it for good").fill(erin.account)
    settings.get_by_role("button", name="Delete account").click()
    expect(page.locator("#account-status")).to_contain_text("account deleted", timeout=WAIT)
    gone = page.request.get(erin.origin + "/api/account/export")
    assert (gone.status, gone.json()["code"]) == (410, "device_removed")


async def _read_backup(url: str, key: str, backup: Any) -> Any:
    return backup.read(await backup.download(url, key), key)
