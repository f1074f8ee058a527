"""Onboarding from the app (issue 20): ``accord web`` on a folder with no profile
creates one (with passphrase guidance) and registers it at a provider, or restores
one from a backup with its recovery key; a registered profile restores history too."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from accord.client import conversations as convs
from accord.client import messaging
from accord.client.device import Device
from tests.e2e.helpers import PASS, Clock
from tests.timing import wait_until
from tests.web.conftest import World, accept_in_page, peer, post, run_async, shot, with_device

WAIT = 60_000  # a real Argon2id (RFC 9106 cost) runs in the app for a new profile


@pytest.fixture(scope="module")
def tag() -> str:
    return os.urandom(2).hex()


def _convs(page: Any) -> Any:
    return page.get_by_role("navigation", name="Conversations")


def test_new_profile_is_created_and_registered_from_the_page(world: World, tag: str) -> None:
    account = f"nia{tag}@alpha.test"
    app = world.start("nia", account)  # no profile in the folder: the setup page
    page = world.page(app)
    expect(page.get_by_role("heading", name="Create a profile")).to_be_visible(timeout=WAIT)
    box = page.get_by_role("region", name="Create a profile")
    box.get_by_label("Passphrase", exact=True).fill("password")
    expect(page.locator("#strength")).to_contain_text("very weak", timeout=WAIT)
    expect(box.get_by_label("Keep this weak passphrase anyway")).to_be_visible()
    box.get_by_label("Repeat the passphrase").fill("password")
    box.get_by_label("Account").fill(account)
    box.get_by_label("Provider", exact=True).fill(world.alpha.url)
    box.get_by_role("button", name="Create profile").click()
    expect(page.locator("#create-error")).to_contain_text("very weak", timeout=WAIT)
    assert not (world.root / "nia").exists() or not any((world.root / "nia").iterdir())

    box.get_by_label("Passphrase", exact=True).fill(PASS)
    expect(page.locator("#strength")).to_contain_text("Strength 4 of 4", timeout=WAIT)
    expect(box.get_by_label("Keep this weak passphrase anyway")).to_be_hidden()
    box.get_by_label("Repeat the passphrase").fill(PASS + " typo")
    box.get_by_role("button", name="Create profile").click()
    expect(page.locator("#create-error")).to_have_text("the two passphrases differ")
    box.get_by_label("Repeat the passphrase").fill(PASS)
    shot(page, "onboarding")
    box.get_by_role("button", name="Create profile").click()
    expect(page.locator(".me")).to_have_text(account, timeout=WAIT)  # the app itself

    # registered at the provider: a peer reaches the new account, live
    olu = peer(world, "olu", f"olu{tag}@alpha.test", world.alpha.url)

    async def hello(dev: Device, clock: Clock) -> None:
        conv = await convs.create(dev, "Welcome aboard", [account], clock())
        await messaging.send_text(dev, conv, "hi new person", clock())

    run_async(with_device(olu, hello))
    accept_in_page(page, f"olu{tag}@alpha.test", WAIT)  # T14: olu is a stranger
    _convs(page).get_by_role("link", name="Welcome aboard").click(timeout=WAIT)
    expect(page.locator("p.text").get_by_text("hi new person")).to_be_visible(timeout=WAIT)
    # set up once: the onboarding endpoints refuse from now on
    status, body = post(page, "/api/setup/create", {"account": "x@alpha.test",
                                                     "server": world.alpha.url,
                                                     "passphrase": PASS})
    assert (status, body["code"]) == (409, "conflict")


def test_restore_from_backup_replaces_the_device_only_when_confirmed(world: World,
                                                                     tag: str) -> None:
    account = f"pia{tag}@alpha.test"
    old = world.web("pia", account, world.alpha.url)
    quinn = peer(world, "quinn", f"quinn{tag}@alpha.test", world.alpha.url)

    async def chat(dev: Device, clock: Clock) -> None:
        conv = await convs.create(dev, "Old times", [account], clock())
        await messaging.send_text(dev, conv, "remember <b>this</b>", clock())

    run_async(with_device(quinn, chat))
    page = world.page(old)
    accept_in_page(page, f"quinn{tag}@alpha.test", WAIT)  # T14: quinn is a stranger
    expect(_convs(page).get_by_role("link", name="Old times")).to_be_visible(timeout=WAIT)
    page.get_by_role("button", name="Settings", exact=True).click()
    page.get_by_role("button", name="Create backup").click()
    expect(page.locator("#backup-key-text")).not_to_have_text("", timeout=WAIT)
    key = page.locator("#backup-key-text").text_content()
    old_device = run_async(with_device(world.root / "pia", _device_id, sync=False))

    fresh = world.start("pia-new", account)
    setup = world.page(fresh)
    box = setup.get_by_role("region", name="Restore from a backup")
    box.get_by_label("Provider of the backup").fill(world.alpha.url)
    box.get_by_label("Recovery key").fill("not-the-key")
    box.get_by_role("button", name="Find backup").click()
    expect(setup.locator("#restore-error")).not_to_have_text("", timeout=WAIT)
    box.get_by_label("Recovery key").fill(key)
    box.get_by_role("button", name="Find backup").click()
    plan = setup.locator("#restore-plan-text")
    expect(plan).to_contain_text(f"REMOVES the backed-up device {old_device}", timeout=WAIT)
    expect(plan).to_contain_text(f"Backup of {account}")

    # without the plan's device id sent back, nothing happens (no profile, no removal)
    status, body = post(setup, "/api/setup/restore", {
        "server": world.alpha.url, "recovery_key": key, "confirm": "yes",
        "passphrase": PASS})
    assert (status, body["code"]) == (422, "validation_error")
    assert not _has_profile(world.root / "pia-new")
    assert page.request.get(old.origin + "/api/settings").status == 200  # still a device

    box.get_by_label("Passphrase for this profile").fill(PASS)
    shot(setup, "restore")
    box.get_by_role("button", name="Restore and remove that device").click()
    expect(setup.locator(".me")).to_have_text(account, timeout=WAIT)
    _convs(setup).get_by_role("link", name="Old times").click(timeout=WAIT)
    expect(setup.locator("p.text").get_by_text("remember <b>this</b>")).to_be_visible(
        timeout=WAIT)
    gone = page.request.get(old.origin + "/api/settings")
    assert (gone.status, gone.json()["code"]) == (410, "device_removed")

    # a registered profile restores its account's backup too (history only)
    setup.get_by_role("button", name="Settings", exact=True).click()
    settings = setup.get_by_role("region", name="Settings")
    settings.get_by_label("Recovery key of a backup to restore").fill("wrong")
    settings.get_by_role("button", name="Restore backup").click()
    expect(setup.locator("#send-error")).not_to_have_text("", timeout=WAIT)
    settings.get_by_label("Recovery key of a backup to restore").fill(key)
    settings.get_by_role("button", name="Restore backup").click()
    expect(settings.locator("#restore-status")).to_have_text("Restored 0 messages",
                                                             timeout=WAIT)


async def _device_id(dev: Device, clock: Clock) -> str:
    return dev.identity.device_id


def _has_profile(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


def test_a_new_device_joins_its_account_from_the_page(world: World, tag: str) -> None:
    """Issue 20: "link a new device ... the new device can join from its own app". The
    existing device shows a code; the new device's page takes it and shows its key
    fingerprint; once the existing device certifies that key, the page is the app of
    the account, and a conversation started afterwards reaches the new device too."""
    from accord.client import linking

    account = f"jo{tag}@alpha.test"
    old = peer(world, "jo-phone", account, world.alpha.url)

    async def show_code(dev: Device, clock: Clock) -> linking.LinkSlot:
        return await linking.open_slot(dev, clock())

    slot = run_async(with_device(old, show_code))
    app = world.start("jo-laptop", account)  # an empty folder: the setup page
    page = world.page(app)
    box = page.get_by_role("region", name="Link to your account")
    expect(box).to_be_visible(timeout=WAIT)
    box.get_by_label("Linking code").fill("NOT-A-CODE")
    box.get_by_label("Provider of your account").fill(world.alpha.url)
    box.get_by_label("Passphrase for this profile").fill(PASS)
    box.get_by_role("button", name="Link this device").click()
    expect(page.locator("#join-error")).not_to_be_empty(timeout=WAIT)
    assert not (world.root / "jo-laptop").exists() or not any(
        (world.root / "jo-laptop").iterdir())  # a failed join leaves no profile behind

    box.get_by_label("Linking code").fill(slot.code)
    box.get_by_role("button", name="Link this device").click()
    expect(page.locator("#join-status")).to_contain_text("fingerprint", timeout=WAIT)
    shown = page.locator("#join-status").text_content() or ""

    async def confirm(dev: Device, clock: Clock) -> str:
        # the page answered before we got here
        new = await wait_until(lambda: linking.poll_answer(dev, slot), 10.0,
                               "the page answering the code")
        assert linking.key_fingerprint(new.signature_key) in shown  # what the person compares
        return await linking.certify(dev, slot, new)

    run_async(with_device(old, confirm))
    expect(page.locator(".me")).to_have_text(account, timeout=WAIT)  # the app itself

    olu = peer(world, "olu2", f"olu2{tag}@alpha.test", world.alpha.url)

    async def hello(dev: Device, clock: Clock) -> None:
        conv = await convs.create(dev, "Hello both devices", [account], clock())
        await messaging.send_text(dev, conv, "hi on every device", clock())

    run_async(with_device(olu, hello))
    accept_in_page(page, f"olu2{tag}@alpha.test", WAIT)  # T14: olu2 is a stranger
    _convs(page).get_by_role("link", name="Hello both devices").click(timeout=WAIT)
    expect(page.locator("p.text").get_by_text("hi on every device")).to_be_visible(timeout=WAIT)
