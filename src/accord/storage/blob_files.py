"""Blob bytes as files under the data folder, named by their SHA-256 (embedded mode)."""

from __future__ import annotations

import os
from pathlib import Path


def blob_path(root: Path, sha256: bytes) -> Path:
    name = sha256.hex()
    return root / name[:2] / name


def write_blob(root: Path, sha256: bytes, data: bytes) -> None:
    """Write durably: a blob acknowledged to a client survives a crash."""
    path = blob_path(root, sha256)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    # The rename is durable only once the directory entry is.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def unlink_blobs(root: Path, shas: list[bytes]) -> None:
    for sha in shas:
        blob_path(root, sha).unlink(missing_ok=True)
