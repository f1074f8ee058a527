"""The MIMI transport between live providers (issue 22, draft-ietf-mimi-protocol-06).

gamma.test signs its MIMI requests with its real provider key (as every peer route
is signed); what beta then lets it do is what these tests check: a peer fetches
key material only for users beta hosts, only as one of its own users, under the
claim limits and the blocks of the target, and an identifier query answers for
beta's own accounts only.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from urllib.parse import quote

import httpx

from accord.federation import http_signatures as hs
from accord.mls.credentials import BasicCredentials
from accord.mls.key_package import validate_key_package
from accord.mls.structs import Credential, RequiredCapabilities
from accord.mls.suites import get_suite
from accord.server.mimi_routes import DIRECTORY_PATH, EXTENSIONS, MIMI_SPECS
from accord.wire import mimi as w
from tests.federation.groups import user
from tests.federation.malicious_provider import MaliciousProvider
from tests.federation.providers import Provider

SUITE = get_suite(1)
MALLORY = "mimi://gamma.test/u/mallory"
NO_CAPS = RequiredCapabilities((), (), ())


def _km_path(target: str) -> str:
    return "/mimi/v1/keyMaterial/" + quote(target, safe="")


def key_material_request(requester: str, target: str, *, suites: tuple[int, ...] = (1,),
                         required: RequiredCapabilities = NO_CAPS) -> w.KeyMaterialRequest:
    priv, pub = SUITE.generate_signature_key_pair()
    req = w.KeyMaterialRequest(w.MLS10, w.IdentifierUri.of(requester),
                               w.IdentifierUri.of(target), w.IdentifierUri(b""), suites,
                               required, pub, Credential.basic(requester.encode()), b"")
    return dataclasses.replace(req, key_material_request_signature=SUITE.sign_with_label(
        priv, req.SIGN_LABEL, req.tbs()))


async def _fetch(evil: MaliciousProvider, beta: Provider, req: w.KeyMaterialRequest,
                 target: str | None = None) -> httpx.Response:
    return await evil.send(beta, _km_path(target or req.target_user.text()), req.to_bytes())


def _error(r: httpx.Response, status: int, code: str, words: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"] == code and words in r.json()["message"], r.text


async def test_the_directory_lists_what_works(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
) -> None:
    r = await clients["beta"].get(DIRECTORY_PATH)
    assert r.status_code == 200
    doc = w.parse_directory(r.json())
    base = providers["beta"].url
    assert doc["keyMaterial"] == base + "/mimi/v1/keyMaterial/{targetUser}"
    assert doc["identifierQuery"] == base + "/mimi/v1/identifierQuery/{domain}"
    assert set(doc) == {s.key for s in MIMI_SPECS} | set(EXTENSIONS)
    # no draft endpoint is listed that is not served (update, notify ... come later)
    assert not set(doc) & (set(w.ENDPOINTS) - {s.key for s in MIMI_SPECS})
    head = await clients["beta"].get(doc["accord-keyTransparency"].removeprefix(base))
    assert head.status_code == 200


async def test_key_material_for_every_client_of_a_hosted_user(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    beta = providers["beta"]
    bob = await user(clients["beta"], "bob.mimi@beta.test")
    target = w.mimi_user_uri(bob.account)
    r = await _fetch(evil, beta, key_material_request(MALLORY, target))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == w.MEDIA_TYPE
    resp = w.KeyMaterialResponse.from_bytes(r.content)
    assert resp.user_status == w.KeyMaterialUserCode.SUCCESS
    assert resp.user_uri.text() == target
    [client] = resp.clients
    assert client.client_uri.text() == f"mimi://beta.test/d/{bob.device_id}"
    assert client.key_package is not None
    validate_key_package(client.key_package, now=int(time.time()),
                         credential_validator=BasicCredentials())
    # a capability no client offers: nothing compatible, capabilities withheld
    odd = RequiredCapabilities((0x7777,), (), ())
    resp = w.KeyMaterialResponse.from_bytes((await _fetch(
        evil, beta, key_material_request(MALLORY, target, required=odd))).content)
    assert resp.user_status == w.KeyMaterialUserCode.NO_COMPATIBLE_MATERIAL
    assert [c.client_status for c in resp.clients] == [w.KeyMaterialClientCode.NOTHING_COMPATIBLE]
    # suites beta does not implement: nothing claimed at all
    resp = w.KeyMaterialResponse.from_bytes((await _fetch(
        evil, beta, key_material_request(MALLORY, target, suites=(0x7A7A,)))).content)
    assert (resp.user_status, resp.clients) == (w.KeyMaterialUserCode.NO_COMPATIBLE_MATERIAL, ())


async def test_T08_mimi_key_material_only_for_hosted_users_by_the_peers_own(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    beta = providers["beta"]
    alice = await user(clients["alpha"], "alice.mimi@alpha.test")
    bob = await user(clients["beta"], "bob.mimi2@beta.test")
    bob_uri = w.mimi_user_uri(bob.account)
    # gamma speaks for alpha's user: refused
    r = await _fetch(evil, beta, key_material_request("mimi://alpha.test/u/x", bob_uri))
    _error(r, 422, "validation_error", "requester is not an account of the requesting")
    # beta is no relay: alpha's user is not beta's to hand out
    r = await _fetch(evil, beta, key_material_request(MALLORY, w.mimi_user_uri(alice.account)))
    _error(r, 404, "not_found", "no account")
    # the body names another user than the path
    r = await _fetch(evil, beta, key_material_request(MALLORY, "mimi://beta.test/u/zed"),
                     target=bob_uri)
    _error(r, 422, "validation_error", "targetUser is not the path's")
    # the requester's signature over KeyMaterialRequestTBS must verify
    forged = dataclasses.replace(key_material_request(MALLORY, bob_uri),
                                 key_material_request_signature=b"\x00" * 64)
    _error(await _fetch(evil, beta, forged), 401, "auth_error", "signature does not verify")
    # not a KeyMaterialRequest at all; not signed by a provider
    r = await evil.send(beta, _km_path(bob_uri), b"\x02junk")
    _error(r, 400, "decode_error", "")
    r = await clients["beta"].post(_km_path(bob_uri),
                                   content=key_material_request(MALLORY, bob_uri).to_bytes())
    assert r.status_code == 401, r.text


async def test_T14_mimi_key_material_keeps_the_targets_blocks(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    beta = providers["beta"]
    bob = await user(clients["beta"], "bob.mimi3@beta.test")
    bob_uri = w.mimi_user_uri(bob.account)
    unknown = w.KeyMaterialResponse.from_bytes((await _fetch(
        evil, beta, key_material_request(MALLORY, "mimi://beta.test/u/nobody"))).content)
    assert unknown.user_status == w.KeyMaterialUserCode.USER_UNKNOWN
    await bob.call("POST", "/v1/blocks", {"target": "gamma.test"}, expect=200)
    blocked = w.KeyMaterialResponse.from_bytes(
        (await _fetch(evil, beta, key_material_request(MALLORY, bob_uri))).content)
    assert (blocked.user_status, blocked.clients) == (w.KeyMaterialUserCode.USER_UNKNOWN, ())
    await bob.call("DELETE", "/v1/blocks/gamma.test", expect=204)
    again = w.KeyMaterialResponse.from_bytes(
        (await _fetch(evil, beta, key_material_request(MALLORY, bob_uri))).content)
    assert again.user_status == w.KeyMaterialUserCode.SUCCESS
    # the claim limits: tests.federation.test_T14_key_package_drain (production limits)


async def test_T08_mimi_identifier_query_answers_for_own_accounts_only(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    beta = providers["beta"]
    bob = await user(clients["beta"], "bob.mimi4@beta.test")

    async def query(domain: str, *elements: w.QueryElement) -> httpx.Response:
        return await evil.send(beta, f"/mimi/v1/identifierQuery/{domain}",
                               w.IdentifierRequest(elements).to_bytes())

    def handle(value: str) -> w.QueryElement:
        return w.QueryElement(w.SearchIdentifierType.HANDLE, None, value.encode())

    async def code(*elements: w.QueryElement) -> int:
        r = await query("beta.test", *elements)
        assert r.status_code == 200, r.text
        return w.IdentifierResponse.from_bytes(r.content).response_code

    q = w.IdentifierQueryCode
    r = await query("beta.test", handle(bob.account))
    found = w.IdentifierResponse.from_bytes(r.content)
    assert found.response_code == q.SUCCESS
    assert [u.text() for u in found.uri] == [w.mimi_user_uri(bob.account)]
    assert await code(handle(w.mimi_user_uri(bob.account))) == q.SUCCESS
    assert await code(handle("nobody@beta.test")) == q.NOT_FOUND
    alice = await user(clients["alpha"], "alice.mimi4@alpha.test")
    assert await code(handle(alice.account)) == q.NOT_FOUND  # beta is no relay to alpha
    assert await code(w.QueryElement(w.SearchIdentifierType.NICK, None, b"bob")) == (
        q.UNSUPPORTED_FIELD)
    assert await code() == q.AMBIGUOUS
    _error(await query("alpha.test", handle("a@alpha.test")), 404, "not_found",
           "identifier queries for beta.test only")
    await bob.call("POST", "/v1/blocks", {"target": "gamma.test"}, expect=200)
    assert await code(handle(bob.account)) == q.NOT_FOUND  # blocked looks like unknown
    await bob.call("DELETE", "/v1/blocks/gamma.test", expect=204)


def _signed_get(target: Provider, path: str, signer: Provider, body: bytes = b""
                ) -> httpx.Request:
    url = httpx.URL(target.url + path)
    headers = hs.sign_request(signer.key().sign, method="GET", authority=url.netloc.decode(),
                              path=url.path, body=body, keyid=signer.domain,
                              created=int(time.time()), nonce=secrets.token_urlsafe(18))
    return httpx.Request("GET", url, headers=headers, content=body)


async def test_T08_mimi_proxy_download_fetches_known_providers_assets_only(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
) -> None:
    """5.10.2: gamma asks beta (the hub) for an asset alpha stores; beta fetches it over
    the signed peer route by capability. beta is no open proxy: any other URL is 404."""
    beta, gamma = providers["beta"], providers["gamma"]
    alice = await user(clients["alpha"], "alice.asset@alpha.test")
    data = secrets.token_bytes(3000)
    r = await clients["alpha"].post("/v1/blobs", content=data, headers={
        **alice.auth, "Content-Type": "application/octet-stream"})
    cap = r.json()["blob_id"].split(".", 1)[0]

    async def proxy(url: str, signer: Provider = gamma) -> httpx.Response:
        path = "/mimi/v1/proxyDownload/" + quote(url, safe="")
        return await clients["beta"].send(_signed_get(beta, path, signer))

    got = await proxy(f"https://alpha.test/v1/blobs/{cap}")
    assert got.status_code == 200 and got.content == data, got.text
    own = await clients["beta"].post("/v1/blobs", content=b"beta's", headers={
        **(await user(clients["beta"], "bob.asset@beta.test")).auth,
        "Content-Type": "application/octet-stream"})
    beta_cap = own.json()["blob_id"].split(".", 1)[0]
    assert (await proxy(f"https://beta.test/v1/blobs/{beta_cap}")).content == b"beta's"
    for bad in (f"https://unknown.example/v1/blobs/{cap}",  # not a provider beta knows
                f"http://alpha.test/v1/blobs/{cap}", f"https://alpha.test/v1/admin/{cap}",
                f"https://alpha.test:8443/v1/blobs/{cap}",
                f"https://u@alpha.test/v1/blobs/{cap}",
                f"https://alpha.test/v1/blobs/{'A' * 43}"):  # no such capability
        _error(await proxy(bad), 404, "not_found", "")
    with_body = _signed_get(beta, "/mimi/v1/proxyDownload/" + quote(
        f"https://alpha.test/v1/blobs/{cap}", safe=""), gamma, b"x")
    _error(await clients["beta"].send(with_body), 422, "validation_error", "has no body")
    r = await clients["beta"].get("/mimi/v1/proxyDownload/" + quote(
        f"https://alpha.test/v1/blobs/{cap}", safe=""))
    assert r.status_code == 401, r.text  # only a signed peer may ask


async def test_T08_T13_mimi_abuse_reports_reach_the_hubs_report_check(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """5.9: gamma reports bob's message to alpha, the room's hub, in the draft's
    AbuseReport; alpha verifies its franking tag and files it. A provider hosting no
    member, another hub's room, another provider's reporter, or a forged frank files
    nothing."""
    from tests.federation.groups import join_from_queue
    from tests.federation.test_T13_report_forwarding import operator, reports_at
    from tests.privacy.helpers import content, open_item, post

    alpha = providers["alpha"]
    ha, hb, hg = clients["alpha"], clients["beta"], clients["gamma"]
    tag = secrets.token_hex(3)
    alice = await user(ha, f"alice{tag}@alpha.test")
    bob = await user(hb, f"bob{tag}@beta.test")
    carol = await user(hg, f"carol{tag}@gamma.test")
    gid = secrets.token_bytes(16)
    await alice.create_group(gid)
    await alice.commit_add(await alice.claim(bob.account) + await alice.claim(carol.account))
    await join_from_queue(bob)
    await join_from_queue(carol)
    assert (await post(hb, bob, content("abuse, over MIMI"))).status_code == 201
    item = [i for i in await carol.wait_items(1) if i.kind == "application"][-1]
    assert item.frank is not None
    opened = open_item(carol, item)
    franked = w.Frank.from_bytes(item.frank)

    def abuse(frank: w.Frank = franked, reporter: str = f"mimi://gamma.test/u/carol{tag}",
              note: bytes = "spam, «again»".encode()) -> bytes:
        message = w.AbusiveMessage(opened.encoded, frank, item.created_at)
        return w.AbuseReport(w.IdentifierUri.of(reporter),
                             w.IdentifierUri.of(w.mimi_user_uri(bob.account)), 9, note,
                             (message,)).to_bytes()

    def path(group_id: bytes, hub: str = "alpha.test") -> str:
        return "/mimi/v1/reportAbuse/" + quote(w.mimi_room_uri(hub, group_id), safe="")

    ops = operator(alpha)
    before = len(await reports_at(ha, ops, 0))
    r = await evil.send(alpha, path(gid), abuse())
    assert r.status_code == 201 and r.content == b"", r.text
    filed = await reports_at(ha, ops, before + 1)
    assert len(filed) == before + 1
    assert (filed[-1].reporter, filed[-1].alleged_sender, filed[-1].content,
            filed[-1].reason_code, filed[-1].note) == (
        "via gamma.test", bob.account, opened.encoded, 9, "spam, «again»")
    # the note: UTF-8 (5.9), at most MAX_NOTE octets (the hub's one report check)
    from accord.wire.privacy import MAX_NOTE
    _error(await evil.send(alpha, path(gid), abuse(note=b"\xff spam")), 422,
           "validation_error", "UTF-8")
    _error(await evil.send(alpha, path(gid), abuse(note="é".encode() * (MAX_NOTE // 2 + 1))),
           422, "validation_error", "note")
    # a forged frank: acknowledged (5.9), not filed
    assert (await evil.send(alpha, path(gid), abuse(frank=w.Frank(secrets.token_bytes(32), 0, b"")))
            ).status_code == 201
    # gamma speaks for alpha's user; names a room another provider hubs; or one unknown
    _error(await evil.send(alpha, path(gid), abuse(reporter=w.mimi_user_uri(alice.account))),
           422, "validation_error", "requester is not an account of the requesting")
    _error(await evil.send(alpha, path(gid, "beta.test"), abuse()), 404, "not_found",
           "not the hub of this room")
    _error(await evil.send(alpha, path(secrets.token_bytes(16)), abuse()), 404, "not_found", "")
    # a room where gamma hosts no member
    other = secrets.token_bytes(16)
    await alice.create_group(other)
    _error(await evil.send(alpha, path(other), abuse()), 401, "auth_error",
           "hosts no member of this group")
    empty = w.AbuseReport(w.IdentifierUri(b""), w.IdentifierUri.of(w.mimi_user_uri(bob.account)),
                          0, b"").to_bytes()
    _error(await evil.send(alpha, path(gid), empty), 422, "validation_error", "1 to 16 messages")
    assert len(await reports_at(ha, ops, 0)) == before + 1


def test_mimi_check_signed_as_a_peer_checks_the_answers_formats(
    providers: dict[str, Provider],
) -> None:
    """``accord mimi check --sign-as``: an operator checks beta from gamma (a peer beta
    knows); keyMaterial and identifierQuery are probed signed and their answers decode."""
    from click.testing import CliRunner

    from accord.cli.main import cli

    beta, gamma = providers["beta"], providers["gamma"]
    result = CliRunner().invoke(cli, ["mimi", "check", beta.url, "--domain", "beta.test",
                                      "--sign-as", "gamma.test",
                                      "--provider-data", str(gamma.data_dir),
                                      *(["--provider-database", gamma.database]
                                        if gamma.database else [])])
    assert result.exit_code == 0, result.output
    lines = {line.split()[1]: line for line in result.output.splitlines()[:-1]}
    for key in ("keyMaterial", "identifierQuery", "groupInfo"):
        assert lines[key].startswith("conforms") and (
            "signed probe: HTTP 200, the answer decodes" in lines[key]), result.output
    for key in ("requestConsent", "updateConsent"):
        assert lines[key].startswith("conforms") and (
            "signed probe: HTTP 201, no body" in lines[key]), result.output
    served = len(MIMI_SPECS)
    assert result.output.splitlines()[-1] == (
        f"{served + 1} conform, 0 differ, {len(w.ENDPOINTS) - served} missing")


async def test_mimi_check_names_a_signed_probe_the_provider_refuses(
    providers: dict[str, Provider],
) -> None:
    """Signed as a provider beta cannot resolve: the signed probes differ (HTTP 404)."""
    from accord.interop.mimi_check import Signer, check

    beta, gamma = providers["beta"], providers["gamma"]
    async with httpx.AsyncClient(timeout=20) as http:
        findings = await check(beta.url, http, domain="beta.test",
                               signer=Signer("nobody.test", gamma.key().sign))
    differs = {f.name: f.detail for f in findings if f.verdict == "differs"}
    assert differs == {key: "signed probe: HTTP 404" for key in (
        "keyMaterial", "identifierQuery", "groupInfo", "requestConsent", "updateConsent")}
