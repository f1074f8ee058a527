"""Look at what a provider stores, from the outside (demo and T02 evidence).

Reads the embedded SQLite file read-only and walks the blob folder; it
never asks the provider. ``find_needles`` scans every byte of the data
folder (database, WAL, blobs) for given byte strings, also in the
encodings a server might use (base64, base64url, hex).
"""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path
from typing import Any

DB_NAME = "provider.sqlite3"


def group_messages(data_dir: Path, group_id: bytes) -> list[dict[str, Any]]:
    """The provider's rows for one group's messages (what it could show anyone)."""
    db = sqlite3.connect(f"file:{data_dir / DB_NAME}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT kind, epoch, sender, body, created_at FROM messages WHERE group_id = ? "
            "ORDER BY created_at", (group_id,)).fetchall()
    finally:
        db.close()
    return [{"kind": r[0], "epoch": r[1], "sender": r[2], "size": len(r[3]),
             "head": bytes(r[3][:24]).hex()} for r in rows]


def table_counts(data_dir: Path) -> dict[str, int]:
    db = sqlite3.connect(f"file:{data_dir / DB_NAME}?mode=ro", uri=True)
    try:
        names = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {n: db.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        db.close()


def _forms(needle: bytes) -> list[bytes]:
    forms = [needle, needle.hex().encode()]
    # Inside a longer base64 value the needle starts at some offset mod 3;
    # for the k that realigns it, needle[k:] (cut to whole 3-byte groups)
    # appears verbatim in the encoding.
    for k in range(3):
        chunk = needle[k:]
        chunk = chunk[: len(chunk) // 3 * 3]
        if len(chunk) >= 6:
            forms += [base64.b64encode(chunk), base64.urlsafe_b64encode(chunk)]
    return [f for f in forms if len(f) >= 4]


def find_needles(data_dir: Path, needles: list[bytes]) -> list[tuple[str, int]]:
    """``(file, needle index)`` for every needle found anywhere under ``data_dir``."""
    hits = []
    forms = [(_forms(n), i) for i, n in enumerate(needles)]
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for variants, i in forms:
            if any(v in data for v in variants):
                hits.append((str(path.relative_to(data_dir)), i))
    return hits
