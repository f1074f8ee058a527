"""A malicious group member against live providers (T05, T08): the "ghost" attacks.

The member tries to make the hub deliver to a device that is not in the MLS
group (its accomplice, the ghost), to stop it delivering to one that is
(bob), or to stick the group with a commit nobody can process. Each attack
runs on the local route (mallory on alpha, the hub) and the federated one
(mallory on beta, which forwards to the hub), on SQLite and PostgreSQL.
Every refusal is the exact status, error code and rule; after it nothing has
moved at the hub and the group still works (``Scene.assert_intact``).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator

import httpx
import pytest

from accord.mls import group as g
from accord.mls.structs import Remove
from accord.wire import b64e, dumps, signing
from accord.wire import federation as fw
from accord.wire import messages as m
from tests.engine import engine_params
from tests.federation.conftest import running
from tests.federation.malicious_member import Scene, scene
from tests.federation.providers import MlsDevice, Provider, signed_post


@pytest.fixture(scope="module", params=engine_params())
def providers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[dict[str, Provider]]:
    """Accord's earlier transport (--accord-transport): the "beta" cases reach the hub
    through the follower's Accord routes /federation/v1/commits and /proposals, which
    are what they attack (the hub's checks of MIMI updates: test_mimi_room.py)."""
    yield from running(request, tmp_path_factory, mimi=False)


ROUTES = ["alpha", "beta"]  # where mallory's account is: the hub itself, or a follower


def refused(r: httpx.Response, status: int, error: str, rule: str = "") -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"] == error, r.text
    assert rule in r.json()["message"], r.text


async def _scene(clients: dict[str, httpx.AsyncClient], route: str
                 ) -> tuple[Scene, m.GroupState]:
    s = await scene(clients, route)
    return s, await s.hub_view()


@pytest.mark.parametrize("route", ROUTES)
async def test_T05_a_commit_in_a_private_message_is_refused(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient], route: str
) -> None:
    """Its roster change would be the committer's word: here an empty update that
    declares the ghost added and bob removed."""
    s, before = await _scene(clients, route)
    claimed, welcome = await s.ghost_claim()
    commit, _, posting = s.mallory.commit_msg(encrypt=True)
    r = await s.mallory.send_commit(commit, added=[claimed.device_id],
                                    removed=[s.bob.device_id], welcome=welcome,
                                    posting_key=posting, expect=422)
    refused(r, 422, "validation_error", "Accord hub: handshake in PublicMessage")
    # A proposal too: the hub would not see what it proposes.
    hidden = g.GroupConfig(encrypt_handshake=True)
    msg, _ = g.propose(dataclasses.replace(s.mallory.state, config=hidden),
                       Remove(s.leaf(s.bob)))
    r = await s.mallory.send_proposal(bytes(msg.to_bytes()), expect=422)
    refused(r, 422, "validation_error", "Accord hub: handshake in PublicMessage")
    await s.assert_intact(before)


@pytest.mark.parametrize("route", ROUTES)
async def test_T05_a_proposal_by_reference_cannot_skip_the_removal(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient], route: str
) -> None:
    """mallory proposes bob's removal, commits it by reference and declares no
    removal: bob would be out of the MLS group and still on the hub's roster."""
    s, before = await _scene(clients, route)
    proposal, ref = s.mallory.propose_remove_of(s.leaf(s.bob))
    await s.mallory.send_proposal(proposal, expect=201)
    commit, _, posting = s.mallory.commit_msg(refs=[ref])
    r = await s.mallory.send_commit(commit, removed=[], posting_key=posting, expect=422)
    refused(r, 422, "validation_error", "RFC 9420 12.1.3")
    before = await s.hub_view()  # the accepted proposal moved nothing either
    await s.assert_intact(before)


@pytest.mark.parametrize("route", ROUTES)
async def test_T05_a_declared_roster_must_be_the_commits_content(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient], route: str
) -> None:
    """A PublicMessage commit (an update) that declares the ghost added, or bob removed."""
    s, before = await _scene(clients, route)
    claimed, welcome = await s.ghost_claim()
    commit, _, posting = s.mallory.commit_msg()
    r = await s.mallory.send_commit(commit, added=[claimed.device_id], welcome=welcome,
                                    posting_key=posting, expect=422)
    refused(r, 422, "validation_error", "RFC 9420 12.1.1")
    r = await s.mallory.send_commit(commit, removed=[s.bob.device_id], posting_key=posting,
                                    expect=422)
    refused(r, 422, "validation_error", "RFC 9420 12.1.3")
    await s.assert_intact(before)


