"""Forged, replayed and injected provider-to-provider requests are refused (three processes).

The test speaks as a provider itself: it signs with the real key a provider
keeps in its data folder (what a compromised or malicious peer could do with
its own key) or with a key of its own (a forger).
"""

from __future__ import annotations

import time

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.wire import b64e, decode, dumps
from accord.wire import federation as fw
from accord.wire import messages as m
from tests.federation.groups import alice_and_bob
from tests.federation.providers import Provider, signed_post
from tests.harness import group_path, mls_epoch_info

CLAIM = "/federation/v1/keypackages/claim"


def _resend(request: httpx.Request, url: str | None = None, content: bytes | None = None
            ) -> httpx.Request:
    """The same signature headers on another URL or body (Host and length recomputed)."""
    keep = ("content-digest", "signature-input", "signature", "content-type")
    headers = {k: v for k, v in request.headers.items() if k.lower() in keep}
    return httpx.Request("POST", url or request.url, headers=headers,
                         content=request.content if content is None else content)


def _claim_body(account: str = "nobody@alpha.test", requester: str = "x@beta.test") -> bytes:
    return dumps(fw.FedClaimRequest(account=account, requester=requester))


async def test_forged_requests_are_refused(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient]
) -> None:
    alpha, beta = providers["alpha"], providers["beta"]
    http = clients["alpha"]
    body = _claim_body()
    real = beta.key().sign
    forger = Ed25519PrivateKey.generate().sign

    # A correctly signed request gets through to the handler (404: no such account).
    r = await http.send(signed_post(alpha.url, CLAIM, body, "beta.test", real))
    assert r.status_code == 404, r.text
    # Each forgery gets its exact refusal: 401 auth_error, but 404 not_found for a
    # domain the provider cannot resolve at all.
    cases = {
        "no signature": (httpx.Request("POST", alpha.url + CLAIM, content=body), 401),
        "bad signature (a forger's key)": (
            signed_post(alpha.url, CLAIM, body, "beta.test", forger), 401),
        "beta's key claiming to be gamma": (
            signed_post(alpha.url, CLAIM, body, "gamma.test", real), 401),
        "unknown domain": (signed_post(alpha.url, CLAIM, body, "evil.test", forger), 404),
        "too old": (signed_post(alpha.url, CLAIM, body, "beta.test", real,
                                created=int(time.time()) - 3600), 401),
    }
    for name, (request, status) in cases.items():
        r = await http.send(request)
        assert r.status_code == status, (name, r.status_code, r.text)
        assert r.json()["error"] == ("not_found" if status == 404 else "auth_error"), name
    tampered = _resend(signed_post(alpha.url, CLAIM, body, "beta.test", real),
                       content=_claim_body("alice@alpha.test"))
    r = await http.send(tampered)
    assert r.status_code == 401 and "Content-Digest" in r.text, r.text
    # Signed for gamma's address, presented to alpha (@authority is covered).
    r = await http.send(signed_post(alpha.url, CLAIM, body, "beta.test", real))
    assert r.status_code == 404
    wrong_target = signed_post(providers["gamma"].url, CLAIM, body, "beta.test", real)
    r = await http.send(_resend(wrong_target, url=alpha.url + CLAIM))
    assert r.status_code == 401, r.text


async def test_a_replayed_request_is_refused(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient]
) -> None:
    alpha, beta = providers["alpha"], providers["beta"]
    request = signed_post(alpha.url, CLAIM, _claim_body(), "beta.test", beta.key().sign)
    first = await clients["alpha"].send(request)
    again = await clients["alpha"].send(_resend(request))
    assert first.status_code == 404
    assert again.status_code == 401 and "replayed" in again.text


