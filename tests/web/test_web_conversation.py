"""Two people, each in their own browser, on two providers: a whole conversation with
live updates (no reload anywhere) through ``accord web``."""

from __future__ import annotations

import os
import re
import struct
import zlib

from playwright.sync_api import expect

from accord.client import linking
from accord.client.device import Device
from tests.e2e.helpers import CHEAP, PASS, Clock
from tests.web.conftest import World, run_async, shot


def png(width: int, height: int) -> bytes:
    """A real raster image (a colour gradient), decrypted and shown by the receiver's app."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    rows = b"".join(b"\0" + bytes(v for x in range(width) for v in (x * 4 % 256, y * 4 % 256, 160))
                    for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


PNG = png(64, 48)
WAIT = 30_000


def composer(page):
    return page.get_by_role("textbox", name="Message", exact=True)


def article(page, text: str):
    """The message whose own text is ``text`` (not one quoting it)."""
    return page.get_by_role("article").filter(has=page.locator("p.text").get_by_text(
        text, exact=True))


def test_two_browsers_hold_a_conversation(world: World) -> None:
    tag = os.urandom(2).hex()
    alice = world.web("alice", f"alice{tag}@alpha.test", world.alpha.url)
    bob = world.web("bob", f"bob{tag}@beta.test", world.beta.url)
    a, b = world.page(alice), world.page(bob)

    a.get_by_role("button", name="New conversation").click()
    a.get_by_label("Name", exact=True).fill("Hiking")
    a.get_by_label("Members", exact=True).fill(bob.account)
    a.get_by_role("button", name="Create").click()
    convs_a = a.get_by_role("navigation", name="Conversations")
    expect(convs_a.get_by_role("link", name="Hiking")).to_be_visible(timeout=WAIT)

    composer(a).fill("Saturday at 8?")
    composer(a).press("Enter")
    expect(article(a, "Saturday at 8?")).to_be_visible(timeout=WAIT)

    # bob: first contact from another provider is a message request; what it holds
    # waits unread until the accept (issue 18), so the request shows its sender
    requests = b.get_by_role("region", name="Message requests")
    expect(requests.get_by_text(alice.account)).to_be_visible(timeout=WAIT)
    shot(b, "message-request")
    requests.get_by_role("button", name="Accept").click()
    msg = article(b, "Saturday at 8?")
    expect(msg).to_be_visible(timeout=WAIT)
    expect(msg.get_by_text(alice.account)).to_be_visible()

    # bob replies (Shift+Enter makes a new line, Enter sends) and reacts
    msg.get_by_role("button", name="Reply").click()
    composer(b).fill("Yes!")
    composer(b).press("Shift+Enter")
    composer(b).type("I bring the map")
    composer(b).press("Enter")
    reply = a.get_by_role("article").filter(has_text="I bring the map")
    expect(reply).to_be_visible(timeout=WAIT)
    expect(reply.locator("blockquote")).to_contain_text("Saturday at 8?")
    msg.get_by_role("button", name="React").click()
    msg.get_by_role("button", name="👍").click()
    expect(article(a, "Saturday at 8?").get_by_text("👍 1")).to_be_visible(timeout=WAIT)

    # alice sees bob's read receipt, edits and later deletes her message
    expect(article(a, "Saturday at 8?").get_by_text("Read by 1")).to_be_visible(timeout=WAIT)
    article(a, "Saturday at 8?").get_by_role("button", name="Edit").click()
    composer(a).fill("Saturday at 9?")
    a.get_by_role("button", name="Send").click()
    edited = article(b, "Saturday at 9?")
    expect(edited).to_be_visible(timeout=WAIT)
    expect(edited.get_by_text("edited")).to_be_visible()
    expect(article(b, "Saturday at 9?").get_by_role("button", name="Edit")).to_have_count(0)

    # an image: thumbnail decrypted by bob's app; bob's list shows it unread meanwhile
    a.locator("#file").set_input_files(files=[
        {"name": "red.png", "mimeType": "image/png", "buffer": PNG}])
    thumb = b.locator("article img.thumb")
    expect(thumb).to_be_visible(timeout=WAIT)
    b.wait_for_function("() => document.querySelector('article img.thumb').naturalWidth === 64")
    expect(b.get_by_role("link", name="red.png")).to_be_visible()
    shot(a, "conversation-alice")
    shot(b, "conversation-bob")

    article(a, "Saturday at 9?").get_by_role("button", name="Delete").click()
    expect(b.get_by_text("message deleted").first).to_be_visible(timeout=WAIT)
    expect(article(b, "Saturday at 9?")).to_have_count(0)
    expect(b.get_by_role("separator").first).to_be_visible()  # a day separator

    # unread count and last-message preview while bob looks elsewhere, newest first
    b.evaluate("location.hash = ''")
    composer(a).fill("Are you there?")
    composer(a).press("Enter")
    entry = b.get_by_role("navigation", name="Conversations").get_by_role("listitem").first
    expect(entry.locator(".unread")).to_have_text("1", timeout=WAIT)
    expect(entry.locator(".preview")).to_have_text(
        alice.account.split("@")[0] + ": Are you there?")
    shot(b, "conversation-list")
    entry.get_by_role("link", name="Hiking").click()
    expect(entry.locator(".unread")).to_have_count(0, timeout=WAIT)

    # members panel: a safety number (digits and QR code) and "mark as verified"
    a.get_by_role("button", name="Members").click()
    panel = a.get_by_role("region", name="People in this conversation")
    expect(panel.get_by_text(bob.account)).to_be_visible(timeout=WAIT)
    panel.get_by_role("button", name="Verify").click()
    expect(a.locator("#safety-digits")).to_have_text(re.compile(r"^(\d{5} ){11}\d{5}$"),
                                                     timeout=WAIT)
    a.wait_for_function("() => document.getElementById('safety-qr').naturalWidth > 50")
    shot(a, "safety-number")
    a.get_by_role("button", name="Mark as verified").click()
    expect(panel.get_by_text("verified")).to_be_visible(timeout=WAIT)

    # search across conversations (prefix words), then rename and a disappearing timer
    a.get_by_role("searchbox", name="Search").fill("ma")
    a.get_by_role("button", name="Find").click()
    results = a.get_by_role("region", name="Search results")
    expect(results.get_by_text("I bring the map")).to_be_visible(timeout=WAIT)
    expect(results.locator("mark")).to_have_text(["map"])
    expect(results.get_by_role("link", name=re.compile(r"^Hiking \(\w{6,}\)$"))).to_be_visible()
    shot(a, "search")
    a.get_by_label("Conversation name").fill("Hiking trip")
    a.get_by_role("button", name="Rename").click()
    expect(b.get_by_role("navigation", name="Conversations").get_by_role(
        "link", name="Hiking trip")).to_be_visible(timeout=WAIT)
    a.get_by_label("Disappearing messages").select_option("3600")
    a.get_by_role("button", name="Set timer").click()
    expect(a.locator("#send-error")).to_have_text("")

    # settings: link a new device with the code shown on screen, cover traffic
    a.get_by_role("button", name="Settings", exact=True).click()
    settings = a.get_by_role("region", name="Settings")
    expect(settings.get_by_text("(this device)")).to_be_visible(timeout=WAIT)
    settings.get_by_role("button", name="Link a new device").click()
    expect(a.locator("#link-code")).not_to_have_text("", timeout=WAIT)
    a.wait_for_function("() => document.getElementById('link-qr').naturalWidth > 50")
    code = a.locator("#link-code").text_content()
    laptop = world.root / "alice-laptop"

    async def join() -> str:
        dev = Device.init(laptop, PASS, kdf=CHEAP)
        try:
            await linking.join(dev, code, world.alpha.url)
            return linking.key_fingerprint(dev.signature_public_key)
        finally:
            await dev.disconnect()
            dev.close()

    fingerprint = run_async(join())
    expect(a.locator("#link-fpr")).to_contain_text(fingerprint, timeout=WAIT)
    shot(a, "link-device")
    settings.get_by_role("button", name="Certify this device").click()
    expect(a.locator("#link-fpr")).to_contain_text("Linked", timeout=WAIT)
    expect(settings.locator(".device")).to_have_count(2, timeout=WAIT)

    async def complete() -> str | None:
        dev = Device.open(laptop, PASS)
        try:
            ident = await dev.complete_link(Clock()())
            return None if ident is None else ident.account
        finally:
            await dev.disconnect()
            dev.close()

    assert run_async(complete()) == alice.account
    settings.get_by_label("Cover traffic").check()
    settings.get_by_role("button", name="Save settings").click()
    a.get_by_role("button", name="Settings", exact=True).click()
    a.get_by_role("button", name="Settings", exact=True).click()
    expect(settings.get_by_label("Cover traffic")).to_be_checked(timeout=WAIT)
