"""issue 19: a command reuses the provider session the last one saved in the profile
(no login round trips), logs in anew when it is about to expire, and recovers from a
token the provider no longer accepts."""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path

from accord.client.device_core import SESSION_KEY, SESSION_MARGIN_MS
from accord.client.store import ProfileStore
from tests.e2e import helpers

PASSPHRASE = "session reuse passphrase"
accord = functools.partial(helpers.accord, passphrase=PASSPHRASE)


def saved(profile: Path, change: dict[str, object] | None = None) -> dict[str, object]:
    store = ProfileStore.open(profile, PASSPHRASE)
    try:
        session = store.get_json(SESSION_KEY)
        if change:
            session = {**session, **change}
            with store.transaction():
                store.put_json(SESSION_KEY, session)
        return dict(session)
    finally:
        store.lock()


def test_commands_reuse_the_saved_session(server, tmp_path) -> None:
    alice = tmp_path / "alice"
    accord(alice, "init")
    accord(alice, "register", f"sess{os.urandom(3).hex()}@alpha.test", "--server", server.url)
    accord(alice, "chat", "list")
    first = saved(alice)
    assert first["server"] == server.url and first["expires_at"] > time.time() * 1000
    accord(alice, "chat", "list")
    assert saved(alice)["token"] == first["token"]  # no new login

    # about to expire: a new login, a new saved token
    saved(alice, {"expires_at": int(time.time() * 1000) + SESSION_MARGIN_MS // 2})
    accord(alice, "chat", "list")
    renewed = saved(alice)
    assert renewed["token"] != first["token"]

    # a token the provider refuses (revoked, restarted provider): one login, then on
    saved(alice, {"token": "not-a-session"})
    assert accord(alice, "chat", "list", "--json").stdout.strip() == "[]"
    assert saved(alice)["token"] not in ("not-a-session", renewed["token"])
