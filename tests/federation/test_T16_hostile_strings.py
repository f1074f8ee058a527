"""T16 on the terminal: what a peer-controlled string may do is be read.

mallory (alpha.test) is a stranger to victim (beta.test). Everything mallory
controls (the texts of her messages, an edit, the conversation's name, a
file name, a reaction) is hostile Rich markup or terminal spoofing. The
victim drives the real CLI (separate processes, two live providers) through
every command that prints peer data: each command succeeds, and shows each
hostile string as the literal text it is (never as markup, a link, hidden
text or a fake line).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from accord.cli.safe_text import CONTINUATION, plain
from tests.e2e import helpers
from tests.e2e.helpers import Listener
from tests.federation.providers import Provider
from tests.timing import wait_until_sync

CLI_TIMEOUT_S = 90
# What the content rules let through (controls and bidi overrides are refused when a
# message is decoded, T16): markup, a fake second line, emoji codes, backslashes.
TEXTS = [
    "[/x]",
    "[/]",
    "[bold red]SECURITY ALERT: keys verified[/bold red]",
    "[link=https://evil.example/]your bank[/link]",
    "[conceal]invisible[/conceal] visible",
    "[@click=app.quit]x[/]",
    ":warning: :lock: not an emoji code",
    "ends with a backslash \\",
    "\\[bold]escaped?[/bold]",
    "first line\n  2026-01-01 00:00 deadbeef bob@beta.test: a fake message",
]
NAME = "[/x][link=https://evil.example/]team[/link] :lock:"
# The first message, whose line is the sealed first-contact preview (issue 18)
PREVIEW = "[/x][bold red]SECURITY ALERT[/bold red] [link=https://evil.example/]bank[/link]"
FILE_NAME = "[conceal]invoice :zap:.pdf"  # no "/" or "\\": a file name is never a path
EMOJI = "[/x]:smile:"
# Characters no command may ever print (controls, bidi, line separators).
FORBIDDEN = [chr(c) for c in range(0x20) if chr(c) != "\n"] + [
    "\x7f", "\u009b", "\u202e", "\u2066", "\u2028"]


PASSPHRASE = "hostile pass"
accord = functools.partial(helpers.accord, passphrase=PASSPHRASE, columns=1000,
                           timeout=CLI_TIMEOUT_S)
js = functools.partial(helpers.accord_json, passphrase=PASSPHRASE, columns=1000,
                       timeout=CLI_TIMEOUT_S)


def until(check: Any) -> Any:
    """What crosses providers takes a moment: wait for it (bounded)."""
    return wait_until_sync(check, 60, "the hostile strings arriving", poll_s=0.5)


def shows(out: str, text: str, command: str) -> None:
    """``text`` appears literally in ``out``, and nothing unsafe was printed."""
    want = plain(text, multiline=True)
    assert want in out, (command, text, out)
    for ch in FORBIDDEN:
        assert ch not in out, (command, repr(ch))


def test_T16_hostile_strings_through_every_command(
        providers: dict[str, Provider], tmp_path: Path) -> None:
    tag = os.urandom(3).hex()
    mallory, victim = tmp_path / "mallory", tmp_path / "victim"
    m_acct, v_acct = f"mallory{tag}@alpha.test", f"victim{tag}@beta.test"
    for profile, acct, prov in ((mallory, m_acct, "alpha"), (victim, v_acct, "beta")):
        accord(profile, "init")
        accord(profile, "register", acct, "--server", providers[prov].url)

    accord(mallory, "chat", "new", "plan", v_acct, "--message", PREVIEW)
    ids = [js(mallory, "send", "plan", text)["id"] for text in TEXTS]

    # A stranger's first contact (issue 18: markup made `requests` crash): its items
    # wait unread until the accept; the list shows the sender, the sealed request's
    # preview and how much waits.
    until(lambda: [r for r in js(victim, "requests", "list")
                   if r["waiting"] >= len(TEXTS) and r["previews"] == [PREVIEW]])
    out = accord(victim, "requests", "list").stdout
    shows(out, m_acct, "requests list")
    shows(out, PREVIEW, "requests list")
    accord(victim, "requests", "accept", m_acct)

    f = tmp_path / FILE_NAME
    f.write_bytes(b"%PDF-1.4 hostile\n")
    accord(mallory, "chat", "rename", "plan", NAME)
    accord(mallory, "send", NAME, "see file", "--file", str(f))
    accord(mallory, "react", NAME, ids[0][:8], EMOJI)
    accord(mallory, "edit", NAME, ids[1][:8], TEXTS[2])
    conv = until(lambda: [c for c in js(victim, "chat", "list") if c["name"] == NAME])[0]
    cid = conv["id"]
    until(lambda: any(r == {EMOJI: [m_acct]} for r in
                      (i.get("reactions") for i in js(victim, "read", cid, "--no-receipts")
                       ["items"])))

    read = accord(victim, "read", cid, "--no-receipts").stdout
    for text in [*TEXTS, NAME, f"[file {FILE_NAME}", f"{EMOJI} by"]:
        shows(read, text, "read")
    assert CONTINUATION + "  2026-01-01 00:00 deadbeef" in read  # the fake line is marked
    # search shows one-line snippets: a text's lines are joined, so no fake line starts.
    found = accord(victim, "search").stdout
    for text in [t for n, t in enumerate(TEXTS) if n != 1] + [NAME]:
        shows(found, " ".join(text.split()), "search")
    assert not any(line.startswith("  2026-01-01") for line in found.splitlines())
    shows(accord(victim, "chat", "list").stdout, NAME, "chat list")
    shows(accord(victim, "chat", "members", cid).stdout, m_acct, "chat members")
    info = accord(victim, "chat", "info", cid).stdout
    for text in (NAME, m_acct):
        shows(info, text, "chat info")
    shows(accord(victim, "contacts").stdout, m_acct, "contacts")

    env = dict(os.environ, ACCORD_PROFILE=str(victim), ACCORD_PASSPHRASE="hostile pass",
               COLUMNS="1000")
    listener = Listener(env, "--duration", "30", "--no-cover")
    try:
        # The listener prints what arrives after its own catch-up: send once it is ready.
        listener.wait_ready(CLI_TIMEOUT_S)
        for text in (TEXTS[0], TEXTS[-1]):
            accord(mallory, "send", NAME, text)
        out, err = listener.finish(CLI_TIMEOUT_S)
    finally:
        listener.kill()
    assert listener.proc.returncode == 0, err
    for text in (TEXTS[0], TEXTS[-1], NAME):
        shows(out, text, "listen")
