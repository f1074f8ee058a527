"""The device core (``device_core``) and the facade's sync loop (``device``): the profile,
the provider session saved between commands, registration and linking refusals, and
pushed items as inputs (``on_push``, ``listen`` over a scripted push), on the in-memory
provider: no server, no socket, the test's clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.client import messaging
from accord.client.api import DeviceRemoved
from accord.client.device import Device
from accord.client.device_core import SESSION_KEY, SESSION_MARGIN_MS, check_code_key
from accord.errors import AccordError, AuthError, CryptoError, ValidationError

from .fakes import CHEAP, NOW, pair


def _logins(p) -> int:
    return sum(1 for method, path in p.requests_seen if path == "/v1/auth/login")


async def test_a_profile_reopens_with_its_identity_and_settings(tmp_path: Path) -> None:
    dev = Device.init(tmp_path / "p", "pw", kdf=CHEAP)
    assert not dev.registered
    with pytest.raises(AuthError, match="not registered"):
        _ = dev.identity
    with pytest.raises(AuthError, match="not connected"):
        _ = dev.api
    dev.set_settings(update_every_messages=3, post_quantum=0)
    with pytest.raises(TypeError):
        dev.set_settings(no_such_setting=1)  # refused before anything is saved
    key = dev.signature_public_key
    dev.close()
    again = Device.open(tmp_path / "p", "pw")
    assert again.signature_public_key == key
    assert again.settings.update_every_messages == 3 and again.settings.suites == (0x0001,)
    assert again.sign(b"x") != again.sign(b"y")
    again.close()


async def test_the_session_is_kept_for_the_next_command_while_it_lasts(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    await alice.disconnect()  # keeps the session in the (encrypted) profile
    saved = alice.store.get_json(SESSION_KEY)
    assert saved["server"] == p.url and saved["device_id"] == alice.identity.device_id
    before = _logins(p)
    await alice.connect(now=p.now)  # resumed: no login round trip
    await messaging.send_text(alice, ca, "no login needed", p.now)
    assert _logins(p) == before
    await alice.disconnect()
    await alice.connect(now=saved["expires_at"] - SESSION_MARGIN_MS)  # too close to its end
    assert _logins(p) == before + 1
    await alice.disconnect()
    await alice.connect(lazy=True)  # no saved session used without a time: log in lazily
    assert _logins(p) == before + 1
    await alice.sync(p.now)
    assert _logins(p) == before + 2


async def test_a_removed_device_stays_removed(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    await alice.disconnect()
    alice.store.delete(SESSION_KEY)
    del p.devices[alice.identity.device_id]  # the account removed it elsewhere
    with pytest.raises(DeviceRemoved):
        await alice.connect()
    assert alice.store.get_json("device_removed") is True
    await alice.disconnect()
    with pytest.raises(DeviceRemoved):
        await alice.connect(lazy=True)  # known removed: not even a hidden-sender post


async def test_registration_and_linking_refusals(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    with pytest.raises(ValidationError, match="user@domain"):
        await alice.register("nobody", p.url, NOW)
    with pytest.raises(AccordError, match="already alice@alpha.test"):
        await alice.register("other@alpha.test", p.url, NOW)
    assert await alice.complete_link(NOW) == alice.identity  # registered already
    fresh = Device.init(tmp_path / "fresh", "pw", kdf=CHEAP, provider=p.session)
    with pytest.raises(AuthError, match="no link request"):
        await fresh.complete_link(NOW)
    code = fresh.link_request(" Alice@Alpha.test ", p.url)
    key, possession = check_code_key(code)
    assert key == fresh.signature_public_key and len(possession) == 64
    for bad in ("!!", "AAAA"):
        with pytest.raises(CryptoError, match="not a link code"):
            check_code_key(bad)


async def test_key_packages_are_topped_up_and_the_last_resort_rotates(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    row = p.row(alice)
    assert await alice.top_up_key_packages(NOW) >= 5
    row.kps[0x0001] = row.kps[0x0001][:1]  # claimed by others
    row.last_resort_used[0x0001] = True  # and the last resort handed out
    assert await alice.top_up_key_packages(NOW, low=2, batch=3) == 4
    kept = alice.store.get_json("kp_last_resort")["1"]
    assert len(kept) == 2  # the current last resort and the one before
    assert alice.is_last_resort(bytes.fromhex(kept[-1]))
    assert not alice.is_last_resort(b"\x00" * 32)


async def test_pushed_items_are_an_input(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    await messaging.send_text(alice, ca, "pushed", NOW + 1)
    items = (await bob.api.fetch(bob.cursor, 10)).items
    applied, fresh = await bob.on_push(items, lambda: NOW + 2)
    assert applied == 1 and fresh == items
    assert [m_.body for m_ in bob.store.messages(cb["conv_id"])][-1] == "pushed"
    assert await bob.on_push(items, lambda: NOW + 3) == (0, [])  # applied already


async def test_listen_applies_each_pushed_batch_under_the_writer_lock(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    await messaging.send_text(alice, ca, "one", NOW + 1)
    await messaging.send_text(alice, ca, "two", NOW + 2)
    queued = list(p.row(bob).queue)
    starts: list[int] = []

    async def push(after: int, *, max_frames: int, idle_timeout: float | None):
        starts.append(after)
        for item in queued:  # the same items again: the catch-up sync applied them
            yield [item]
        await messaging.send_text(alice, ca, "three", NOW + 3)
        yield [i for i in p.row(bob).queue if i.seq > after]

    bob.api.push = push  # type: ignore[method-assign]
    seen: list[list[str]] = []
    connected: list[bool] = []
    n = await bob.listen(lambda: NOW + 4, max_frames=10, idle_timeout=1.0,
                         on_items=lambda items: seen.append([i.msg_id for i in items]),
                         on_connected=lambda: connected.append(True))
    # the one pushed batch: three, after bob's own delivery report of one and two (issue 22)
    assert connected == [True] and len(seen) == 1 and n == len(seen[0]) == 2
    assert starts == [queued[-1].seq]  # after what the catch-up sync applied
    assert [m_.body for m_ in bob.store.messages(cb["conv_id"])][-3:] == ["one", "two", "three"]
