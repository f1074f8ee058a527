"""Folders and files only their owner can read: the provider's data folder, a device profile.

Both hold secrets or metadata (the provider's database with its reports,
rosters and backups; its keys; blobs; a profile's encrypted database, whose
salt and size are metadata too), so folders are 0700 and files 0600,
whatever the process umask. SQLite creates its ``-wal`` and ``-shm`` files
with the mode of the database file, so a database created here keeps them
private. Folders and files made by an older version (0755 and 0644) are
tightened when they are opened again (:func:`secure_tree`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_folder(path: Path) -> Path:
    """``path`` as a folder only its owner can enter (created with its parents if missing)."""
    # mkdir(parents=True) would give the parents it makes the umask's mode.
    for folder in reversed([path, *path.parents]):
        if not folder.exists():
            folder.mkdir(mode=FOLDER_MODE, exist_ok=True)
    _tighten(path, FOLDER_MODE)
    return path


def private_file(path: Path, create: bool = True) -> Path:
    """``path`` as a file only its owner can read (an empty file if missing and ``create``)."""
    if create:
        private_folder(path.parent)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    if path.exists():
        _tighten(path, FILE_MODE)
    return path


def private_database(path: Path) -> Path:
    """A SQLite database file and its ``-wal``/``-shm`` companions, private before SQLite opens them."""
    for companion in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        private_file(companion, create=False)
    return private_file(path)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (replaced atomically), mode 0600 from the first byte."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def secure_tree(root: Path) -> None:
    """Make ``root`` and everything under it private (symbolic links are left alone)."""
    private_folder(root)
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        for name in dirs:
            _tighten(here / name, FOLDER_MODE)
        for name in files:
            _tighten(here / name, FILE_MODE)


def _tighten(path: Path, mode: int) -> None:
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        return
    if stat.S_IMODE(st.st_mode) != mode:
        os.chmod(path, mode)
