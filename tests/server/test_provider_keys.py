"""The provider's long-term keys are the provider's, not a node's (issue 23).

On PostgreSQL every node, whatever its data folder, loads one signing key,
one franking key and one transparency index key from the database; the
first node to start makes them, and a folder's key files from before are
what is kept. On SQLite (one node) they stay key files (tests/server/test_at_rest.py).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from tests.harness import ServerProcess, SimDevice
from tests.pg import create_database, drop_database
from tests.server.cluster import services_or_skip
from tests.server.test_transparency import Kv

from accord.client.keycheck import KeyChecker, KtHttp
from accord.errors import ValidationError
from accord.federation import provider_key
from accord.federation.provider_key import key_path, load_or_create, load_or_create_secret
from accord.privacy import server_frank
from accord.storage.areas import Secrets
from accord.storage.engine import PostgresEngine
from accord.wire import decode
from accord.wire.federation import WellKnown

pytestmark = pytest.mark.pg


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    admin, _ = services_or_skip()
    url, name = await create_database(admin)
    try:
        yield url
    finally:
        await drop_database(admin, name)


@pytest.fixture
async def engine(pg_url: str) -> AsyncIterator[PostgresEngine]:
    from accord.storage import SqlStore

    store = await SqlStore(PostgresEngine(pg_url)).open()  # the schema, provider_secrets too
    try:
        yield store.engine  # type: ignore[misc]
    finally:
        await store.close()


async def test_nodes_with_separate_empty_folders_load_one_set_of_keys(
        engine: PostgresEngine, tmp_path: Path) -> None:
    # Two nodes starting at once each offer their own keys; one set wins for both.
    a, b = await asyncio.gather(provider_key.load(tmp_path / "a", Secrets(engine)),
                                provider_key.load(tmp_path / "b", Secrets(engine)))
    assert a.signing.public == b.signing.public
    assert a.franking == b.franking and a.index == b.index
    assert len({a.franking, a.index, a.signing.raw()}) == 3
    commitment = secrets.token_bytes(32)
    ctx = server_frank.context(None, "mimi://a.test/r/x", 1)
    assert server_frank.server_frank(a.franking, commitment, ctx) == \
        server_frank.server_frank(b.franking, commitment, ctx)
    # A third node, later: the same keys; no node wrote a key file.
    c = await provider_key.load(tmp_path / "c", Secrets(engine))
    assert (c.signing.public, c.franking, c.index) == (a.signing.public, a.franking, a.index)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))
    assert a.signing.raw().hex() not in repr(a) and a.franking.hex() not in repr(a)


async def test_the_first_folder_keys_move_into_the_database_and_a_stale_copy_is_ignored(
        engine: PostgresEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A provider that copied the first node's keys to every node keeps them on upgrade."""
    old = tmp_path / "old"
    signing = load_or_create(old)
    franking = load_or_create_secret(old, provider_key.FRANKING)
    index = provider_key.load_index_key(old)
    moved = await provider_key.load(old, Secrets(engine))
    assert (moved.signing.public, moved.franking, moved.index) == (signing.public, franking, index)
    # A node whose folder made its own key (the bug this fixes) takes the provider's.
    stale = tmp_path / "stale"
    load_or_create(stale)
    with caplog.at_level(logging.WARNING, logger="accord.federation.provider_key"):
        other = await provider_key.load(stale, Secrets(engine))
    assert other.signing.public == signing.public
    assert str(key_path(stale)) in caplog.text
    secret = key_path(stale).read_bytes()
    assert secret.hex() not in caplog.text and signing.raw().hex() not in caplog.text


async def _well_known(url: str) -> WellKnown:
    async with httpx.AsyncClient(base_url=url) as http:
        return decode(WellKnown, (await http.get("/.well-known/accord")).json())


