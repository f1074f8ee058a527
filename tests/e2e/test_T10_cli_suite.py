"""T10 through the CLI on a live provider: which suite protects a conversation is shown,
a device that stops offering X-Wing creates 0x0001 conversations, and `chat upgrade`
moves a conversation (ReInit)."""

from __future__ import annotations

import os

from tests.e2e.helpers import accept_request
from tests.e2e.test_cli_walkthrough import PASSPHRASE, accord, js


def test_T10_cli_shows_the_suite_and_upgrades_a_conversation(server, tmp_path) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    tag = os.urandom(3).hex()
    a_acct, b_acct = f"alice{tag}@alpha.test", f"bob{tag}@alpha.test"
    accord(alice, "init")
    accord(alice, "register", a_acct, "--server", server.url)
    accord(bob, "init")
    accord(bob, "register", b_acct, "--server", server.url)
    # A device that stops offering X-Wing creates conversations in 0x0001.
    assert js(alice, "settings", "--no-post-quantum")["post_quantum"] is False

    created = js(alice, "chat", "new", "old", b_acct)
    assert (created["cipher_suite"], created["post_quantum"]) == ("0x0001", False)
    accord(alice, "send", "old", "hello")
    accept_request(bob, a_acct, PASSPHRASE)  # T14: alice is a stranger
    assert [(c["name"], c["cipher_suite"]) for c in js(bob, "chat", "list")] == [
        ("old", "0x0001")]
    assert "suite 0x0001 (not post-quantum)" in accord(bob, "chat", "list").stdout
    refused = accord(bob, "chat", "upgrade", "old", check=False)  # not an admin
    assert refused.returncode != 0 and "admin" in refused.stderr

    assert js(alice, "settings", "--post-quantum")["post_quantum"] is True
    moved = js(alice, "chat", "upgrade", "old")
    assert (moved["cipher_suite"], moved["post_quantum"]) == ("0x0053", True)
    accord(alice, "send", "old", "now post-quantum")
    info = js(bob, "chat", "info", "old")
    assert (info["cipher_suite"], info["suite_name"], info["post_quantum"]) == (
        "0x0053", "MLS_256_XWING_AES256GCM_SHA512_Ed25519", True)
    texts = [i["text"] for i in js(bob, "read", "old")["items"] if i["type"] == "message"]
    assert texts == ["hello", "now post-quantum"]
    assert "suite 0x0053 (post-quantum)" in accord(bob, "chat", "info", "old").stdout
    mine = js(alice, "chat", "info", "old")  # MIMI section 3: the room's and its group's URIs
    hub = a_acct.rsplit("@", 1)[1]
    assert mine["room_uri"].startswith(f"mimi://{hub}/r/")
    assert mine["group_uri"] == mine["room_uri"].replace("/r/", "/g/", 1)
    assert f"MLS group: {mine['group_uri']}" in accord(alice, "chat", "info", "old").stdout
    assert js(alice, "chat", "new", "fresh", b_acct)["cipher_suite"] == "0x0053"
