"""A long conversation is shown a page at a time, newest first (the web app, issue 20)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from accord.client.history import timeline, timeline_page
from accord.client.store import KdfParams, ProfileStore, StoredMessage

CHEAP = KdfParams(time_cost=1, memory_kib=8 * 1024, parallelism=1)


def _msg(n: int) -> StoredMessage:
    return StoredMessage(n.to_bytes(16, "big"), "c1", "bob@x.test", "d", 1000 + n, 1000 + n,
                         "text", f"m{n}", None, False, False, None, {})


def test_pages_go_back_from_the_newest_and_keep_events_in_place(tmp_path: Path) -> None:
    store = ProfileStore.create(tmp_path / "p", "pass", CHEAP)
    store.add_conversation("c1", b"g", "chat", "group", 0, {})
    store.add_event("c1", 1, "created", {"by": "bob@x.test"})
    for n in range(250):
        store.add_message(_msg(n))
        if n == 120:
            store.add_event("c1", 2000, "member_added", {"account": "carol@x.test"})
    dev = SimpleNamespace(store=store)
    conv = {"conv_id": "c1"}
    whole = timeline(dev, conv, 100_000)  # type: ignore[arg-type]

    first = timeline_page(dev, conv, 100)  # type: ignore[arg-type]
    assert first["more"]
    assert [i["text"] for i in first["items"]] == [f"m{n}" for n in range(150, 250)]
    second = timeline_page(dev, conv, 100, first["first_seq"])  # type: ignore[arg-type]
    third = timeline_page(dev, conv, 100, second["first_seq"])  # type: ignore[arg-type]
    assert second["more"] and not third["more"]
    drop_seq = [{k: v for k, v in i.items() if k != "seq"}
                for p in (third, second, first) for i in p["items"]]
    assert drop_seq == whole  # the pages together are the whole timeline, in its order
