"""A hidden-sender post as MLS bytes (accord.wire.binary, issue 23): the PrivateMessage
is the body (``message/mls``), epoch, nonce and signature are headers. It is the same
post as the JSON one: same checks, same delivery; anything amiss is a typed 4xx. The
queue read in the binary envelope carries the same items as the JSON one."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.engine import engine_params
from tests.faults.node import Group, group_of_two, received, running_node
from tests.harness import application_post, group_path
from tests.pg import temporary_database

from accord.wire import encode, parse
from accord.wire.binary import (
    EPOCH,
    NONCE,
    QUEUE_MEDIA_TYPE,
    SIGNATURE,
    decode_queue_page,
    post_headers,
)
from accord.wire.messages import MAX_MESSAGE, QueuePage


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


async def test_the_queue_in_both_representations_carries_the_same_items(node) -> None:  # type: ignore[no-untyped-def]
    """GET /v1/queue answers the binary envelope when Accept asks for it, JSON otherwise;
    both carry the same items (the handshake items and the posts)."""
    group = await group_of_two(node.http)
    path = group_path(group.group_id, "/messages")
    for text in (b"one", b"two"):
        content, headers = _binary(group, text)
        assert (await node.http.post(path, content=content, headers=headers)).status_code == 201
    bob = group.bob.auth
    as_json = await node.http.get("/v1/queue", params={"limit": 500}, headers=bob)
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.headers["vary"].lower() == "accept"
    json_page = parse(QueuePage, as_json.content)
    as_binary = await node.http.get("/v1/queue", params={"limit": 500},
                                    headers={**bob, "accept": QUEUE_MEDIA_TYPE})
    assert as_binary.status_code == 200, as_binary.text
    assert as_binary.headers["content-type"] == QUEUE_MEDIA_TYPE
    assert decode_queue_page(as_binary.content) == json_page
    kinds = [i.kind for i in json_page.items]
    assert kinds.count("application") == 2 and len(kinds) > 2, kinds
    # optional fields present and absent: the group and epoch of every item, the sender
    # of handshake items only (T11)
    assert all(i.group_id and i.epoch is not None for i in json_page.items)
    assert {i.sender is None for i in json_page.items} == {True, False}
    # the ciphertexts travel as bytes, not base64
    assert all(i.body in as_binary.content for i in json_page.items)
    # an empty page after the cursor, in both forms
    after = {"after": json_page.next_after}
    empty = await node.http.get("/v1/queue", params=after,
                                headers={**bob, "accept": QUEUE_MEDIA_TYPE})
    assert decode_queue_page(empty.content) == QueuePage(items=[],
                                                         next_after=json_page.next_after)
    refused = await node.http.get("/v1/queue", headers={"accept": QUEUE_MEDIA_TYPE})
    assert refused.status_code == 401 and refused.json()["error"]


async def test_openapi_lists_the_binary_queue(node) -> None:  # type: ignore[no-untyped-def]
    doc = (await node.http.get("/openapi.json")).json()
    content = doc["paths"]["/v1/queue"]["get"]["responses"]["200"]["content"]
    assert set(content) == {"application/json", QUEUE_MEDIA_TYPE}
    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/QueuePage"}
