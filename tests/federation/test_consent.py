"""Consent across providers (T14) and what providers reveal about themselves (T15)."""

from __future__ import annotations

import secrets

import httpx

import accord
from accord.wire import b64e, decode
from accord.wire import federation as fw
from tests.federation.groups import user
from tests.federation.providers import Provider

SOFTWARE_WORDS = ("uvicorn", "starlette", "python", "httpx", "accord/" + accord.__version__)


async def test_T15_no_software_name_or_version_in_any_response(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient]
) -> None:
    http = clients["alpha"]
    responses = [await http.get(path) for path in
                 ("/.well-known/accord", "/healthz", "/openapi.json", "/no/such/path")]
    responses.append(await http.post("/federation/v1/deliver", content=b"{}"))
    for r in responses:
        assert "server" not in r.headers, r.headers
        text = (" ".join(f"{k}: {v}" for k, v in r.headers.items()) + r.text).lower()
        for word in SOFTWARE_WORDS:
            assert word not in text, (r.url, word)
    assert responses[2].json()["info"]["version"] != accord.__version__


async def test_well_known_names_endpoint_and_provider_key(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient]
) -> None:
    alpha = providers["alpha"]
    r = await clients["alpha"].get("/.well-known/accord")
    doc = decode(fw.WellKnown, r.json())
    assert doc.domain == "alpha.test" and doc.api_base == alpha.url
    assert doc.signing_key == alpha.key().public
    # The key transparency head (issue 7), signed with the same provider key.
    if doc.transparency_head is not None:
        from accord.transparency.heads import decode_signed_head, verify_signed_head

        head = decode_signed_head(doc.transparency_head)
        assert verify_signed_head(head, doc.signing_key, "alpha.test").domain == "alpha.test"
    assert set(r.json()) <= {"domain", "api_base", "signing_key", "transparency_head"}


async def test_T14_blocks_stop_invitations_and_key_package_claims(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient]
) -> None:
    alice = await user(clients["alpha"], "alice.b@alpha.test")
    mallory = await user(clients["gamma"], "mallory@gamma.test")
    bob = await user(clients["beta"], "bob.b@beta.test")

    # bob blocks a user: mallory's invitation never reaches bob's devices.
    await bob.call("POST", "/v1/blocks", {"target": "mallory@gamma.test"}, expect=200)
    await mallory.create_group(secrets.token_bytes(16))
    claimed = await mallory.claim(bob.account, expect=404)  # a block looks like no account
    assert claimed == []
    # bob blocks a domain: nobody of alpha.test can claim his KeyPackages any more.
    r = await bob.call("POST", "/v1/blocks", {"target": "alpha.test"}, expect=200)
    assert decode(fw.BlockList, r.json()).targets == ["alpha.test", "mallory@gamma.test"]
    await alice.claim(bob.account, expect=404)
    await bob.call("DELETE", "/v1/blocks/alpha.test", expect=204)
    assert len(await alice.claim(bob.account)) == 1
    await bob.call("DELETE", "/v1/blocks/alpha.test", expect=404)
    for bad in ("bob.b@beta.test", "beta.test", "not a target"):
        r = await bob.call("POST", "/v1/blocks", {"target": bad})
        assert r.status_code == 422, (bad, r.text)


async def test_T14_an_invitation_after_a_block_is_not_delivered(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient]
) -> None:
    """The hub learns bob's device from an earlier claim; bob then blocks alice."""
    alice = await user(clients["alpha"], "alice.c@alpha.test")
    bob = await user(clients["beta"], "bob.c@beta.test")
    gid = secrets.token_bytes(16)
    await alice.create_group(gid)
    claimed = await alice.claim(bob.account)
    await bob.call("POST", "/v1/blocks", {"target": alice.account}, expect=200)
    await alice.commit_add(claimed)  # the hub accepts: it cannot know bob's choice
    other = await user(clients["beta"], "carol.c@beta.test")  # a control: not blocking
    await alice.commit_add(await alice.claim(other.account))
    assert [i.kind for i in await other.wait_items(1)] == ["welcome"]
    assert (await bob.fetch()).items == []
    r = await bob.call("GET", "/v1/requests", expect=200)
    assert decode(fw.MessageRequestList, r.json()).requests == []
    r = await other.call("GET", "/v1/requests", expect=200)
    reqs = decode(fw.MessageRequestList, r.json()).requests
    assert [(q.group_id, q.from_account) for q in reqs] == [(gid, alice.account)]
    await other.call("POST", f"/v1/requests/{b64e(gid)}/accept", expect=204)
    await other.call("POST", f"/v1/requests/{b64e(gid)}/accept", expect=404)


async def test_T08_consent_endpoints_need_a_session_and_see_only_the_callers_account(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient]
) -> None:
    from accord.server.consent_routes import SPECS

    http = clients["beta"]
    gid = b64e(secrets.token_bytes(16))
    for spec in SPECS:
        assert spec.auth
        path = spec.path.format(target="alpha.test", group_id=gid)
        r = await http.request(spec.method, path, json={"target": "alpha.test"})
        assert r.status_code == 401, (spec.path, r.status_code)
    bob = await user(http, "bob.t8@beta.test")
    eve = await user(http, "eve.t8@beta.test")
    await bob.call("POST", "/v1/blocks", {"target": "gamma.test"}, expect=200)
    r = await eve.call("GET", "/v1/blocks", expect=200)
    assert decode(fw.BlockList, r.json()).targets == []
    await eve.call("DELETE", "/v1/blocks/gamma.test", expect=404)  # not eve's block
    r = await bob.call("GET", "/v1/blocks", expect=200)
    assert decode(fw.BlockList, r.json()).targets == ["gamma.test"]
