"""``accord agent``: unlock a profile once per session, like ssh-agent (issue 19).

The agent is a small process holding the profile's *derived* database key (the
Argon2id output, never the passphrase) in memory for a limited time. Commands ask
it over a UNIX socket before they would prompt, and skip Argon2id.

Why it is safe enough on a shared machine:
- the socket lives in the profile folder (0700) and is itself 0600; where that path
  is too long for a socket, in ``$XDG_RUNTIME_DIR`` (0700, per user);
- every connection's peer is checked with ``SO_PEERCRED``: only our own uid gets
  an answer (a file mode is one check; the kernel's word on the peer is another);
- the key reaches the agent through a pipe and is never written to disk, argv or
  the environment; the agent marks itself non-dumpable (no core file, no ptrace by
  other same-uid processes) and wipes its copy when it stops or its time is up.

Protocol: one line per connection, ``key`` / ``status`` / ``stop``; the answer is
``ok ...`` or ``no``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

SOCKET_NAME = "agent.sock"
MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux
REQUEST_TIMEOUT_S = 2.0
MAX_TIMEOUT_S = 7 * 24 * 3600


def socket_path(folder: Path) -> Path:
    """The agent's socket for the profile in ``folder``."""
    path = folder.resolve() / SOCKET_NAME
    if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
        return path
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if not runtime:
        raise OSError(f"the profile path is too long for a socket and $XDG_RUNTIME_DIR "
                      f"is not set: {folder}")
    tag = hashlib.sha256(os.fsencode(folder.resolve())).hexdigest()[:16]
    return Path(runtime) / f"accord-agent-{tag}.sock"


def parse_timeout(text: str) -> int:
    """``90``, ``90s``, ``15m``, ``2h`` or ``1d`` in seconds (1 s to 7 days)."""
    m = re.fullmatch(r"\s*(\d{1,7})\s*([smhd]?)\s*", text)
    if m is None:
        raise ValueError(f"not a duration: {text!r} (try 15m, 2h, 90s)")
    seconds = int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    if not 1 <= seconds <= MAX_TIMEOUT_S:
        raise ValueError("the agent's time must be between 1 s and 7 days")
    return seconds


def peer_uid(conn: socket.socket) -> int:
    """The uid of the process at the other end, as the kernel saw it at connect."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


class AgentState:
    """What the agent decides, apart from its socket: a request, the peer's uid and
    the clock in; an answer out (``None``: stop serving)."""

    def __init__(self, key: bytes, seconds: int, *, uid: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._key = bytearray(key)
        self._clock = clock
        self.deadline = clock() + seconds
        self.uid = os.getuid() if uid is None else uid
        self.stopped = False

    def remaining(self) -> float:
        return self.deadline - self._clock()

    def answer(self, request: bytes, uid: int) -> bytes:
        if uid != self.uid:
            return b"no\n"  # another user: nothing, not even whether a key is held
        if self.remaining() <= 0:
            self.wipe()
        if self.stopped:
            return b"no\n"
        verb = request.strip()
        if verb == b"key":
            return b"ok " + bytes(self._key).hex().encode() + b"\n"
        if verb == b"status":
            return f"ok {int(self.remaining())}\n".encode()
        if verb == b"stop":
            self.wipe()
            return b"ok\n"
        return b"no\n"

    def wipe(self) -> None:
        for i in range(len(self._key)):
            self._key[i] = 0
        self.stopped = True


def _not_dumpable() -> None:
    """prctl(PR_SET_DUMPABLE, 0): no core dump, no ptrace by same-uid processes."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)


def listen(path: Path) -> socket.socket:
    """Bind the agent's socket, 0600 from the start (umask), replacing a dead one."""
    with contextlib.suppress(FileNotFoundError):
        if ask(path, b"status") is None:
            path.unlink()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        server.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    server.listen(8)
    return server


def serve(server: socket.socket, path: Path, state: AgentState) -> None:
    """Answer until stopped or out of time; then wipe the key and remove the socket."""
    try:
        while not state.stopped and state.remaining() > 0:
            server.settimeout(max(0.05, min(state.remaining(), 60.0)))
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(REQUEST_TIMEOUT_S)
                try:
                    request = conn.recv(64)
                    conn.sendall(state.answer(request, peer_uid(conn)))
                except OSError:
                    continue
    finally:
        state.wipe()
        server.close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def daemon_main() -> None:
    """The agent process: ``python -c ... SOCKET SECONDS``; the key arrives on stdin."""
    _not_dumpable()
    path, seconds = Path(sys.argv[1]), int(sys.argv[2])
    key = bytes.fromhex(sys.stdin.readline().strip())
    sys.stdin.close()
    server = listen(path)
    state = AgentState(key, seconds)
    del key
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdout.close()
    serve(server, path, state)


def ask(path: Path, request: bytes) -> bytes | None:
    """One request to the agent at ``path``; None if none answers there."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(REQUEST_TIMEOUT_S)
            conn.connect(str(path))
            conn.sendall(request + b"\n")
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = conn.recv(256)
                if not chunk:
                    break
                answer += chunk
    except OSError:
        return None
    if not answer.startswith(b"ok"):
        return None
    return answer[2:].strip()


def key_for(folder: Path) -> bytes | None:
    """The profile key if an agent of ours holds it for ``folder``."""
    try:
        path = socket_path(folder)
    except OSError:
        return None
    if not path.exists():
        return None
    got = ask(path, b"key")
    try:
        return bytes.fromhex(got.decode()) if got else None
    except ValueError:
        return None
