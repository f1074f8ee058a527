"""At rest: the provider's data folder and a device profile are their owner's only;
on one node (SQLite) the hub's franking key is a key file next to the provider's
signing key, not a row (several nodes on PostgreSQL: tests/server/test_provider_keys.py)."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

import httpx
import pytest
from tests.harness import ServerProcess, SimDevice

from accord.client.store import DB_NAME, META_NAME, KdfParams, ProfileStore
from accord.errors import ValidationError
from accord.federation import franking
from accord.federation.provider_key import secret_path
from accord.storage import SqlStore
from accord.storage import privacy_sql as sql
from accord.storage.engine import SqliteEngine

FAST_KDF = KdfParams(time_cost=1, memory_kib=8 * 1024, parallelism=1)


def modes(root: Path) -> dict[str, int]:
    """Every folder and file under ``root`` (and root itself) with its permission bits."""
    out = {".": stat.S_IMODE(root.stat().st_mode)}
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            path = Path(folder) / name
            out[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return out


def assert_private(root: Path) -> dict[str, int]:
    found = modes(root)
    loose = {name: oct(mode) for name, mode in found.items()
             if mode != (0o700 if (root / name).is_dir() else 0o600)}
    assert loose == {}, f"readable by others: {loose}"
    return found


async def test_the_provider_data_folder_is_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)  # as an older version left it (umask 022)
    (data / "left-by-an-older-version.txt").write_bytes(b"x")
    os.chmod(data / "left-by-an-older-version.txt", 0o644)
    old_umask = os.umask(0o022)  # the harness's own files (server.log) get 0644
    try:
        server = ServerProcess(data).start()
    finally:
        os.umask(old_umask)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=15.0) as http:
            alice = await SimDevice(http, "alice@alpha.test").register()
            r = await http.post("/v1/blobs", content=secrets.token_bytes(1000), headers=alice.auth)
            assert r.status_code == 201, r.text
        found = assert_private(data)
        assert server.proc is not None
        status = Path(f"/proc/{server.proc.pid}/status").read_text()
        assert "Umask:\t0077" in status  # whatever it creates later is private too
    finally:
        server.stop()
    blob_files = [n for n in found if n.startswith("blobs/") and n.count("/") == 2]
    expected = {"left-by-an-older-version.txt"}
    if server.database is None:  # on PostgreSQL the rows, blobs and keys are in the database
        expected |= {"provider.sqlite3", "provider.sqlite3-wal", "provider.sqlite3-shm", "blobs",
                     "federation", "federation/provider_signing_key.ed25519",
                     "federation/franking-hub-key.key"}
    assert expected <= set(found)
    assert len(blob_files) == (1 if server.database is None else 0)


@pytest.mark.parametrize("provider", ["sqlite"], indirect=True)  # one node: key files
async def test_the_franking_key_moves_out_of_the_database(provider) -> None:
    engine = provider.store.engine
    legacy = secrets.token_bytes(32)
    async with engine.transaction() as tx:
        await tx.execute("INSERT INTO provider_secrets (name, value) VALUES (?, ?)",
                         franking.SECRET_NAME, legacy)
    provider.franking_key = None
    # the same key, so tags handed out before the move still verify
    assert await franking.hub_key(provider) == legacy
    assert await sql.legacy_secret(engine, franking.SECRET_NAME) is None
    path = secret_path(Path(provider.config.data_dir), franking.SECRET_NAME)
    assert path.read_bytes() == legacy
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    provider.franking_key = None
    assert await franking.hub_key(provider) == legacy  # now from the file
    os.chmod(path, 0o644)
    provider.franking_key = None
    with pytest.raises(ValidationError, match="owner only"):
        await franking.hub_key(provider)


@pytest.mark.parametrize("provider", ["sqlite"], indirect=True)
async def test_a_new_franking_key_is_never_written_to_the_database(provider) -> None:
    provider.franking_key = None
    key = await franking.hub_key(provider)
    assert len(key) == 32
    assert await sql.legacy_secret(provider.store.engine, franking.SECRET_NAME) is None
    path = secret_path(Path(provider.config.data_dir), franking.SECRET_NAME)
    assert path.read_bytes() == key


async def test_the_sqlite_store_and_blobs_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        store = await SqlStore(SqliteEngine(tmp_path / "db" / "p.sqlite3"), tmp_path / "blobs").open()
        try:
            await store.put_blob(secrets.token_bytes(32), b"\1" * 32, b"ciphertext", 0)
            found = assert_private(tmp_path / "db")  # while open: -wal and -shm exist
        finally:
            await store.close()
    finally:
        os.umask(old_umask)
    assert {"p.sqlite3", "p.sqlite3-wal", "p.sqlite3-shm"} <= set(found)
    found = assert_private(tmp_path / "blobs")
    assert sum(1 for n in found if n.count("/") == 1) == 1  # the blob itself


def test_a_device_profile_is_private(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    old_umask = os.umask(0o022)
    try:
        store = ProfileStore.create(folder, "correct horse", FAST_KDF)
        found = assert_private(folder)  # while open: -wal and -shm exist
        store.lock()
    finally:
        os.umask(old_umask)
    assert {META_NAME, DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm"} <= set(found)


def test_an_older_profile_is_tightened_when_opened(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    ProfileStore.create(folder, "correct horse", FAST_KDF).lock()
    os.chmod(folder, 0o755)
    for name in os.listdir(folder):
        os.chmod(folder / name, 0o644)
    ProfileStore.open(folder, "correct horse").lock()
    assert_private(folder)
