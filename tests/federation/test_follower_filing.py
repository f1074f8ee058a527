"""A follower files a hub's batch whole or not at all, the hub's evidence included
(issue 17, T07, T13): a chain link or franking tag never outlives a refused batch.

A real store and the real follower code (``follower.deliver``), no network: the
batch is handed over as the signed route would after authentication.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest

from accord.errors import ValidationError
from accord.federation import follower
from accord.federation.provider_key import ProviderKey
from accord.federation.service import Federation, FederationConfig
from accord.server.state import Provider, ServerConfig
from accord.storage import DeviceRecord, open_store
from accord.storage import privacy_sql as sql
from accord.wire import b64e
from accord.wire import federation as fw


@pytest.fixture
async def fed(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = await open_store(tmp_path)
    provider = Provider(ServerConfig(domain="alpha.test", data_dir=tmp_path), store)
    never = httpx.MockTransport(lambda request: httpx.Response(503))
    federation = Federation(provider, ProviderKey.generate(), FederationConfig("alpha.test"),
                            never)
    provider.federation = federation
    try:
        yield federation
    finally:
        await federation.close()
        await store.close()


def _item(kind: str, gid: bytes, recipients: list[str], roster: list[tuple[str, str]] | None,
          **extra: object) -> fw.FedItem:
    return fw.FedItem(
        msg_id=secrets.token_urlsafe(16), kind=kind, group_id=gid, epoch=0, body=b"mls",
        created_at=1, recipients=recipients, sender="b" * 22, sender_account="bob@beta.test",
        roster=None if roster is None else [fw.FedDevice(d, dom) for d, dom in roster],
        group_epoch=None if roster is None else 1, **extra)  # type: ignore[arg-type]


async def test_T07_a_refused_batch_files_no_chain_link_nor_tag(fed: Federation) -> None:
    me = DeviceRecord(b64e(secrets.token_bytes(16)), "alice@alpha.test", b"A" * 32, 1)
    await fed.provider.store.create_account(me)
    gid = secrets.token_bytes(16)
    roster = [(me.device_id, "alpha.test"), ("b" * 22, "beta.test")]
    commit = _item("commit", gid, [me.device_id], roster, chain_seq=0, chain=b"C" * 32)
    app = _app(gid, me.device_id)
    stray = _item("proposal", gid, ["not-a-member-here"], None)
    with pytest.raises(ValidationError, match="not a member device hosted here"):
        await follower.deliver(fed, "beta.test", fw.FedDeliver([commit, app, stray]), 1)
    engine = fed.provider.store.engine  # type: ignore[attr-defined]
    assert await sql.chains_for(engine, [commit.msg_id]) == {}
    assert not await sql.tag_filed(engine, b"T" * 32)
    # the same items without the stray one are filed, with their evidence
    result = await follower.deliver(fed, "beta.test", fw.FedDeliver([commit, app]), 1)
    assert (result.accepted, result.duplicates) == (2, 0)
    assert await sql.chains_for(engine, [commit.msg_id]) == {commit.msg_id: (0, b"C" * 32)}
    assert await sql.tag_filed(engine, b"T" * 32)


def _app(gid: bytes, device_id: str) -> fw.FedItem:
    return fw.FedItem(msg_id=secrets.token_urlsafe(16), kind="application", group_id=gid,
                      epoch=0, body=b"mls", created_at=1, recipients=[device_id],
                      frank=b"T" * 32)