@pytest.mark.parametrize("route", ROUTES)
async def test_T08_a_commit_from_a_sender_that_is_not_a_member_is_refused(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient], route: str
) -> None:
    """The ghost's own session, another member's leaf as sender, and (federated) a
    follower speaking for the ghost."""
    s, before = await _scene(clients, route)
    commit, _, posting = s.mallory.commit_msg()
    req = m.CommitRequest(epoch=s.mallory.epoch(), commit=commit, posting_key=posting)
    r = await s.ghost.call("POST", f"/v1/groups/{b64e(s.gid)}/commits", req, expect=404)
    refused(r, 404, "not_found")
    forged = s.mallory.as_sender(commit, s.leaf(s.alice))
    r = await s.mallory.send_commit(forged, posting_key=posting, expect=422)
    refused(r, 422, "validation_error", "RFC 9420 12.4")
    if route == "beta":
        beta = providers["beta"]
        body = dumps(fw.FedCommit(group_id=s.gid, sender=s.ghost.device_id,
                                  sender_account=s.ghost.account, epoch=s.mallory.epoch(),
                                  commit=commit, posting_key=posting))
        r = await clients["alpha"].send(signed_post(providers["alpha"].url,
                                                    "/federation/v1/commits", body,
                                                    "beta.test", beta.key().sign))
        refused(r, 401, "auth_error")
    await s.assert_intact(before)


@pytest.mark.parametrize("route", ROUTES)
async def test_T05_a_junk_commit_cannot_stick_the_group(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient], route: str
) -> None:
    """Bytes that are no commit, and a commit by reference to a proposal the hub never
    accepted (no member could process it): refused, the group goes on."""
    s, before = await _scene(clients, route)
    r = await s.mallory.send_commit(secrets.token_bytes(64), expect=400)
    refused(r, 400, "decode_error")
    _, ref = s.mallory.propose_remove_of(s.leaf(s.bob))  # never sent to the hub
    commit, _, posting = s.mallory.commit_msg(refs=[ref])
    r = await s.mallory.send_commit(commit, removed=[s.bob.device_id], posting_key=posting,
                                    expect=422)
    refused(r, 422, "validation_error", "RFC 9420 12.4")
    await s.assert_intact(before)


@pytest.mark.parametrize("route", ROUTES)
async def test_T08_a_proposal_must_come_from_the_senders_leaf_for_this_epoch(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient], route: str
) -> None:
    """Through the member's own provider, and (federated) straight from a follower
    that skips its own checks: the hub runs the proposal checks for every origin."""
    s, before = await _scene(clients, route)
    proposal, _ = s.mallory.propose_remove_of(s.leaf(s.bob))
    forged = s.mallory.as_sender(proposal, s.leaf(s.alice))
    r = await s.mallory.send_proposal(forged, expect=422)
    refused(r, 422, "validation_error", "RFC 9420 12.1")
    if route == "beta":
        for body, rule in ((forged, "RFC 9420 12.1"), (proposal, "RFC 9420 6.3")):
            fp = fw.FedProposal(group_id=s.gid, sender=s.mallory.device_id,
                                sender_account=s.mallory.account,
                                epoch=s.mallory.epoch() + (rule == "RFC 9420 6.3"),
                                proposal=body)
            r = await clients["alpha"].send(signed_post(
                providers["alpha"].url, "/federation/v1/proposals", dumps(fp), "beta.test",
                providers["beta"].key().sign))
            refused(r, 422, "validation_error", rule)
    await s.assert_intact(before)


async def test_T11_a_forwarded_post_must_be_an_application_private_message(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient]
) -> None:
    """A follower forwards posts as members signed them; the hub checks them as it
    checks its own devices' posts (here a handshake message under the posting key)."""
    s, before = await _scene(clients, "beta")
    proposal, _ = s.mallory.propose_remove_of(s.leaf(s.bob))
    nonce, epoch = secrets.token_bytes(16), s.mallory.epoch()
    sig = s.mallory.posting_key().sign(signing.post_input(s.gid, epoch, nonce, proposal))
    post = fw.FedPost(group_id=s.gid, epoch=epoch, nonce=nonce, ciphertext=proposal,
                      signature=sig)
    r = await clients["alpha"].send(signed_post(
        providers["alpha"].url, "/federation/v1/posts", dumps(post), "beta.test",
        providers["beta"].key().sign))
    refused(r, 422, "validation_error", "RFC 9420 6.2")
    assert [i for i in (await s.bob.fetch()).items if i.kind == "application"] == []
    await s.assert_intact(before)


@pytest.mark.parametrize("route", ROUTES)
async def test_T01_a_member_cannot_rename_itself_into_another_user(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient], route: str
) -> None:
    """A commit whose new leaf, or an Update whose leaf, carries alice's identity: the
    hub's roster would say mallory's device while every member sees "alice"."""
    s, before = await _scene(clients, route)
    commit, _, posting = s.mallory.commit_msg(rename_to=s.alice.identity)
    r = await s.mallory.send_commit(commit, posting_key=posting, expect=422)
    refused(r, 422, "validation_error", "RFC 9420 5.3.1")
    r = await s.mallory.send_proposal(s.mallory.propose_rename(s.alice.identity), expect=422)
    refused(r, 422, "validation_error", "RFC 9420 5.3.1")
    await s.assert_intact(before)


# Commits the hub checks against the group's public MLS state (accord.mls.group.public):
# well-formed, from mallory's own leaf, with a roster that matches their content, yet
# refused by every other member. Before the hub kept the public state it accepted them,
# and the group was stuck at an epoch nobody could enter.


