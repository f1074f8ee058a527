"""A real provider process on 127.0.0.1 per test module, always stopped; ``pair``: two
registered devices on it (ann and ben) and the test clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import Clock, fresh_account, new_device
from tests.local_provider import server  # noqa: F401 (the fixture)


@pytest.fixture
async def pair(server: Any, tmp_path: Path) -> AsyncIterator[tuple[Any, ...]]:  # noqa: F811
    clock = Clock()
    devs = [await new_device(tmp_path / n, fresh_account(n), server.url, clock) for n in ("ann", "ben")]
    yield (*devs, clock)
    for d in devs:
        await d.disconnect()
