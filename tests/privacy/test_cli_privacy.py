"""The issue-11 commands as a person runs them: report, admin actions, backup, export, delete."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from tests.e2e import helpers
from tests.e2e.helpers import accept_request
from tests.engine import admin_store, start_server

PASSPHRASE = "privacy pass"
accord = functools.partial(helpers.accord, passphrase=PASSPHRASE)
js = functools.partial(helpers.accord_json, passphrase=PASSPHRASE)


def test_report_admin_backup_export_delete(tmp_path: Path) -> None:
    server = start_server(tmp_path / "provider", "alpha.test", log_path=tmp_path / "srv.log")
    data = tmp_path / "provider"
    try:
        alice, bob = tmp_path / "alice", tmp_path / "bob"
        for prof, acct in ((alice, "alice@alpha.test"), (bob, "bob@alpha.test")):
            accord(prof, "init")
            accord(prof, "register", acct, "--server", server.url)
        accord(alice, "chat", "new", "trail", "bob@alpha.test")
        accept_request(bob, "alice@alpha.test", PASSPHRASE)  # T14
        sent = js(bob, "send", "trail", "you will regret this")
        accord(alice, "read", "trail")

        # report: verified by the hub; the operator sees it and suspends bob
        note = "threats [red]twice[/red]\x1b[2J"
        rep = js(alice, "report", "trail", sent["id"][:8], "--block", "--reason", "4",
                 "--note", note)
        assert rep["verified"] and rep["hub"] == "alpha.test"
        assert (rep["outcome"], rep["reason"], rep["note"]) == ("verified", 4, note)
        out = accord(alice, "report", "trail", sent["id"][:8], "--note", note).stdout
        assert "reported; verified by alpha.test" in out and "[red]twice[/red]" in out
        assert "\x1b" not in out
        for bad in (["--reason", "256"], ["--note", "é" * 1000]):  # MIMI 5.9's limits
            refused = accord(alice, "report", "trail", sent["id"][:8], *bad, check=False)
            assert refused.returncode != 0, bad
        listed = json.loads(accord(None, "admin", *admin_store(data), "reports", "--json").stdout)
        assert [(r["reporter"], r["alleged_sender"], r["text"], r["reason"], r["note"])
                for r in listed] == [
            ("alice@alpha.test", "bob@alpha.test", "you will regret this", 4, note),
            ("alice@alpha.test", "bob@alpha.test", "you will regret this", 0, note)]
        shown = accord(None, "admin", *admin_store(data), "reports").stdout
        assert "reason 4" in shown and "[red]twice[/red]" in shown and "\x1b" not in shown
        accord(None, "admin", *admin_store(data), "suspend", "bob@alpha.test", "--reason", "threats")
        # the session is refused; a hidden-sender post carries no session, so only
        # removing bob from the group stops his posts (docs/PRIVACY.md, issue 18)
        refused = accord(bob, "read", "trail", check=False)
        assert refused.returncode == 1 and "suspended" in refused.stderr + refused.stdout
        accord(None, "admin", *admin_store(data), "lift", "bob@alpha.test")

        # backup with the provider; restore into a new profile with the key only
        made = js(alice, "backup", "create", "--provider")
        key = made["recovery_key"]
        human = accord(alice, "backup", "create", "--to", str(tmp_path / "a.bak")).stdout
        assert "Recovery key (shown once" in human
        wrong = accord(tmp_path / "x", "backup", "restore", "--server", server.url,
                       "--recovery-key", "0" * 36, check=False)
        assert wrong.returncode != 0
        restored = js(tmp_path / "alice2", "backup", "restore", "--server", server.url,
                      "--recovery-key", key, "--yes")
        assert restored["account"] == "alice@alpha.test" and restored["messages"] >= 1
        found = js(tmp_path / "alice2", "search", "regret")
        assert [h["text"] for h in found] == ["you will regret this"]

        # export, then delete
        export = js(bob, "account", "export")
        assert export["account"] == "bob@alpha.test" and export["tables"]["devices"]
        gone = js(bob, "account", "delete", "--yes")
        assert gone["erased"]["accounts"] == 1
        # the deleted account's device still reads its history, offline (issue 19)
        after = accord(bob, "read", "trail", "--json", "--no-receipts")
        assert "you will regret this" in after.stdout
        assert "this device was removed" in after.stderr
        sent = accord(bob, "send", "trail", "hello?", check=False)
        assert sent.returncode == 1 and "this device was removed" in sent.stderr
        assert key not in (tmp_path / "srv.log").read_text()
    finally:
        server.stop()
