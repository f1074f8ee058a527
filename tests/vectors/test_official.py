"""Every entry of every official MLS test-vector file passes (RFC 9420 interop evidence)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from accord.cli.vectors_cmd import run_file

FOLDER = Path(os.environ.get("ACCORD_MLS_VECTORS", Path(__file__).parent / "mls"))
FILES = sorted(FOLDER.glob("*.json"))


def test_vector_folder_is_complete() -> None:
    names = {p.name for p in FILES}
    for expected in [
        "tree-math.json", "crypto-basics.json", "secret-tree.json", "message-protection.json",
        "key-schedule.json", "psk_secret.json", "transcript-hashes.json", "deserialization.json",
        "messages.json", "welcome.json", "tree-operations.json", "tree-validation.json",
        "treekem.json",
    ]:
        assert expected in names


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_official_vector_file(path: Path) -> None:
    passed, failed, messages = run_file(path, None, verbose=True)
    assert failed == 0, "\n".join(messages[:10])
    assert passed > 0
