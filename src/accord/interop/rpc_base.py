"""What every RPC family of Accord's MLSClient servicer shares.

``ServicerBase`` holds the handle store (state_store.py), the lock that runs one
RPC at a time (rpc_errors.guard takes it) and the peer quirks switched on for
this server (quirks.py); the rpc_*.py mixins build on it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from accord.interop.proto import mls_client_pb2 as pb
from accord.interop.proto import mls_client_pb2_grpc as pb_grpc
from accord.interop.quirks import check_quirks
from accord.interop.state_store import Member, Store
from accord.mls import group as g

__all__ = ["PAST_EPOCHS", "ServicerBase", "group_config", "now"]

# Earlier epochs whose application keys are kept (RFC 9420 15.3): the
# application scripts deliver messages across epochs out of order.
PAST_EPOCHS = 4


def now() -> int:
    return int(time.time())


def group_config(encrypt: bool) -> g.GroupConfig:
    return g.GroupConfig(encrypt_handshake=encrypt, max_past_epochs=PAST_EPOCHS)


class ServicerBase(pb_grpc.MLSClientServicer):  # type: ignore[misc]
    def __init__(self, quirks: frozenset[str] = frozenset()) -> None:
        """``quirks``: names from quirks.PEER_QUIRKS; ValueError on any other."""
        self.quirks = check_quirks(quirks)
        self.store = Store()
        self._lock = threading.RLock()

    def _member(self, state_id: int) -> Member:
        return self.store.get(state_id, Member, "state")

    def _propose(self, state_id: int, make: Callable[[g.GroupState], Any]) -> pb.ProposalResponse:
        """Run ``make`` on the member's state; keep the new state, return the proposal."""
        m = self._member(state_id)
        msg, m.state = make(m.state)
        return pb.ProposalResponse(proposal=msg.to_bytes())
