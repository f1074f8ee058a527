"""The provider API client without a server: error mapping, session renewal, hidden posts."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from accord.cli.provider_inspect import find_needles
from accord.client.api import ProviderApi, ServerError, error_from_response
from accord.client.device_core import check_code_key
from accord.errors import (
    AuthError,
    CryptoError,
    EpochConflict,
    NotFound,
    RateLimited,
    ValidationError,
)
from accord.wire.binary import post_from_binary
from accord.wire.messages import ApplicationPost


def _err(status: int, code: str, message: str = "m", **extra: object) -> bytes:
    return json.dumps({"error": code, "message": message, **extra}).encode()


def test_error_bodies_become_typed_errors() -> None:
    assert isinstance(error_from_response(404, _err(404, "not_found")), NotFound)
    assert isinstance(error_from_response(429, _err(429, "rate_limited")), RateLimited)
    assert isinstance(error_from_response(422, _err(422, "validation_error")), ValidationError)
    assert isinstance(error_from_response(401, _err(401, "crypto_error")), CryptoError)
    conflict = error_from_response(409, _err(409, "conflict", current_epoch=7))
    assert isinstance(conflict, EpochConflict) and conflict.current_epoch == 7
    assert isinstance(error_from_response(500, _err(500, "internal_error")), ServerError)
    assert isinstance(error_from_response(502, b"<html>bad gateway</html>"), ServerError)
    # an unknown code falls back on the status
    assert isinstance(error_from_response(401, _err(401, "something_new")), AuthError)


def _transport(log: list[httpx.Request], tokens: list[str]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        log.append(request)
        path = request.url.path
        if path == "/v1/auth/challenge":
            return httpx.Response(200, json={"nonce": base64.urlsafe_b64encode(
                b"n" * 32).rstrip(b"=").decode(), "expires_at": 1})
        if path == "/v1/auth/login":
            tokens.append(f"tok{len(tokens)}")
            return httpx.Response(200, json={"token": tokens[-1], "expires_at": 1})
        if path == "/v1/keypackages/count":
            if request.headers.get("authorization") != f"Bearer {tokens[-1]}" or len(tokens) < 2:
                return httpx.Response(401, content=_err(401, "auth_error"))
            return httpx.Response(200, json={"count": 3, "last_resort": True})
        if path.endswith("/messages"):
            return httpx.Response(201, json={"msg_id": "x"})
        return httpx.Response(404, content=_err(404, "not_found"))

    return httpx.MockTransport(handle)


async def test_expired_session_is_renewed_once_and_posts_carry_no_session() -> None:
    log: list[httpx.Request] = []
    tokens: list[str] = []
    api = ProviderApi("http://127.0.0.1:1", transport=_transport(log, tokens))
    try:
        await api.login("alpha.test", "A" * 22, lambda data: b"s" * 64)
        count = await api.key_package_count()  # first token refused: logs in again
        assert count.count == 3 and tokens == ["tok0", "tok1"]
        await api.post_application(b"g", 0, b"n" * 16, b"ct", lambda data: b"p" * 64)
        post = log[-1]
        # T11: a hidden-sender post names no session, device or account
        assert "authorization" not in post.headers
        # the MLS message is the body, the post's other fields are headers (wire.binary)
        assert post.content == b"ct" and post.headers["content-type"] == "message/mls"
        assert post_from_binary(post.headers, post.content) == ApplicationPost(
            epoch=0, nonce=b"n" * 16, ciphertext=b"ct", signature=b"p" * 64)
        assert {h for h in post.headers if h.startswith("accord-")} == {
            "accord-epoch", "accord-nonce", "accord-signature"}
        with pytest.raises(NotFound):
            await api.remove_device("B" * 22)
    finally:
        await api.close()


def test_link_code_shape() -> None:
    key, sig = check_code_key(base64.urlsafe_b64encode(b"k" * 32 + b"s" * 64).decode())
    assert (key, sig) == (b"k" * 32, b"s" * 64)
    for bad in ("", "!!!!", base64.urlsafe_b64encode(b"short").decode()):
        with pytest.raises(CryptoError):
            check_code_key(bad)


@pytest.mark.parametrize("offset", [0, 1, 2, 5])
def test_needle_scan_sees_every_encoding(tmp_path, offset: int) -> None:
    needle = b"the treasure is under the palm"
    value = b"p" * offset + needle + b"s" * 7
    for i, form in enumerate((value, value.hex().encode(), base64.b64encode(value),
                              base64.urlsafe_b64encode(value).rstrip(b"="))):
        (tmp_path / f"f{i}").write_bytes(b"{" + form + b"}")
    assert find_needles(tmp_path, [needle]) == [(f"f{i}", 0) for i in range(4)]
    assert find_needles(tmp_path, [b"something else entirely"]) == []


def test_T14_a_429_carries_its_retry_after() -> None:
    err = error_from_response(429, _err(429, "rate_limited"), "10")
    assert isinstance(err, RateLimited) and err.retry_after_ms == 10_000
    dated = error_from_response(429, _err(429, "rate_limited"), "Wed, 21 Oct 2026 07:28:00 GMT")
    assert isinstance(dated, RateLimited) and dated.retry_after_ms is None