# mallory's own commit, well formed, then broken in one place: (how, the rule refusing it)
TAMPERED_COMMITS = {
    "bad_signature": ("bad_signature", "RFC 9420 6.1"),
    "bad_update_path_parent_hash": ("bad_parent_hash", "RFC 9420 7.9.2"),
    # one ciphertext per node of each copath resolution (7.6): a count the hub checks;
    # what each ciphertext holds only its recipient can
    "update_path_missing_a_ciphertext": ("short_path_ciphertexts", "RFC 9420 7.6"),
}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("tampering", sorted(TAMPERED_COMMITS))
async def test_T05_a_tampered_commit_is_refused(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient], route: str,
    tampering: str
) -> None:
    how, rule = TAMPERED_COMMITS[tampering]
    s, before = await _scene(clients, route)
    commit, _, posting = s.mallory.commit_msg()
    r = await s.mallory.send_commit(getattr(s.mallory, how)(commit), posting_key=posting,
                                    expect=422)
    refused(r, 422, "validation_error", rule)
    await s.assert_intact(before)


@pytest.mark.parametrize("route", ROUTES)
async def test_T05_a_commit_adding_an_invalid_key_package_is_refused(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient], route: str
) -> None:
    """The ghost's real KeyPackage with its signature broken (RFC 9420 10.1, 12.1.1),
    the commit otherwise right: declared roster, Welcome addressed to it."""
    from accord.mls.codec import decode as mls_decode
    from accord.mls.structs import Add
    from accord.mls.structs.messages import MLSMessage

    s, before = await _scene(clients, route)
    claimed, _ = await s.ghost_claim()
    add = Add(mls_decode(MLSMessage, claimed.key_package).message)
    commit, welcome, posting = s.mallory.commit_msg(by_value=[add])
    assert welcome is not None
    forged, readdressed = s.mallory.bad_key_package_add(commit, welcome)
    r = await s.mallory.send_commit(forged, added=[claimed.device_id], welcome=readdressed,
                                    posting_key=posting, expect=422)
    refused(r, 422, "validation_error", "RFC 9420 10.1")
    await s.assert_intact(before)


@pytest.mark.parametrize("route", ROUTES)
async def test_T05_a_proposal_the_members_would_refuse_is_refused(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient], route: str
) -> None:
    """A Remove proposal with a bad signature, and an Add proposal (re-signed by
    mallory) of a KeyPackage whose signature is broken: a commit by reference to
    either would stick the group, so neither is kept."""
    from accord.mls.codec import decode as mls_decode
    from accord.mls.structs.messages import MLSMessage

    s, before = await _scene(clients, route)
    proposal, _ = s.mallory.propose_remove_of(s.leaf(s.bob))
    r = await s.mallory.send_proposal(s.mallory.bad_signature(proposal), expect=422)
    refused(r, 422, "validation_error", "RFC 9420 6.1")
    claimed, _ = await s.ghost_claim()
    kp = mls_decode(MLSMessage, claimed.key_package).message
    r = await s.mallory.send_proposal(s.mallory.bad_key_package_proposal(kp), expect=422)
    refused(r, 422, "validation_error", "RFC 9420 10.1")
    await s.assert_intact(before)


async def test_T05_a_group_starts_only_from_its_creators_own_group_info(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient]
) -> None:
    """The hub's public state of a new group comes from the creator's GroupInfo of epoch
    0: one of another group, one whose only leaf is someone else's, one whose signature
    does not verify, or bytes that are none are refused; the creator's own is taken."""
    import time

    from accord.mls import group as g
    from accord.mls.codec import decode as mls_decode
    from accord.mls.structs import Credential
    from accord.mls.structs.messages import MLSMessage
    from accord.mls.suites import get_suite
    from tests.federation.groups import user

    tag = secrets.token_hex(3)
    eve = await user(clients["alpha"], f"eve{tag}@alpha.test")
    bob = await user(clients["alpha"], f"bob{tag}@alpha.test")
    gid = secrets.token_bytes(16)

    def info_of(dev: MlsDevice, group_id: bytes) -> bytes:
        state = g.create_group(get_suite(1), group_id, Credential.basic(dev.identity),
                               dev.key.private_bytes_raw(), int(time.time()))
        return bytes(g.group_info(state, with_external_pub=False).to_bytes())

    async def create(info: bytes, expect: int) -> httpx.Response:
        req = m.CreateGroupRequest(group_id=gid, posting_key=b"P" * 32, group_info=info)
        return await eve.call("POST", "/v1/groups", req, expect=expect)

    refused(await create(info_of(eve, secrets.token_bytes(16)), 422), 422, "validation_error",
            "RFC 9420 11")
    refused(await create(info_of(bob, gid), 422), 422, "validation_error", "RFC 9420 11")
    msg = mls_decode(MLSMessage, info_of(eve, gid))
    forged = dataclasses.replace(msg.message, signature=bytes(len(msg.message.signature)))
    refused(await create(bytes(dataclasses.replace(msg, message=forged).to_bytes()), 422),
            422, "validation_error", "RFC 9420 12.4.3")
    refused(await create(secrets.token_bytes(48), 400), 400, "decode_error")
    await create(info_of(eve, gid), 201)
