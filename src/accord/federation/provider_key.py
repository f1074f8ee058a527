"""The provider's own keys: made on first start, kept together under the data folder.

``federation/`` (0700) holds the Ed25519 signing key and the provider's
other 32-byte secrets (the hub's franking key, :func:`load_or_create_secret`),
never the database, which has more readers (backups, replicas, operators'
tools) than a key needs.

It signs every provider-to-provider request (RFC 9421) and its public half
is published in ``/.well-known/accord``. The file holds the raw 32-byte
private key with mode 0600; it is created with ``O_EXCL`` so two nodes
starting together on one folder never overwrite each other's key. The key
object never prints its secret (``repr`` shows the public key only).
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.errors import ValidationError
from accord.private_files import private_folder, write_private
from accord.wire import b64e

KEY_FILE = "provider_signing_key.ed25519"
KEY_LEN = 32
SECRET_LEN = 32


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
        return _read_secret(path)
    value = initial if initial is not None else secrets.token_bytes(SECRET_LEN)
    if len(value) != SECRET_LEN:
        raise ValidationError(f"a provider secret is {SECRET_LEN} bytes")
    private_folder(path.parent)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    write_private(tmp, value)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return _read_secret(path)
    finally:
        tmp.unlink()
    return value


def _read_secret(path: Path) -> bytes:
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
    path = key_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    key = Ed25519PrivateKey.generate()
    try:
        os.write(fd, key.private_bytes_raw())
        os.fsync(fd)
    finally:
        os.close(fd)
    return ProviderKey(key)


def _read(path: Path) -> ProviderKey:
    _check_private(path)
    raw = path.read_bytes()
    if len(raw) != KEY_LEN:
        raise ValidationError(f"{path} does not hold a 32-byte Ed25519 private key")
    return ProviderKey(Ed25519PrivateKey.from_private_bytes(raw))