async def _checked(kv: Kv, node: ServerProcess, account: str, key: bytes, now: int) -> None:
    """A peer checks ``account``'s key through ``node`` with what it pinned before."""
    kt = KtHttp(node.url, "alpha.test")
    try:
        await KeyChecker(kv, kt).verify_device_key(account, key, now)
    finally:
        await kt.close()


async def test_two_nodes_on_one_fresh_database_are_one_provider(pg_url: str,
                                                                tmp_path: Path) -> None:
    """Separate empty data folders, no copying: one provider key at /.well-known/accord,
    and heads from either node that a peer verifies with that key, before and after
    a restart."""
    _, nats_url = services_or_skip()
    nodes = [ServerProcess(tmp_path / name, database=pg_url, bus=nats_url,
                           rate_limit_scale=50) for name in ("a", "b")]
    try:
        for node in nodes:
            node.start()
        docs = [await _well_known(n.url) for n in nodes]
        assert docs[0].signing_key == docs[1].signing_key
        async with httpx.AsyncClient(base_url=nodes[0].url) as http_a, \
                httpx.AsyncClient(base_url=nodes[1].url) as http_b:
            alice = await SimDevice(http_a, "alice@alpha.test").register()
            bob = await SimDevice(http_b, "bob@alpha.test").register()
        peer, now = Kv(), 1_800_000_000_000
        # Each node's head and lookup proofs, checked with the one key the peer pinned;
        # each node finds the account the other logged (one index key).
        await _checked(peer, nodes[0], bob.account, bob.public, now)
        await _checked(peer, nodes[1], alice.account, alice.public, now + 1)
        for node in nodes:
            node.stop()
        for node in reversed(nodes):
            node.start()
        assert (await _well_known(nodes[1].url)).signing_key == docs[0].signing_key
        await _checked(peer, nodes[1], bob.account, bob.public, now + 2)
        await _checked(peer, nodes[0], alice.account, alice.public, now + 3)
    finally:
        for node in nodes:
            node.stop()


# --- --key-file: the keys sealed in the database -----------------------------------------

async def _rows(engine: PostgresEngine) -> dict[str, bytes]:
    async with engine.read() as tx:
        rows = await tx.fetchall("SELECT name, value FROM provider_secrets")
    return {name: bytes(value) for name, value in rows}


def _key_file(path: Path) -> Path:
    path.write_bytes(secrets.token_bytes(32))
    path.chmod(0o600)
    return path


async def test_with_a_key_file_the_database_holds_the_keys_only_sealed(
        engine: PostgresEngine, tmp_path: Path) -> None:
    kek = secrets.token_bytes(32)
    a = await provider_key.load(tmp_path / "a", Secrets(engine), kek)
    rows = await _rows(engine)
    assert set(rows) == {provider_key.SIGNING, provider_key.FRANKING, provider_key.INDEX}
    for secret in (a.signing.raw(), a.franking, a.index):
        assert not any(secret in value for value in rows.values())
    assert all(value.startswith(provider_key.SEALED) for value in rows.values())
    b = await provider_key.load(tmp_path / "b", Secrets(engine), kek)  # another node, same key file
    assert (b.signing.public, b.franking, b.index) == (a.signing.public, a.franking, a.index)
    with pytest.raises(ValidationError, match="--key-file"):
        await provider_key.load(tmp_path / "c", Secrets(engine))  # a node without it
    with pytest.raises(ValidationError, match="another --key-file"):
        await provider_key.load(tmp_path / "c", Secrets(engine), secrets.token_bytes(32))


async def test_a_sealed_row_is_bound_to_its_name(engine: PostgresEngine, tmp_path: Path) -> None:
    # An operator (or attacker) swapping two sealed rows does not swap the keys.
    kek = secrets.token_bytes(32)
    await provider_key.load(tmp_path, Secrets(engine), kek)
    rows = await _rows(engine)
    async with engine.transaction() as tx:
        await tx.execute("UPDATE provider_secrets SET value = ? WHERE name = ?",
                         rows[provider_key.INDEX], provider_key.FRANKING)
    with pytest.raises(ValidationError, match="another --key-file"):
        await provider_key.franking_key(tmp_path, Secrets(engine), kek)


