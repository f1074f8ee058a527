"""The CLI's face of key transparency (issue 7): safety numbers, verification, alerts first.

Real ``accord`` processes (one per command) against the three providers.
"""

from __future__ import annotations

import asyncio
import functools
import os
from pathlib import Path

from tests.e2e import helpers
from tests.federation.providers import Provider
from tests.transparency_e2e import malicious

CLI_TIMEOUT_S = 90


PASSPHRASE = "kt pass phrase"
accord = functools.partial(helpers.accord, passphrase=PASSPHRASE, timeout=CLI_TIMEOUT_S)
js = functools.partial(helpers.accord_json, passphrase=PASSPHRASE, timeout=CLI_TIMEOUT_S)


def test_safety_numbers_key_changes_and_alerts_in_the_cli(
        providers: dict[str, Provider], tmp_path: Path) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    tag = os.urandom(3).hex()
    a_acct, b_acct = f"alice{tag}@alpha.test", f"bob{tag}@beta.test"
    accord(alice, "init")
    accord(alice, "register", a_acct, "--server", providers["alpha"].url)
    accord(bob, "init")
    accord(bob, "register", b_acct, "--server", providers["beta"].url)
    accord(alice, "chat", "new", "trail", b_acct)
    js(alice, "send", "trail", "hi")
    assert js(bob, "requests", "accept", a_acct)["chat"] == "trail"  # T14: first contact
    assert [c["name"] for c in js(bob, "chat", "list")] == ["trail"]

    # Both sides compute the same 60-digit number; a QR code is drawn for people.
    sa = js(alice, "contacts", "safety-number", b_acct)["safety_number"]
    sb = js(bob, "contacts", "safety-number", a_acct)["safety_number"]
    assert sa == sb and len(sa) == 60 and sa.isdigit()
    human = accord(alice, "contacts", "safety-number", b_acct).stdout
    assert " ".join(sa[i:i + 5] for i in range(0, 60, 5)) in human and "█" in human
    assert accord(alice, "contacts", "verify", b_acct, check=False).returncode != 0  # no --yes
    js(alice, "contacts", "verify", b_acct, "--yes")
    row = [c for c in js(alice, "contacts") if c["account"] == b_acct][0]
    assert row["verified"] and not row["keys_changed"]
    honest = accord(alice, "verify", b_acct)
    assert "SECURITY ALERT" not in honest.stderr and b_acct in honest.stdout

    # bob links a second device: his key set changes.
    laptop = tmp_path / "bob-laptop"
    accord(laptop, "init")
    code = js(laptop, "devices", "request", b_acct, "--server", providers["beta"].url)["code"]
    accord(bob, "devices", "link", code)
    assert js(laptop, "devices", "finish", "--wait", "10")["account"] == b_acct
    accord(bob, "chat", "list")  # bob's first device adds the laptop to the conversation

    changed = accord(alice, "verify", b_acct)
    assert "SECURITY ALERT" in changed.stderr and "verified contact" in changed.stderr
    refused = accord(alice, "send", "trail", "still you?", check=False)
    assert refused.returncode == 1 and "changed" in refused.stderr
    js(alice, "send", "trail", "still you?", "--confirm-key-change")
    row = [c for c in js(alice, "contacts") if c["account"] == b_acct][0]
    assert not row["verified"]  # confirmation cleared the verification
    js(alice, "send", "trail", "no question now")

    # A ghost device on alice's account: the next check prints the alert first.
    asyncio.run(malicious.add_ghost_device(providers["alpha"], a_acct, 1_900_000_000_000))
    ghost = accord(alice, "verify")
    assert "SECURITY ALERT" in ghost.stderr and "did not approve" in ghost.stderr
    listed = js(alice, "alerts", "--all")
    assert "unknown_device" in [a["kind"] for a in listed]
    assert "SECURITY ALERT" not in accord(alice, "alerts").stderr  # shown once, then seen