async def test_a_follower_cannot_commit_for_a_member_it_does_not_host(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient]
) -> None:
    alpha, beta, gamma = providers["alpha"], providers["beta"], providers["gamma"]
    alice, bob, gid = await alice_and_bob(clients["alpha"], clients["beta"], "inj")
    from accord.mls import group as g

    # A real commit by bob (an empty one: a self-update), carried by the wrong providers.
    result, _ = g.commit(bob.state, now=int(time.time()), force_path=True)
    commit = bytes(result.commit.to_bytes())

    def fed_commit(sender: str, account: str) -> bytes:
        return dumps(fw.FedCommit(group_id=gid, sender=sender, sender_account=account,
                                  epoch=1, commit=commit, posting_key=b"P" * 32))

    injections = [
        # gamma hosts no member, yet claims bob's device (hosted by beta).
        ("gamma.test", gamma, fed_commit(bob.device_id, bob.account)),
        # beta claims alice's device, which the hub itself hosts.
        ("beta.test", beta, fed_commit(alice.device_id, bob.account)),
        # beta names its own device but another domain's account.
        ("beta.test", beta, fed_commit(bob.device_id, "mallory@gamma.test")),
    ]
    for keyid, prov, body in injections:
        r = await clients["alpha"].send(
            signed_post(alpha.url, "/federation/v1/commits", body, keyid, prov.key().sign))
        assert r.status_code == 401, (keyid, r.text)
    # A post from a provider that hosts no member of the group is refused too.
    post = dumps(fw.FedPost(group_id=gid, epoch=1, nonce=b"n" * 16, ciphertext=b"c",
                            signature=b"s" * 64))
    r = await clients["alpha"].send(
        signed_post(alpha.url, "/federation/v1/posts", post, "gamma.test", gamma.key().sign))
    assert r.status_code == 401, r.text
    # Nothing moved: the group is still at epoch 1 and bob's own commit goes through beta.
    r = await alice.call("GET", group_path(gid), expect=200)
    assert decode(m.GroupState, r.json()).epoch == 1
    before = alice.epoch()
    result, pending = g.commit(bob.state, now=int(time.time()), force_path=True)
    merged = g.merge_pending(pending)
    info, tree = mls_epoch_info(merged, b"Q" * 32)
    req = m.CommitRequest(epoch=1, commit=bytes(result.commit.to_bytes()),
                          posting_key=b"Q" * 32, group_info=info, ratchet_tree=tree)
    await bob.call("POST", group_path(gid, "/commits"), req, expect=201)
    bob.state = merged
    items = await alice.wait_items(1)
    alice.read(items[-1].body)
    assert alice.epoch() == before + 1 == bob.epoch()
    assert b64e(gid)  # the group id travels base64url in paths


async def test_a_follower_cannot_misplace_a_device_it_adds(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient]
) -> None:
    """beta says carol's device (gamma.test by its credential) is its own: refused."""
    from accord.mls import group as g
    from accord.mls.codec import decode as mls_decode
    from accord.mls.structs import Add
    from accord.mls.structs.messages import MLSMessage
    from tests.federation.groups import join_from_queue, user

    alpha, beta = providers["alpha"], providers["beta"]
    alice, bob, gid = await alice_and_bob(clients["alpha"], clients["beta"], "mis")
    carol = await user(clients["gamma"], "carol.mis@gamma.test")
    claimed = await bob.claim(carol.account)
    adds = [Add(mls_decode(MLSMessage, c.key_package).message) for c in claimed]
    result, pending = g.commit(bob.state, now=int(time.time()), by_value=adds)
    commit, welcome = bytes(result.commit.to_bytes()), bytes(result.welcome.to_bytes())

    def fed_commit(domain: str) -> bytes:
        return dumps(fw.FedCommit(
            group_id=gid, sender=bob.device_id, sender_account=bob.account, epoch=1,
            commit=commit, posting_key=b"P" * 32, welcome=welcome,
            added=[fw.FedDevice(c.device_id, domain) for c in claimed]))

    r = await clients["alpha"].send(signed_post(alpha.url, "/federation/v1/commits",
                                                fed_commit("beta.test"), "beta.test",
                                                beta.key().sign))
    assert r.status_code == 422, r.text
    # The same commit, placed where the credential says, is ordered and carol joins.
    r = await clients["alpha"].send(signed_post(alpha.url, "/federation/v1/commits",
                                                fed_commit("gamma.test"), "beta.test",
                                                beta.key().sign))
    assert r.status_code == 201, r.text
    bob.state = g.merge_pending(pending)
    await join_from_queue(carol)
    assert carol.epoch() == bob.epoch() == 2
