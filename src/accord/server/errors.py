"""The one place that turns an Accord error into an HTTP status and a JSON body."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from accord.errors import (
    AccordError,
    AuthError,
    Conflict,
    ConsentRequested,
    CryptoError,
    DecodeError,
    EpochConflict,
    NotFound,
    PeerUnavailable,
    RateLimited,
    StoreUnavailable,
    ValidationError,
)
from accord.wire import encode
from accord.wire.messages import ErrorBody

log = logging.getLogger("accord.server")
STORE_RETRY_AFTER_S = 2  # a database that dropped or filled up: retry soon, on any node


class PayloadTooLarge(ValidationError):
    """A request body over the endpoint's limit."""

    code = "payload_too_large"


class RequestTimeout(AccordError):
    """A request body that did not arrive in time (a slow client holds a connection)."""

    code = "request_timeout"


# Most specific first: the first class that matches decides the status.
STATUS: tuple[tuple[type[AccordError], int], ...] = (
    (PayloadTooLarge, 413),
    (RequestTimeout, 408),
    (DecodeError, 400),
    (ValidationError, 422),
    (CryptoError, 401),
    (AuthError, 401),
    (ConsentRequested, 403),
    (NotFound, 404),
    (Conflict, 409),
    (RateLimited, 429),
    (PeerUnavailable, 503),
    (StoreUnavailable, 503),
    (AccordError, 400),
)


def status_of(exc: AccordError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def error_response(exc: AccordError) -> JSONResponse:
    status = status_of(exc)
    epoch = exc.current_epoch if isinstance(exc, EpochConflict) else None
    body = ErrorBody(error=exc.code, message=str(exc), current_epoch=epoch)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if isinstance(exc, StoreUnavailable):
        headers["Retry-After"] = str(STORE_RETRY_AFTER_S)
    if isinstance(exc, RateLimited) and exc.retry_after_ms is not None:
        # RFC 9110 10.2.3: whole seconds, rounded up so a client that waits succeeds.
        headers["Retry-After"] = str(max(1, -(-exc.retry_after_ms // 1000)))
    return JSONResponse(encode(body), status_code=status, headers=headers or None)


async def accord_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AccordError)
    return error_response(exc)


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    # The exception's text may quote request data, so only its type is logged.
    log.error("internal error %s on %s", type(exc).__name__, request.method)
    body = ErrorBody(error="internal_error", message="internal server error")
    return JSONResponse(encode(body), status_code=500)
