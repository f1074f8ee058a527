"""A key/value store in memory with the profile's JSON interface (``alerts.KvStore``)."""

from __future__ import annotations

import json
from typing import Any


class Kv:
    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def get_json(self, key: str, default: Any = None) -> Any:
        raw = self.data.get(key)
        return default if raw is None else json.loads(raw)

    def put_json(self, key: str, value: Any) -> None:
        self.data[key] = json.dumps(value)  # a copy, as the profile keeps it
