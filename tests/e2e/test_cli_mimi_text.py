"""`accord send --markdown --topic` (issue 22): the text goes out as MIMI content of type
text/markdown;variant=GFM-MIMI in that topic, and `accord read --json` shows both."""

from __future__ import annotations

import asyncio
import json
import os

from tests.e2e.helpers import Clock, new_device, run_cli


async def _alice(server, tmp_path, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    dev = await new_device(tmp_path / "alice", f"alice{os.urandom(3).hex()}@alpha.test",
                           server.url, clock)
    await dev.disconnect()
    dev.close()


def test_send_markdown_in_a_topic_reads_back(server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(_alice(server, tmp_path, Clock()))
    alice = tmp_path / "alice"
    assert run_cli(alice, "chat", "new", "notes").returncode == 0
    sent = run_cli(alice, "send", "notes", "**bold** move", "--markdown", "--topic", "plans")
    assert sent.returncode == 0, sent.stderr
    plain = run_cli(alice, "send", "notes", "plain words")
    assert plain.returncode == 0, plain.stderr
    bad = run_cli(alice, "send", "notes", "x", "--markdown", "--file", __file__)
    assert bad.returncode != 0 and "for texts" in bad.stderr
    out = run_cli(alice, "read", "notes", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    items = doc["items"] if isinstance(doc, dict) else doc
    texts = {i["text"]: i for i in items if i.get("type") == "message"}
    marked, other = texts["**bold** move"], texts["plain words"]
    assert (marked["markdown"], marked["topic"], marked["kind"]) == (True, b"plans".hex(), "text")
    assert (other["markdown"], other["topic"]) == (False, None)
