"""Searching the local archive (issue 19): prefix words, the sender by address,
nickname or display name, each hit naming its conversation unambiguously and
carrying a one-line snippet with the matched spans.

The spans are character offsets into the snippet, computed here rather than by
FTS5's ``snippet()``: markers inside the text would be indistinguishable from
the same characters sent by a peer, so the CLI escapes the snippet's pieces
first and only then puts its own highlight around the spans.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, Any

from accord.client import contacts
from accord.client import conversations as convs
from accord.client.history import message_view

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore

SNIPPET = 80  # characters around the first match
_WORD = re.compile(r"\w+")


def search(dev: DeviceCore, query: str, *, sender: str | None = None, chat: str | None = None,
           since: int | None = None, until: int | None = None,
           limit: int = 100) -> list[dict[str, Any]]:
    conv_id = convs.find(dev, chat)["conv_id"] if chat else None
    senders = contacts.resolve_person(dev, sender) if sender else None
    hits = dev.store.search(query, sender=senders, conv_id=conv_id, since=since,
                            until=until, limit=limit)
    titles = {c["conv_id"]: c["name"] for c in dev.store.conversations()}
    rows = []
    for m in hits:
        text, spans = snippet(m.body, query.split())
        rows.append(dict(message_view(m), chat=titles.get(m.conv_id, m.conv_id),
                         chat_id=m.conv_id, chat_label=chat_label(titles, m.conv_id),
                         sender_label=contacts.label(dev, m.sender),
                         snippet=text, spans=spans))
    return rows


def chat_label(titles: dict[str, str], conv_id: str) -> str:
    """``title (id prefix)``: the shortest id prefix (at least 6) that tells this
    conversation from every other one with the same title."""
    title = titles.get(conv_id, "")
    same = [c for c, t in titles.items() if t == title and c != conv_id]
    n = 6
    while n < len(conv_id) and any(c.startswith(conv_id[:n]) for c in same):
        n += 1
    return f"{title} ({conv_id[:n]})"


def _fold(text: str) -> str:
    # unicode61 matches case- and diacritic-insensitively; do the same for spans
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def snippet(body: str, words: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """One line of ``body`` around the first word starting with a query word,
    and the (start, end) of every such word in it."""
    line = " ".join(body.split())
    wanted = [_fold(t) for w in words for t in _WORD.findall(w)]
    spans = [(mt.start(), mt.end()) for mt in _WORD.finditer(line)
             if wanted and any(_fold(mt.group()).startswith(w) for w in wanted)]
    start = max(0, spans[0][0] - SNIPPET // 4) if spans else 0
    end = min(len(line), start + SNIPPET)
    cut = line[start:end]
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(line) else ""
    shift = len(prefix) - start
    inside = [(a + shift, min(b, end) + shift) for a, b in spans if a < end and a >= start]
    return prefix + cut + suffix, inside
