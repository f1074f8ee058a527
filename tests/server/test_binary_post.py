"""A hidden-sender post as MLS bytes (accord.wire.binary, issue 23): the PrivateMessage
is the body (``message/mls``), epoch, nonce and signature are headers. It is the same
post as the JSON one: same checks, same delivery; anything amiss is a typed 4xx."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.engine import engine_params
from tests.faults.node import Group, group_of_two, received, running_node
from tests.harness import application_post, group_path
from tests.pg import temporary_database

from accord.wire import encode
from accord.wire.binary import EPOCH, NONCE, SIGNATURE, post_headers
from accord.wire.messages import MAX_MESSAGE


def _binary(group: Group, body: bytes, **changed: str) -> tuple[bytes, dict[str, str]]:
    post = application_post(group.posting_key, group.group_id, 1, body)
    headers = post_headers(post)
    headers.update(changed)
    return post.ciphertext, {k: v for k, v in headers.items() if v != "-"}


@pytest.fixture(params=engine_params())
async def node(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        async with running_node(tmp_path) as n:
            yield n
        return
    from tests.server.conftest import pg_url_or_skip

    async with temporary_database(pg_url_or_skip()) as url, \
            running_node(tmp_path, database=url) as n:
        yield n


async def test_a_binary_post_is_delivered_like_a_json_one(node) -> None:  # type: ignore[no-untyped-def]
    group = await group_of_two(node.http)
    path = group_path(group.group_id, "/messages")
    content, headers = _binary(group, b"binary")
    r = await node.http.post(path, content=content, headers=headers)
    assert r.status_code == 201, r.text
    assert r.headers["content-type"] == "application/json" and "msg_id" in r.json()
    json_post = application_post(group.posting_key, group.group_id, 1, b"json")
    assert (await node.http.post(path, json=encode(json_post))).status_code == 201
    assert await received(group.bob) == [b"binary", b"json"]
    # the same bytes again: a replay, refused as the JSON post's would be
    assert (await node.http.post(path, content=content, headers=headers)).status_code == 409


@pytest.mark.parametrize("changed", [
    {EPOCH: "-"}, {EPOCH: "one"}, {EPOCH: "1" * 20}, {EPOCH: "-1"},
    {NONCE: "-"}, {NONCE: "not base64!"}, {NONCE: "AAAA"},
    {SIGNATURE: "-"}, {SIGNATURE: "AAAA"},
])
async def test_bad_binary_posts_get_a_4xx(node, changed: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    group = await group_of_two(node.http)
    content, headers = _binary(group, b"x", **changed)
    r = await node.http.post(group_path(group.group_id, "/messages"), content=content,
                             headers=headers)
    assert r.status_code in (400, 422), (r.status_code, r.text)
    assert r.json()["error"] in ("validation_error", "decode_error")
    assert await received(group.bob) == []


async def test_binary_body_bounds(node) -> None:  # type: ignore[no-untyped-def]
    group = await group_of_two(node.http)
    path = group_path(group.group_id, "/messages")
    _, headers = _binary(group, b"x")
    r = await node.http.post(path, content=b"", headers=headers)
    assert r.status_code in (400, 422), (r.status_code, r.text)
    # signed as it is, but over the bound of an MLS message (the JSON post's bound)
    content, headers = _binary(group, b"\0" * MAX_MESSAGE)
    assert len(content) > MAX_MESSAGE
    r = await node.http.post(path, content=content, headers=headers)
    assert r.status_code in (400, 422), (r.status_code, r.text)
    assert "ciphertext" in r.json()["message"]
    # a signature that does not cover the body is refused
    content, headers = _binary(group, b"signed")
    r = await node.http.post(path, content=content + b"!", headers=headers)
    assert 400 <= r.status_code < 500 and r.status_code != 409, r.text
    assert await received(group.bob) == []
