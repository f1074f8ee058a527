"""Errors of Accord's MLSClient RPCs as gRPC statuses, mapped in one place.

DecodeError/ValidationError/CryptoError (any AccordError) and the usual Python
decoding failures -> INVALID_ARGUMENT, NotFound -> NOT_FOUND, Conflict ->
FAILED_PRECONDITION; anything unexpected -> INTERNAL with its type, and the
server keeps serving. Secrets are never put into a status message.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import grpc  # type: ignore[import-untyped]

from accord.errors import AccordError, Conflict, NotFound

if TYPE_CHECKING:
    from accord.interop.rpc_base import ServicerBase

__all__ = ["guard", "status_of"]

MAX_DETAILS = 500  # characters of a status message


def status_of(err: BaseException) -> tuple[grpc.StatusCode, str]:
    """The gRPC status code and message for an RPC's failure."""
    if isinstance(err, NotFound):
        return grpc.StatusCode.NOT_FOUND, str(err)
    if isinstance(err, Conflict):
        return grpc.StatusCode.FAILED_PRECONDITION, str(err)
    if isinstance(err, AccordError):
        return grpc.StatusCode.INVALID_ARGUMENT, f"{type(err).__name__}: {err}"
    if isinstance(err, (ValueError, KeyError, IndexError, TypeError, OverflowError)):
        return grpc.StatusCode.INVALID_ARGUMENT, f"{type(err).__name__}: {err}"
    return grpc.StatusCode.INTERNAL, f"{type(err).__name__}: {err}"


def guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """An RPC method ``fn(self, request)`` as a gRPC handler: one RPC at a time, and
    every failure aborts the call with its status (status_of)."""
    @functools.wraps(fn)
    def wrapper(self: ServicerBase, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            with self._lock:  # one RPC at a time: handles name mutable slots
                return fn(self, request)
        except Exception as err:  # noqa: BLE001 - every failure becomes a status
            code, message = status_of(err)
            context.abort(code, message[:MAX_DETAILS])
    return wrapper
