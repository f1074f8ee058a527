"""T14 on the client: first contact from another provider's user is a message request.

alice (alpha.test) writes to bob (beta.test), a stranger: bob's device keeps
what arrives as a plain-text preview only and fetches no attachment until bob
accepts; then everything is applied. A blocked stranger cannot invite again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from accord.client import consent, invites, linking, message_requests, messaging
from accord.client import conversations as convs
from accord.errors import AccordError, NotFound
from tests.e2e.helpers import PASS, Clock, new_device
from tests.federation.groups import until
from tests.federation.providers import Provider

DATA = os.urandom(3000)


async def test_T14_stranger_is_quarantined_until_accepted(
        providers: dict[str, Provider], tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    tag = os.urandom(3).hex()
    alice = await new_device(tmp_path / "a", f"alice{tag}@alpha.test", providers["alpha"].url,
                             clock)
    bob = await new_device(tmp_path / "b", f"bob{tag}@beta.test", providers["beta"].url, clock)
    downloads: list[str] = []
    real_download = bob.api.download_blob

    async def counting_download(blob_id: str) -> bytes:
        downloads.append(blob_id)
        return await real_download(blob_id)

    bob.api.download_blob = counting_download  # type: ignore[method-assign]
    try:
        conv = await convs.create(alice, "offer", [bob.identity.account], clock())
        first = await messaging.send_text(alice, conv, "hello from a stranger", clock())
        file_id = await messaging.send_file(alice, conv, DATA, "deal.bin",
                                            "application/octet-stream", clock(), text="see file")
        await messaging.react(alice, conv, first, "🔥", clock())
        bconv = await until(bob, clock, lambda: [
            c for c in message_requests.pending(bob)
            # the name and admins notices the creator sends, then alice's three
            if invites.held_count(bob, c) == 5])
        bconv = bconv[0]
        assert bconv["meta"]["request"]["from"] == alice.identity.account
        # issue 18: the Welcome and what followed wait unparsed: no group, no content
        assert bob.store.messages(bconv["conv_id"]) == []
        with pytest.raises(NotFound):
            bob.store.load_group(bconv["group_id"])
        with pytest.raises(AccordError):  # no attachment reference is known: nothing to fetch
            await messaging.fetch_attachment(bob, file_id)
        assert downloads == []

        assert await message_requests.accept(bob, bconv, clock()) == 5
        assert await consent.refresh(bob) == {}  # the provider dropped the request
        msgs = {m.msg_id: m for m in bob.store.messages(bconv["conv_id"])}
        assert msgs[first].kind == "text" and msgs[first].meta["reactions"] == {
            "🔥": [alice.identity.account]}
        assert msgs[file_id].kind == "file" and msgs[file_id].meta["attachments"]
        assert downloads == []  # accepting fetches nothing by itself
    finally:
        for d in (alice, bob):
            await d.disconnect()


async def test_T14_blocked_stranger_cannot_invite_again(
        providers: dict[str, Provider], tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    tag = os.urandom(3).hex()
    mallory = await new_device(tmp_path / "m", f"mallory{tag}@gamma.test",
                               providers["gamma"].url, clock)
    bob = await new_device(tmp_path / "b", f"bob{tag}@beta.test", providers["beta"].url, clock)
    try:
        conv = await convs.create(mallory, "spam", [bob.identity.account], clock())
        await messaging.send_text(mallory, conv, "cheap watches", clock())
        bconv = (await until(bob, clock, lambda: message_requests.pending(bob)))[0]
        target = await message_requests.block(bob, bconv, clock())
        assert target == mallory.identity.account
        with pytest.raises(NotFound):  # never joined: the Welcome was dropped unread
            bob.store.conversation(bconv["conv_id"])
        assert not message_requests.pending(bob)
        assert bob.store.messages(bconv["conv_id"]) == []
        with pytest.raises(AccordError):  # bob's provider refuses mallory's claim
            await convs.create(mallory, "spam again", [bob.identity.account], clock())
    finally:
        for d in (mallory, bob):
            await d.disconnect()


async def test_T14_accepting_on_one_device_applies_on_the_others(
        providers: dict[str, Provider], tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    tag = os.urandom(3).hex()
    alice = await new_device(tmp_path / "a", f"alice{tag}@alpha.test", providers["alpha"].url,
                             clock)
    bob = await new_device(tmp_path / "b", f"bob{tag}@beta.test", providers["beta"].url, clock)
    bob2 = await new_device(tmp_path / "b2", None, providers["beta"].url, clock)
    try:
        slot = await linking.open_slot(bob, clock())
        await linking.join(bob2, slot.code, providers["beta"].url)
        new = await linking.poll_answer(bob, slot)
        assert new is not None
        await linking.certify(bob, slot, new, send_history=False)
        assert await bob2.complete_link(clock()) is not None
        await convs.create(alice, "two devices", [bob.identity.account], clock())
        conv = convs.find(alice, "two devices")
        await messaging.send_text(alice, conv, "hello both", clock())
        for dev in (bob, bob2):
            await until(dev, clock, lambda d=dev: [
                c for c in message_requests.pending(d)
                if invites.held_count(d, c) >= 3])
        await message_requests.accept(bob, message_requests.pending(bob)[0], clock())
        assert message_requests.pending(bob2)  # not yet: bob2 has not synced
        await bob2.sync(clock())
        assert not message_requests.pending(bob2)
        assert [m.body for m in bob2.store.messages(
            convs.find(bob2, "two devices")["conv_id"])] == ["hello both"]
    finally:
        for d in (alice, bob, bob2):
            await d.disconnect()


def _cli(profile, *args: str) -> Any:  # type: ignore[no-untyped-def]
    env = dict(os.environ, ACCORD_PROFILE=str(profile), ACCORD_PASSPHRASE=PASS)
    proc = subprocess.run([sys.executable, "-c", "from accord.cli.main import main; main()",
                           *args, "--json"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


async def test_T14_requests_cli_lists_previews_and_blocks(
        providers: dict[str, Provider], tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    tag = os.urandom(3).hex()
    mallory = await new_device(tmp_path / "m", f"mallory{tag}@gamma.test",
                               providers["gamma"].url, clock)
    bob = await new_device(tmp_path / "b", f"bob{tag}@beta.test", providers["beta"].url, clock)
    try:
        await convs.create(mallory, "deal", [bob.identity.account], clock(),
                           first_message="cheap   watches\nhere")
        await until(bob, clock, lambda: [c for c in message_requests.pending(bob)
                                         if invites.held_count(bob, c) >= 3
                                         and c["meta"]["request"].get("first_contact")])
    finally:
        await bob.disconnect()
    bob.close()
    try:
        rows = _cli(tmp_path / "b", "requests", "list")
        # the sender, the sealed first contact's one-line preview (issue 18) and how
        # much waits unread until the accept
        assert [(r["from"], r["previews"], r["waiting"], r["dropped"]) for r in rows] == [
            (mallory.identity.account, ["cheap watches here"], 3, None)]
        assert _cli(tmp_path / "b", "requests", "block", mallory.identity.account,
                    "--domain") == {"blocked": "gamma.test"}
        assert _cli(tmp_path / "b", "requests", "list") == []
        with pytest.raises(AccordError):  # the whole domain is refused now
            await convs.create(mallory, "deal 2", [bob.identity.account], clock())
    finally:
        await mallory.disconnect()


async def test_T13_T14_requests_cli_reports_unread_and_blocks(
        providers: dict[str, Provider], tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    tag = os.urandom(3).hex()
    mallory = await new_device(tmp_path / "m", f"mallory{tag}@gamma.test",
                               providers["gamma"].url, clock)
    bob = await new_device(tmp_path / "b", f"bob{tag}@beta.test", providers["beta"].url, clock)
    try:
        conv = await convs.create(mallory, "deal", [bob.identity.account], clock())
        await messaging.send_text(mallory, conv, "cheap watches", clock())
        await until(bob, clock, lambda: message_requests.pending(bob))
    finally:
        await bob.disconnect()
    bob.close()
    try:
        who = mallory.identity.account
        assert _cli(tmp_path / "b", "requests", "report", who) == {"reported": who,
                                                                   "blocked": who}
        assert _cli(tmp_path / "b", "requests", "list") == []
        with pytest.raises(AccordError):  # blocked as well
            await convs.create(mallory, "deal 2", [bob.identity.account], clock())
    finally:
        await mallory.disconnect()


async def test_T14_a_blocked_users_posts_in_a_group_are_dropped(
        providers: dict[str, Provider], tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    tag = os.urandom(3).hex()
    alice = await new_device(tmp_path / "a", f"alice{tag}@alpha.test", providers["alpha"].url,
                             clock)
    bob = await new_device(tmp_path / "b", f"bob{tag}@beta.test", providers["beta"].url, clock)
    mallory = await new_device(tmp_path / "m", f"mallory{tag}@gamma.test",
                               providers["gamma"].url, clock)
    try:
        conv = await convs.create(alice, "club", [bob.identity.account,
                                                  mallory.identity.account], clock())
        await messaging.send_text(alice, conv, "welcome", clock())
        breq = (await until(bob, clock, lambda: message_requests.pending(bob)))[0]
        await message_requests.accept(bob, breq, clock())
        mconv = await until(mallory, clock, lambda: message_requests.pending(mallory))
        await message_requests.accept(mallory, mconv[0], clock())
        await messaging.send_text(mallory, convs.find(mallory, "club"), "spam 1", clock())
        bodies = lambda: [m.body for m in bob.store.messages(breq["conv_id"])]  # noqa: E731
        await until(bob, clock, lambda: "spam 1" in bodies())
        assert await message_requests.block_target(bob, mallory.identity.account)
        await messaging.send_text(mallory, convs.find(mallory, "club"), "spam 2", clock())
        await messaging.send_text(alice, convs.find(alice, "club"), "after", clock())
        await until(bob, clock, lambda: "after" in bodies())
        assert bodies() == ["welcome", "spam 1", "after"]
    finally:
        for d in (alice, bob, mallory):
            await d.disconnect()


async def test_T14_whom_you_invited_is_no_stranger(
        providers: dict[str, Provider], tmp_path) -> None:  # type: ignore[no-untyped-def]
    """alice invited bob: when bob later starts a conversation with her, it is no
    message request (her invitation was her consent), while a stranger's still is."""
    clock, tag = Clock(), os.urandom(3).hex()
    alice = await new_device(tmp_path / "a", f"alice{tag}@alpha.test", providers["alpha"].url,
                             clock)
    bob = await new_device(tmp_path / "b", f"bob{tag}@beta.test", providers["beta"].url, clock)
    carol = await new_device(tmp_path / "c", f"carol{tag}@beta.test", providers["beta"].url,
                             clock)
    try:
        await convs.create(alice, "first", [bob.identity.account], clock())
        request = await until(bob, clock, lambda: message_requests.pending(bob))
        await message_requests.accept(bob, request[0], clock())
        await convs.create(bob, "second", [alice.identity.account], clock())
        await convs.create(carol, "third", [alice.identity.account], clock())
        pending = await until(alice, clock, lambda: message_requests.pending(alice))
        assert [r["meta"]["request"]["from"] for r in pending] == [carol.identity.account]
        second = await until(alice, clock, lambda: [c for c in alice.store.conversations()
                                                     if c["name"] == "second"])
        assert not consent.is_pending(second[0])
    finally:
        for d in (alice, bob, carol):
            await d.disconnect()