async def test_keys_filed_unsealed_before_are_sealed_in_place(
        engine: PostgresEngine, tmp_path: Path) -> None:
    before = await provider_key.load(tmp_path / "a", Secrets(engine))  # an older provider: no key file
    kek = secrets.token_bytes(32)
    after = await provider_key.load(tmp_path / "b", Secrets(engine), kek)
    assert (after.signing.public, after.franking, after.index) == (
        before.signing.public, before.franking, before.index)
    rows = await _rows(engine)
    assert all(value.startswith(provider_key.SEALED) for value in rows.values())
    assert not any(before.franking in value for value in rows.values())


async def test_nodes_start_with_the_key_file_and_not_without_it(pg_url: str,
                                                                tmp_path: Path) -> None:
    kek = _key_file(tmp_path / "provider.kek")
    node = ServerProcess(tmp_path / "a", database=pg_url, extra_args=("--key-file", str(kek)))
    try:
        node.start()
        key = (await _well_known(node.url)).signing_key
    finally:
        node.stop()
    again = ServerProcess(tmp_path / "b", database=pg_url, extra_args=("--key-file", str(kek)))
    try:
        again.start()
        assert (await _well_known(again.url)).signing_key == key
    finally:
        again.stop()
    without = ServerProcess(tmp_path / "c", database=pg_url)
    with pytest.raises(RuntimeError, match="--key-file"):
        without.start()
    without.stop()


def test_a_key_file_needs_postgresql(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from accord.cli.main import cli

    kek = _key_file(tmp_path / "provider.kek")
    result = CliRunner().invoke(cli, ["server", "--data", str(tmp_path / "d"), "--domain",
                                      "alpha.test", "--key-file", str(kek)])
    assert result.exit_code == 2 and "PostgreSQL" in result.output


async def test_mimi_check_signs_with_the_key_sealed_in_postgresql_given_its_key_file(
        engine: PostgresEngine, pg_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``accord mimi check --provider-data --provider-database`` signs its probes with the
    provider's key sealed with ``--key-file`` when given that file; without it, or with
    another, it stops with a clear error (exit 1) and probes nothing."""
    from click.testing import CliRunner, Result
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from accord.cli import mimi_cmd
    from accord.cli.main import cli
    from accord.interop.mimi_check import Signer

    kek = _key_file(tmp_path / "provider.kek")
    keys = await provider_key.load(tmp_path / "node", Secrets(engine), kek.read_bytes())
    signers: list[Signer | None] = []

    async def probes(url: str, http: httpx.AsyncClient, *, domain: str | None = None,
                     signer: Signer | None = None) -> list[mimi_cmd.Finding]:
        signers.append(signer)
        return []

    monkeypatch.setattr(mimi_cmd, "check", probes)
    (tmp_path / "tool").mkdir()

    def run(*extra: str) -> Result:
        return CliRunner().invoke(cli, [
            "mimi", "check", "https://beta.test", "--sign-as", "alpha.test",
            "--provider-data", str(tmp_path / "tool"), "--provider-database", pg_url, *extra])

    ok = await asyncio.to_thread(run, "--key-file", str(kek))
    assert ok.exit_code == 0, ok.output
    [signer] = signers
    assert signer is not None and signer.domain == "alpha.test"
    Ed25519PublicKey.from_public_bytes(keys.signing.public).verify(signer.sign(b"probe"),
                                                                   b"probe")
    other = _key_file(tmp_path / "other.kek")
    for extra, words in (((), "sealed in the database"), ((), "(pass its --key-file)"),
                         (("--key-file", str(other)), "sealed with another --key-file")):
        refused = await asyncio.to_thread(run, *extra)
        assert refused.exit_code == 1, refused.output
        assert "cannot read alpha.test's signing key" in refused.output
        assert words in refused.output
    assert len(signers) == 1
