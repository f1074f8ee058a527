"""T16: strings only a malicious provider or credential can carry (controls, escape
sequences, bidi overrides in a sender's name, a device id, an error text) reach the
terminal as inert text. The content rules refuse them inside messages; these
names come from elsewhere, so the CLI's printing must hold on its own."""

from __future__ import annotations

import pytest

from accord.cli import client_common
from accord.cli.message_cmd import print_timeline
from accord.cli.safe_text import CONTINUATION, plain
from accord.client.mls_session import split_identity
from accord.errors import NotFound, ValidationError

HOSTILE = [
    "[/x]@evil.test",
    "\x1b]8;;https://evil.example/\x1b\\bank\x1b]8;;\x1b\\@evil.test",  # OSC 8 hyperlink
    "\x1b[2J\x1b[1;1Hcleared@evil.test",  # CSI: clear the screen
    "\u009b31mred@evil.test",  # C1 CSI
    "bob\u202e@evil.test\u202c",  # bidi override
    "bob\u2066@evil.test",
    "bob\r@evil.test",  # carriage return: overprint the line
    "a\nfake line@evil.test",
    "bob\u200b@beta.test",  # looks like bob@beta.test
    "\x07\x08\x7f@evil.test",
]
# Characters no output may contain (the newline only ends a printed line).
FORBIDDEN = [chr(c) for c in range(0x20) if chr(c) != "\n"] + [
    "\x7f", "\u009b", "\u202e", "\u202c", "\u2066", "\u2028", "\u200b"]


def _item(name: str) -> dict[str, object]:
    return {"type": "message", "id": "ab" * 16, "short_id": "abababab", "at": 0,
            "sender": name, "text": name, "reply_to": None, "deleted": False,
            "edited": False, "read_by": [], "reactions": {name: [name]},
            "attachments": [{"file_name": name, "size": 1}]}


@pytest.mark.parametrize("name", HOSTILE)
def test_T16_hostile_names_print_as_inert_text(name: str, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_common.console, "width", 1000)
    conv = {"name": name, "conv_id": name}
    event = {"type": "event", "at": 0, "kind": "member_added", "by": name, "account": name,
             "device": name}
    print_timeline(conv, [_item(name), event])
    out = capsys.readouterr().out
    for ch in FORBIDDEN:
        assert ch not in out.replace("\n", ""), repr(ch)
    assert out.count(plain(name)) >= 5, out  # name, sender, text, file, reaction, event
    # The title, the message, the event: a message's own second line is marked.
    lines = [x for x in out.splitlines() if not x.startswith(CONTINUATION[1:])]
    assert len(lines) == 3, out


@pytest.mark.parametrize("name", HOSTILE)
def test_T16_error_texts_print_as_inert_text(name: str, capsys: pytest.CaptureFixture[str]
                                             ) -> None:
    async def fail() -> None:
        raise NotFound(f"no such account {name}")

    with pytest.raises(SystemExit):
        client_common.run(fail())
    err = capsys.readouterr().err
    assert plain(name) in err
    for ch in FORBIDDEN:
        assert ch not in err.rstrip("\n"), repr(ch)


@pytest.mark.parametrize("name", HOSTILE)
def test_T16_a_credential_with_a_hostile_name_is_refused(name: str) -> None:
    """The name shown for a member comes from its credential: only the wire syntax
    of an account and a device id is accepted there."""
    device = "A" * 22
    assert split_identity(f"alice@alpha.test/{device}".encode()) == ("alice@alpha.test", device)
    for identity in (f"{name}/{device}", f"alice@alpha.test/{name}"):
        with pytest.raises(ValidationError) as refused:
            split_identity(identity.encode())
        assert refused.value.rule == "RFC 9420 5.3"
