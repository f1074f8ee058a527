"""The README's CLI walkthrough, run as written: two profiles, real processes."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.federation.loopback import Provider
from tests.e2e import helpers
from tests.e2e.helpers import Listener, accept_request
from tests.engine import running, start_server
from tests.timing import wait_until_sync

CLI_TIMEOUT_S = 60


PASSPHRASE = "walkthrough pass"
accord = functools.partial(helpers.accord, passphrase=PASSPHRASE)
js = functools.partial(helpers.accord_json, passphrase=PASSPHRASE)


def test_readme_walkthrough_with_two_profiles(server, tmp_path) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    tag = os.urandom(3).hex()
    a_acct, b_acct = f"alice{tag}@alpha.test", f"bob{tag}@alpha.test"
    accord(alice, "init")
    accord(alice, "register", a_acct, "--server", server.url)
    accord(bob, "init")
    accord(bob, "register", b_acct, "--server", server.url)

    accord(alice, "chat", "new", "hiking", b_acct)
    sent = js(alice, "send", "hiking", "Saturday at 8?")
    accept_request(bob, a_acct, PASSPHRASE)  # T14: alice is a stranger
    assert [c["name"] for c in js(bob, "chat", "list")] == ["hiking"]
    read = js(bob, "read", "hiking")
    texts = [i["text"] for i in read["items"] if i["type"] == "message"]
    assert texts == ["Saturday at 8?"]
    first = sent["id"][:8]
    reply = js(bob, "send", "hiking", "Count me in", "--reply", first)
    (tmp_path / "map.txt").write_text("lake, oak, summit\n")
    filed = js(bob, "send", "hiking", "the map", "--file", str(tmp_path / "map.txt"))
    accord(alice, "react", "hiking", reply["id"][:8], "👍")
    accord(alice, "edit", "hiking", first, "Saturday at 9?")
    got = js(alice, "download", "hiking", filed["id"][:8], "--out", str(tmp_path / "dl"))
    assert Path(got["path"]).read_text() == "lake, oak, summit\n"
    hits = js(alice, "search", "saturday")
    assert [h["text"] for h in hits] == ["Saturday at 9?"]
    members = js(alice, "chat", "members", "hiking")
    assert set(members["members"]) == {a_acct, b_acct}
    human = accord(bob, "read", "hiking").stdout
    assert "Saturday at 9? (edited)" in human and "Count me in" in human
    assert "[file map.txt" in human
    devices = js(alice, "devices", "list")
    assert len(devices) == 1 and devices[0]["this_device"]

    assert "(this device)" in accord(alice, "devices").stdout

    # linking a second device of alice with the CLI
    laptop = tmp_path / "alice-laptop"
    accord(laptop, "init")
    env_a = dict(os.environ, ACCORD_PROFILE=str(alice), ACCORD_PASSPHRASE="walkthrough pass")
    linker = subprocess.Popen(  # the existing device shows the code and waits
        [sys.executable, "-c", "from accord.cli.main import main; main()", "devices", "link",
         "--yes", "--wait", "40", "--json"], env=env_a, stdout=subprocess.PIPE, text=True)
    try:
        assert linker.stdout is not None
        code = json.loads(linker.stdout.readline())["code"]
        joined = js(laptop, "devices", "join", code, "--server", server.url, "--wait", "30")
        out, _ = linker.communicate(timeout=CLI_TIMEOUT_S)
    finally:
        linker.kill()
    assert linker.returncode == 0
    linked = json.loads(out)
    assert joined["account"] == a_acct and joined["device_id"] == linked["device_id"]
    assert joined["fingerprint"] == linked["fingerprint"] and linked["missing"] == 0
    # `accord send` posts from what the device holds (issue 18, T11): bob reads first,
    # so his post is in the epoch that added alice's laptop
    accord(bob, "read", "hiking")
    accord(bob, "send", "hiking", "hello laptop")
    laptop_texts = [i["text"] for i in js(laptop, "read", "hiking")["items"]
                    if i["type"] == "message"]
    # the recent history came over, encrypted, from alice's first device
    assert laptop_texts[0] == "Saturday at 9?" and laptop_texts[-1] == "hello laptop"
    assert len(js(bob, "chat", "members", "hiking")["members"][a_acct]) == 2

    # bob listens live while alice writes
    env = dict(os.environ, ACCORD_PROFILE=str(bob), ACCORD_PASSPHRASE="walkthrough pass")
    listener = Listener(env, "--duration", "25", "--json")
    try:
        listener.wait_ready(CLI_TIMEOUT_S)  # caught up, waiting for pushes
        accord(alice, "send", "hiking", "live from alice")
        out, _ = listener.finish(CLI_TIMEOUT_S)
    finally:
        listener.kill()
    live = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert any(x.get("text") == "live from alice" for x in live)

    # a wrong passphrase is a clear error, not a traceback
    env_wrong = accord_wrong(alice)
    assert env_wrong.returncode == 1 and "wrong passphrase" in env_wrong.stderr

    # alice's phone is lost: she restores the provider's backup into a new profile
    key = js(alice, "backup", "create", "--provider")["recovery_key"]
    phone = tmp_path / "alice-phone"
    restored = js(phone, "backup", "restore", "--server", server.url, "--recovery-key", key,
                  "--yes")
    assert restored["account"] == a_acct and restored["messages"] >= 4
    assert [h["text"] for h in js(phone, "search", "saturday")] == ["Saturday at 9?"]
    old = accord(alice, "chat", "list")
    assert "this device was removed" in old.stderr  # the old profile still opens
    # alice's laptop (another device of hers) swaps the dead leaf for the new device
    accord(laptop, "settings", "--device-check-minutes", "0")
    accord(laptop, "read", "hiking")
    accord(phone, "read", "hiking")  # the Welcome: the conversation is live again
    accord(bob, "read", "hiking")
    assert "was replaced" in accord(bob, "read", "hiking").stdout
    assert len(js(bob, "chat", "members", "hiking")["members"][a_acct]) == 2
    accord(bob, "send", "hiking", "welcome back")
    phone_texts = [i["text"] for i in js(phone, "read", "hiking")["items"]
                   if i["type"] == "message"]
    assert "Saturday at 9?" in phone_texts and phone_texts[-1] == "welcome back"
    provider_outage_and_the_outbox(server, bob, phone, tmp_path)


def provider_outage_and_the_outbox(server, bob: Path, phone: Path, tmp_path: Path) -> None:
    """The provider stops: bob's message waits in his outbox (README), and the first
    command after the provider is back delivers it, once."""
    server.stop()
    queued = js(bob, "send", "hiking", "sent while the provider was down")
    assert queued["state"] == "queued"
    assert [c["pending"] for c in js(bob, "chat", "list") if c["name"] == "hiking"] == [1]
    (item,) = js(bob, "outbox", "list")
    assert (item["chat"], item["state"]) == ("hiking", "pending")
    port = int(server.url.rsplit(":", 1)[1])
    back = start_server(server.data_dir, server.domain, port=port,
                        log_path=tmp_path / "provider-again.log")
    try:
        # the retry waits for its backoff (5 s after the failed attempt): any command at
        # that time sends what is due (the CLI's clock is moved there, not waited for)
        accord(bob, "chat", "list", clock_at_ms=item["next_attempt_at"])
        assert js(bob, "outbox", "list") == []
        texts = [i["text"] for i in js(phone, "read", "hiking")["items"]
                 if i["type"] == "message"]
        assert texts.count("sent while the provider was down") == 1
    finally:
        back.stop()


def accord_wrong(profile: Path) -> subprocess.CompletedProcess[str]:
    return helpers.accord(profile, "chat", "list", passphrase="not it", check=False)


@pytest.fixture(scope="module")
def two_providers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Provider]]:
    with running(tmp_path_factory.mktemp("walkthrough"), ["beta.test", "gamma.test"]) as provs:
        yield provs


def test_readme_walkthrough_a_federated_stranger(two_providers, tmp_path) -> None:
    """The README's message requests, as written (issue 19): carol of another provider,
    a stranger to bob, writes first; bob sees who and a one-line preview, reads nothing
    until he accepts, and then they talk."""
    carol, bob = tmp_path / "carol", tmp_path / "bob"
    tag = os.urandom(3).hex()
    c_acct, b_acct = f"carol{tag}@gamma.test", f"bob{tag}@beta.test"
    for profile, account, provider in ((carol, c_acct, "gamma"), (bob, b_acct, "beta")):
        accord(profile, "init")
        accord(profile, "register", account, "--server", two_providers[provider].url)

    accord(carol, "chat", "new", "climbing", b_acct, "--message", "Hi Bob, Carol from the club")
    js(carol, "send", "climbing", "are you coming on Sunday?")
    rows = wait_until_sync(  # the invitation crosses two providers
        lambda: (r := js(bob, "requests", "list")) and r[0]["waiting"] >= 2 and r,
        30, "carol's request with both messages", poll_s=0.5)
    assert [(r["from"], r["previews"]) for r in rows] == [(c_acct, ["Hi Bob, Carol from the club"])]
    assert [c["name"] for c in js(bob, "chat", "list") if not c.get("request")] == []

    accepted = js(bob, "requests", "accept", c_acct)
    assert accepted["chat"] == "climbing"
    read = js(bob, "read", "climbing")
    assert [i["text"] for i in read["items"] if i["type"] == "message"] == [
        "Hi Bob, Carol from the club", "are you coming on Sunday?"]
    js(bob, "send", "climbing", "Yes, see you at 9")

    def carol_reads() -> list[str]:
        return [i["text"] for i in js(carol, "read", "climbing")["items"]
                if i["type"] == "message"]

    texts = wait_until_sync(lambda: "Yes, see you at 9" in (t := carol_reads()) and t, 30,
                            "bob's answer at carol", poll_s=0.5)
    assert texts[-1] == "Yes, see you at 9"
