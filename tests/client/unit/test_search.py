"""issue 19: search by prefix, snippets with the match highlighted after escaping,
conversations named unambiguously."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from accord.cli.account_cmd import highlighted
from accord.client.search import chat_label, snippet
from accord.client.store import KdfParams, ProfileStore, StoredMessage

CHEAP = KdfParams(time_cost=1, memory_kib=8 * 1024, parallelism=1)


def _msg(i: int, body: str, sender: str = "bob@alpha.test") -> StoredMessage:
    return StoredMessage(i.to_bytes(16, "big"), "c1", sender, "d1", 1000 + i, 1000 + i, "text",
                         body, None, False, False, None, {})


def test_every_word_is_a_prefix_newest_first_and_senders_are_a_set(tmp_path: Path) -> None:
    store = ProfileStore.create(tmp_path, "pw", CHEAP)
    store.add_message(_msg(1, "the hiking trip"))
    store.add_message(_msg(2, "Hikers welcome", sender="carol@alpha.test"))
    store.add_message(_msg(3, "a hike at dawn", sender="dan@alpha.test"))
    assert [m.body for m in store.search("hik")] == [
        "a hike at dawn", "Hikers welcome", "the hiking trip"]
    assert [m.body for m in store.search("hik tr")] == ["the hiking trip"]
    assert [m.body for m in store.search("hik", sender=["carol@alpha.test",
                                                        "bob@alpha.test"])] == [
        "Hikers welcome", "the hiking trip"]
    assert store.search("hik", sender=[]) == []
    assert store.search("NEAR(") == []


def test_snippet_spans_cover_the_prefix_matches_and_fold_case_and_accents() -> None:
    text, spans = snippet("Café  CAFETERIA\nand cafés elsewhere", ["caf"])
    assert text == "Café CAFETERIA and cafés elsewhere"
    assert [text[a:b] for a, b in spans] == ["Café", "CAFETERIA", "cafés"]
    long = "x " * 100 + "needle here " + "y " * 100
    text, spans = snippet(long, ["need"])
    assert text.startswith("…") and text.endswith("…") and len(text) <= 82
    assert [text[a:b] for a, b in spans] == ["needle"]


def test_highlight_escapes_peer_text_before_marking_the_match() -> None:
    body = "[bold]fake[/bold] \\hello \\[reverse] [link=https://evil.example/]x[/link]"
    text, spans = snippet(body, ["hel"])
    markup = highlighted(text, spans)
    console = Console(record=True, width=200, force_terminal=True, color_system="standard",
                      highlight=False)
    console.print(markup)
    shown_text = console.export_text(clear=False)
    assert "[bold]fake[/bold]" in shown_text and "[link=https://evil.example/]x[/link]" in shown_text
    assert "\\hello \\[reverse]" in shown_text
    # exactly one highlighted run (reverse video, SGR 7), around the match only
    ansi = console.export_text(styles=True)
    assert ansi.count("\x1b[7m") == 1 and "\x1b[7mhello\x1b[0m" in ansi


def test_chat_label_uses_an_id_prefix_long_enough_to_tell_same_titles_apart() -> None:
    titles = {"abcdef0123456789": "team", "abcdef0999999999": "team", "1234560000000000": "x"}
    assert chat_label(titles, "abcdef0123456789") == "team (abcdef01)"
    assert chat_label(titles, "1234560000000000") == "x (123456)"
