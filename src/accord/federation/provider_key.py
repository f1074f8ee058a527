"""The provider's long-term keys: one set per provider, whichever node loads them.

Three 32-byte secrets: the Ed25519 signing key (federation requests, log
heads, ``/.well-known/accord``), the hub's franking key (T13) and the
transparency log's index key (issue 7). :func:`load` gives all three.

- **SQLite** (one node): key files under the data folder: ``federation/``
  (0700) holds the signing key and the franking key
  (:func:`load_or_create_secret`), ``transparency/`` the index key. The
  database has more readers (backups, operators' tools) than a key needs.
- **PostgreSQL** (any number of nodes, issue 23): rows of ``provider_secrets``.
  The first node to start files them and every node reads the same ones back
  (:func:`accord.storage.privacy_sql.shared_secret`), so a node needs nothing
  but its options. Key files a data folder already holds (a provider that
  copied the first node's keys to every node) are what is filed: the values
  stay, so peers' pinned key, tags handed out and the log's index stay valid.
  With ``accord server --key-file F`` every row is sealed (AES-256-GCM, the
  secret's name as associated data) under the 32-byte key in ``F``, which
  every node is given: then a reader of the database, or of its backups,
  does not get the keys (:func:`seal`). Rows filed before are sealed in
  place the first time a node with the key file starts; a node without the
  key file, or with another one, refuses to start.

The signing key signs every provider-to-provider request (RFC 9421) and its
public half is published in ``/.well-known/accord``. Its file holds the raw 32-byte
private key with mode 0600; it is created with ``O_EXCL`` so two nodes
starting together on one folder never overwrite each other's key. The key
object never prints its secret (``repr`` shows the public key only).
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from accord.errors import ValidationError
from accord.private_files import private_folder, write_private
from accord.storage.areas import Secrets
from accord.storage.engine import PostgresEngine
from accord.wire import b64e

log = logging.getLogger("accord.federation.provider_key")

KEY_FILE = "provider_signing_key.ed25519"
KEY_LEN = 32
SECRET_LEN = 32
SIGNING = "provider-signing-key"  # names in provider_secrets (PostgreSQL)
FRANKING = "franking-hub-key"  # also the key file's name (SQLite)
INDEX = "kt-index-key"
INDEX_KEY_FILE = "kt_index_key"
SEALED = b"accord-sealed-v1"  # the prefix of a sealed provider_secrets value
NONCE_LEN = 12


class ProviderKey:
    """The provider's signing key; ``sign`` is the only way to use the secret."""

    __slots__ = ("_key", "public")

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public: bytes = key.public_key().public_bytes_raw()

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def __repr__(self) -> str:
        return f"ProviderKey(public={b64e(self.public)})"

    @classmethod
    def generate(cls) -> ProviderKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_raw(cls, raw: bytes) -> ProviderKey:
        if len(raw) != KEY_LEN:
            raise ValidationError("a provider signing key is 32 bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(raw))

    def raw(self) -> bytes:
        """The private key's 32 bytes, for keeping it (``accord.federation.provider_key``)."""
        return self._key.private_bytes_raw()


def key_path(data_dir: Path) -> Path:
    return data_dir / "federation" / KEY_FILE


def secret_path(data_dir: Path, name: str) -> Path:
    return data_dir / "federation" / f"{name}.key"


def load_or_create_secret(data_dir: Path, name: str, initial: bytes | None = None) -> bytes:
    """The provider secret ``name``, made from ``initial`` (or at random) the first time.

    The file appears whole or not at all (written aside, then hard-linked into
    place, which fails if another node got there first: its secret wins).
    """
    path = secret_path(data_dir, name)
    if path.exists():
        return read_secret(path)
    value = initial if initial is not None else secrets.token_bytes(SECRET_LEN)
    if len(value) != SECRET_LEN:
        raise ValidationError(f"a provider secret is {SECRET_LEN} bytes")
    private_folder(path.parent)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    write_private(tmp, value)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return read_secret(path)
    finally:
        tmp.unlink()
    return value


def read_secret(path: Path) -> bytes:
    """A 32-byte key file (the signing key's file too), refused unless mode 0600."""
    _check_private(path)
    raw = path.read_bytes()
    if len(raw) != SECRET_LEN:
        raise ValidationError(f"{path} does not hold a {SECRET_LEN}-byte secret")
    return raw


def _check_private(path: Path) -> None:
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise ValidationError(f"{path} must be readable by its owner only (chmod 600)")


def load_or_create(data_dir: Path) -> ProviderKey:
    """Read the key under ``data_dir``, generating it (mode 0600) the first time."""
    raw = _made_once(key_path(data_dir), lambda: Ed25519PrivateKey.generate().private_bytes_raw())
    return ProviderKey.from_raw(raw)


def _made_once(path: Path, make: Callable[[], bytes]) -> bytes:
    """The key file at ``path``, made with ``O_EXCL`` (mode 0600) the first time."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_secret(path)
    value = make()
    try:
        os.write(fd, value)
        os.fsync(fd)
    finally:
        os.close(fd)
    return value


@dataclass(frozen=True, slots=True, repr=False)
class ProviderKeys:
    signing: ProviderKey
    franking: bytes
    index: bytes

    def __repr__(self) -> str:  # never a secret
        return f"ProviderKeys(public={b64e(self.signing.public)})"


def index_key_path(data_dir: Path) -> Path:
    return data_dir / "transparency" / INDEX_KEY_FILE


def load_index_key(data_dir: Path) -> bytes:
    """The log's index key under ``data_dir`` (made once, O_EXCL, mode 0600)."""
    return _made_once(index_key_path(data_dir), lambda: secrets.token_bytes(SECRET_LEN))


async def load(data_dir: Path, rows: Secrets, kek: bytes | None = None) -> ProviderKeys:
    """The provider's three keys; ``kek`` (from ``--key-file``) seals them in PostgreSQL.
    ``rows`` is the store's ``secrets`` (whether they are shared, and the filed rows)."""
    return ProviderKeys(await signing_key(data_dir, rows, kek),
                        await franking_key(data_dir, rows, kek),
                        await index_key(data_dir, rows, kek))


async def signing_key_of(data_dir: Path, database: str | None, kek: bytes | None = None
                         ) -> ProviderKey:
    """The signing key of a provider this process does not run (a tool, a test harness):
    its folder's key file on SQLite, its database's on PostgreSQL (``database``),
    unsealed with ``kek`` (its ``--key-file``, :func:`key_of`) if it is sealed there."""
    if database is None:
        return load_or_create(data_dir)
    engine = PostgresEngine(database)
    await engine.open()
    try:
        return await signing_key(data_dir, Secrets(engine), kek)
    finally:
        await engine.close()


async def signing_key(data_dir: Path, rows: Secrets, kek: bytes | None = None) -> ProviderKey:
    if not rows.shared:
        return load_or_create(data_dir)
    return ProviderKey.from_raw(await _filed(rows, SIGNING, key_path(data_dir), kek))


async def franking_key(data_dir: Path, rows: Secrets, kek: bytes | None = None) -> bytes:
    if rows.shared:
        return await _filed(rows, FRANKING, secret_path(data_dir, FRANKING), kek)
    # One node: a key file. An older version kept the key in the database: it is
    # moved to the file (same value, so tags already handed out still verify).
    if secret_path(data_dir, FRANKING).exists():
        key = load_or_create_secret(data_dir, FRANKING)
    else:
        key = load_or_create_secret(data_dir, FRANKING, await rows.legacy(FRANKING))
    await rows.forget_legacy(FRANKING)
    return key


async def index_key(data_dir: Path, rows: Secrets, kek: bytes | None = None) -> bytes:
    if not rows.shared:
        return load_index_key(data_dir)
    return await _filed(rows, INDEX, index_key_path(data_dir), kek)


def key_of(key_file: str | None) -> bytes | None:
    """The key-encryption key of ``--key-file`` (``ServerConfig.key_file``), if any: 32
    bytes, mode 0600 (a typed error else)."""
    return None if key_file is None else read_secret(Path(key_file))


def seal(kek: bytes, name: str, value: bytes) -> bytes:
    """``value`` sealed for the provider_secrets row ``name`` (whose name is bound in)."""
    nonce = secrets.token_bytes(NONCE_LEN)
    return SEALED + nonce + AESGCM(kek).encrypt(nonce, value, _aad(name))


def unseal(kek: bytes | None, name: str, stored: bytes) -> bytes:
    """The secret in a provider_secrets row; :class:`ValidationError` when it is sealed
    and ``kek`` is missing or is not the key it was sealed with."""
    if not stored.startswith(SEALED):
        return stored
    if kek is None:
        raise ValidationError(f"the provider's {name} is sealed in the database: start"
                              " every node with --key-file and the provider's key file")
    body = stored[len(SEALED):]
    try:
        value = AESGCM(kek).decrypt(body[:NONCE_LEN], body[NONCE_LEN:], _aad(name))
    except InvalidTag as exc:
        raise ValidationError(f"the provider's {name} was sealed with another --key-file"
                              " (or the row was altered)") from exc
    if len(value) != SECRET_LEN:
        raise ValidationError(f"the provider's {name} is not {SECRET_LEN} bytes")
    return value


def _aad(name: str) -> bytes:
    return b"accord provider secret\x00" + name.encode()


async def _filed(rows: Secrets, name: str, path: Path, kek: bytes | None) -> bytes:
    """The provider's secret ``name``, filed from this node's key file or made at random
    (sealed under ``kek`` when given; a row filed unsealed before is sealed in place)."""
    mine = read_secret(path) if path.exists() else None
    candidate = mine or secrets.token_bytes(SECRET_LEN)
    stored = await rows.offer(name, seal(kek, name, candidate) if kek else candidate)
    value = unseal(kek, name, stored)
    if kek is not None and not stored.startswith(SEALED):
        await rows.replace(name, stored, seal(kek, name, value))
    if mine is not None and mine != value:
        log.warning("%s differs from the provider's %s in the database, which is used;"
                    " the file is stale", path, name)
    return value
