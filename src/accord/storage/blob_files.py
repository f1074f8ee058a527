"""Blob bytes as files under the data folder, named by their SHA-256 (embedded mode)."""

from __future__ import annotations

import os
from pathlib import Path

from accord.private_files import private_folder, write_private


def blob_path(root: Path, sha256: bytes) -> Path:
    name = sha256.hex()
    return root / name[:2] / name


def write_blob(root: Path, sha256: bytes, data: bytes) -> None:
    """Write durably: a blob acknowledged to a client survives a crash."""
    path = blob_path(root, sha256)
    if path.exists():
        return
    private_folder(path.parent)
    write_private(path, data)  # 0600, fsynced, renamed into place
    # The rename is durable only once the directory entry is.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def unlink_blobs(root: Path, shas: list[bytes]) -> None:
    for sha in shas:
        blob_path(root, sha).unlink(missing_ok=True)
