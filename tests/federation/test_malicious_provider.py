"""A malicious peer provider against live providers (issue 17, T08 and T14).

gamma.test signs whatever it likes with its own real provider key
(:mod:`tests.federation.malicious_provider`): every request authenticates, so
each test shows what the receiving handler refuses on its own. Every
provider-to-provider handler checks that each account, device and group a
peer names is one the peer may speak for (it hosts the account; it is the
group's hub; the device is bound to it by its owner's provider).
"""

from __future__ import annotations

import dataclasses
import secrets
import time

import httpx

from accord.client import consent
from accord.server.account_data import FED_DELETED
from accord.storage import DeviceRecord, open_store
from accord.wire import b64e, decode
from accord.wire import federation as fw
from accord.wire import messages as m
from accord.wire import privacy as w
from tests.federation.groups import acquainted, alice_and_bob, join_from_queue, user
from tests.federation.malicious_provider import MaliciousProvider, item
from tests.federation.providers import MlsDevice, Provider
from tests.harness import group_path

MALLORY = "mallory@gamma.test"


def _dev() -> str:
    return b64e(secrets.token_bytes(16))


def _error(r: httpx.Response, status: int, code: str, words: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"] == code and words in r.json()["message"], r.text


async def _requests(dev) -> list[tuple[bytes, str]]:  # type: ignore[no-untyped-def]
    r = await dev.call("GET", "/v1/requests", expect=200)
    return [(q.group_id, q.from_account)
            for q in decode(fw.MessageRequestList, r.json()).requests]


# 1. erasing another provider's users ---------------------------------------------------


async def test_T08_a_peer_cannot_erase_another_providers_users(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    alpha = providers["alpha"]
    alice, bob, gid = await alice_and_bob(clients["alpha"], clients["beta"], "erase")
    # alice's device is alpha's own, bob's is bound to beta: gamma speaks for neither
    for victims in ([alice.device_id], [bob.device_id], [_dev(), bob.device_id]):
        r = await evil.send(alpha, FED_DELETED, w.FedAccountDeleted(MALLORY, victims))
        _error(r, 401, "auth_error", "only delete devices it hosts")
    r = await evil.send(alpha, FED_DELETED, w.FedAccountDeleted(bob.account, [bob.device_id]))
    _error(r, 401, "auth_error", "only delete its own accounts")
    r = await alice.call("GET", group_path(gid), expect=200)
    assert sorted(decode(m.GroupState, r.json()).members) == sorted(
        [alice.device_id, bob.device_id])
    assert len(await alice.claim(bob.account)) == 1  # bob's binding to beta is intact
    # gamma may speak for its own account: an id unknown here names nothing
    r = await evil.send(alpha, FED_DELETED, w.FedAccountDeleted(MALLORY, [_dev()]))
    assert r.status_code == 200, r.text


# 2. consent: blocks and message requests for every item kind ----------------------------


async def test_T14_a_hub_cannot_deliver_an_unnamed_welcome(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    beta = providers["beta"]
    bob = await user(clients["beta"], "bob.unnamed@beta.test")
    gid, roster = secrets.token_bytes(16), [(bob.device_id, "beta.test")]
    r = await evil.deliver(beta, item("welcome", gid, [bob.device_id], roster=roster))
    _error(r, 422, "validation_error", "must name its sender")
    for kind in ("commit", "proposal"):
        r = await evil.deliver(beta, item(kind, gid, [bob.device_id], roster=roster))
        _error(r, 422, "validation_error", "must name its sender")
    assert (await bob.fetch()).items == []
    # Named, the same invitation is a message request from the named stranger.
    r = await evil.deliver(beta, item("welcome", gid, [bob.device_id], sender=_dev(),
                                      sender_account=MALLORY, roster=roster))
    assert r.status_code == 200, r.text
    assert [i.kind for i in (await bob.fetch()).items] == ["welcome"]
    assert await _requests(bob) == [(gid, MALLORY)]


async def test_T14_a_blocked_domain_reaches_nobody_through_its_hub(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """bob blocked gamma.test; gamma's hub names an inviter of another domain."""
    beta = providers["beta"]
    bob = await user(clients["beta"], "bob.dom@beta.test")
    ann = await user(clients["beta"], "ann.dom@beta.test")  # a control: blocks nothing
    await bob.call("POST", "/v1/blocks", {"target": "gamma.test"}, expect=200)
    gid = secrets.token_bytes(16)
    roster = [(bob.device_id, "beta.test"), (ann.device_id, "beta.test")]
    welcome = item("welcome", gid, [bob.device_id, ann.device_id], sender=_dev(),
                   sender_account="carol.dom@alpha.test", roster=roster)
    r = await evil.deliver(beta, welcome, item("application", gid,
                                               [bob.device_id, ann.device_id], epoch=1))
    assert r.status_code == 200, r.text
    assert (await bob.fetch()).items == [] and await _requests(bob) == []
    assert [i.kind for i in (await ann.fetch()).items] == ["welcome", "application"]
    assert await _requests(ann) == [(gid, "carol.dom@alpha.test")]
    # ann blocks the domain later: nothing more of gamma's group reaches her
    await ann.call("POST", "/v1/blocks", {"target": "gamma.test"}, expect=200)
    r = await evil.deliver(beta, item("application", gid, [ann.device_id], epoch=1))
    assert r.status_code == 200, r.text
    assert len((await ann.fetch()).items) == 2


async def test_T14_items_of_a_group_never_entered_are_dropped(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """No Welcome passed consent: a roster naming bob does not make him a member."""
    beta = providers["beta"]
    bob = await user(clients["beta"], "bob.never@beta.test")
    gid, sender = secrets.token_bytes(16), _dev()
    roster = [(bob.device_id, "beta.test"), (sender, "gamma.test")]
    r = await evil.deliver(
        beta,
        item("commit", gid, [bob.device_id], sender=sender, sender_account=MALLORY,
             roster=roster),
        item("proposal", gid, [bob.device_id], epoch=1, sender=sender,
             sender_account=MALLORY),
        item("application", gid, [bob.device_id], epoch=1))
    assert r.status_code == 200, r.text
    assert decode(fw.FedDeliverResponse, r.json()).accepted == 3
    assert (await bob.fetch()).items == [] and await _requests(bob) == []


async def test_T14_a_relayed_welcome_naming_a_local_account_is_still_screened(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """gamma names beta's own ann as the inviter: beta cannot check that, so it is
    a message request like any relayed invitation (no local-sender shortcut)."""
    beta = providers["beta"]
    bob = await user(clients["beta"], "bob.local@beta.test")
    gid = secrets.token_bytes(16)
    r = await evil.deliver(beta, item("welcome", gid, [bob.device_id], sender=_dev(),
                                      sender_account="ann.local@beta.test",
                                      roster=[(bob.device_id, "beta.test")]))
    assert r.status_code == 200, r.text
    assert await _requests(bob) == [(gid, "ann.local@beta.test")]


async def test_T14_a_hub_cannot_pass_off_another_groups_message_id(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """A message id another hub used for bob's group is not a 'duplicate' of gamma's."""
    beta = providers["beta"]
    alice, bob, gid = await alice_and_bob(clients["alpha"], clients["beta"], "mid")
    await alice.post(b"hello bob")
    taken = (await bob.wait_items(1))[0].msg_id  # alpha's message to bob
    other = secrets.token_bytes(16)
    r = await evil.deliver(beta, item("welcome", other, [bob.device_id], msg_id=taken,
                                      sender=_dev(), sender_account=MALLORY,
                                      roster=[(bob.device_id, "beta.test")]))
    _error(r, 409, "conflict", "belongs to another group")


async def test_T14_an_unnamed_welcome_is_a_message_request_on_the_client(
    providers: dict[str, Provider], tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    """Even from its own provider, a Welcome that names no member as its inviter is
    a message request, never a conversation taken as accepted."""
    from accord.client import conversations as convs
    from accord.client import inbox, message_requests
    from tests.e2e.helpers import Clock, new_device

    clock, url, tag = Clock(), providers["alpha"].url, secrets.token_hex(3)
    alice = await new_device(tmp_path / "a", f"alice{tag}@alpha.test", url, clock)
    bob = await new_device(tmp_path / "b", f"bob{tag}@alpha.test", url, clock)
    ann = await new_device(tmp_path / "c", f"ann{tag}@alpha.test", url, clock)
    for dev in (bob, ann):  # alice is no stranger: the provider lists no request (T14)
        await acquainted(dev, alice.identity.account, clock)
    conv = await convs.create(alice, "hi", [bob.identity.account, ann.identity.account],
                              clock())
    for dev, unnamed in ((bob, True), (ann, False)):
        items = (await dev.api.fetch(dev.cursor)).items
        welcome = next(i for i in items if i.kind == "welcome")
        if unnamed:
            welcome = dataclasses.replace(welcome, sender=None)
        await inbox.apply_items(dev, [welcome], clock())
        mine = dev.store.conversation(conv["conv_id"])
        assert consent.is_pending(mine) == unnamed
    held = bob.store.conversation(conv["conv_id"])["meta"]["request"]
    assert held == {"from": alice.identity.account, "state": "pending", "listed": False}
    # not listed by the provider, so no other device "accepted" it meanwhile
    assert await message_requests.reconcile(bob, clock()) == 0


# 3. bindings: a peer's word never binds another provider's device for good ---------------


async def test_T08_a_roster_cannot_bind_another_providers_device_for_good(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    alpha = providers["alpha"]
    alice = await user(clients["alpha"], "alice.squat@alpha.test")
    bob = await user(clients["beta"], "bob.squat@beta.test")
    gid, sender = secrets.token_bytes(16), _dev()
    # gamma's roster says bob's device is gamma's own: bound, but only on gamma's word
    roster = [(alice.device_id, "alpha.test"), (bob.device_id, "gamma.test"),
              (sender, "gamma.test")]
    commit = item("commit", gid, [alice.device_id], sender=sender, sender_account=MALLORY,
                  roster=roster)
    assert (await evil.deliver(alpha, commit)).status_code == 200
    # beta's own answer for its own account takes the id back: bob stays reachable
    assert [c.device_id for c in await alice.claim(bob.account)] == [bob.device_id]
    # and gamma's word cannot take it again
    again = item("commit", gid, [alice.device_id], epoch=1, sender=sender,
                 sender_account=MALLORY, roster=roster)
    assert (await evil.deliver(alpha, again)).status_code == 200
    assert [c.device_id for c in await alice.claim(bob.account)] == [bob.device_id]
    assert (await alice.fetch()).items == []  # never admitted to gamma's group either


async def test_T08_a_provider_cannot_take_over_a_device_id_it_has_seen(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """Device ids are random names, not unique across providers. gamma lists bob's
    device id, before alpha has seen it, under an account of its own, and answers
    alpha's claim with it. That is gamma's device, keyed by gamma's account: bob's
    stays bob's at beta, gets alice's Welcome through beta, and gamma's deletion
    notice for the id takes nothing of bob's."""
    gamma = providers["gamma"]
    alice = await user(clients["alpha"], "alice.take@alpha.test")
    bob = await user(clients["beta"], "bob.take@beta.test")
    mallory = await user(clients["gamma"], "mallory.take@gamma.test")
    # gamma's operator writes bob's id under mallory's account, with KeyPackages
    twin = MlsDevice(clients["gamma"], mallory.account)
    twin.device_id = bob.device_id
    store = await open_store(gamma.data_dir, gamma.database)
    try:
        await store.add_device(DeviceRecord(bob.device_id, mallory.account, twin.public, 1))
        await store.add_key_packages(bob.device_id, [twin.new_key_package()], None)
    finally:
        await store.close()
    assert bob.device_id in [c.device_id for c in await alice.claim(mallory.account)]
    # beta answers for bob: bob's device is still bob's, reachable through beta
    assert [c.device_id for c in await alice.claim(bob.account)] == [bob.device_id]
    gid = secrets.token_bytes(16)
    await alice.create_group(gid)
    await alice.commit_add(await alice.claim(bob.account))
    await join_from_queue(bob)
    # gamma may erase its own account's devices, never bob's membership of the same id
    r = await evil.send(providers["alpha"], FED_DELETED,
                        w.FedAccountDeleted(mallory.account, [bob.device_id]))
    assert r.status_code == 200, r.text
    r = await alice.call("GET", group_path(gid), expect=200)
    assert sorted(decode(m.GroupState, r.json()).members) == sorted(
        [alice.device_id, bob.device_id])
    assert [c.device_id for c in await alice.claim(bob.account)] == [bob.device_id]


async def test_T08_a_follower_cannot_bind_devices_it_does_not_host(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """gamma (a real follower: carol is a member) forwards commits that add devices of
    other providers' accounts: bob's id at beta with a key gamma made, the same leaf
    said to be gamma's, and alpha's own ann with a key gamma made."""
    from accord.mls import group as g
    from accord.mls.codec import decode as mls_decode
    from accord.mls.structs import Add
    from accord.mls.structs.messages import MLSMessage

    alpha = providers["alpha"]
    alice = await user(clients["alpha"], "alice.add@alpha.test")
    ann = await user(clients["alpha"], "ann.add@alpha.test")
    bob = await user(clients["beta"], "bob.add@beta.test")
    carol = await user(clients["gamma"], "carol.add@gamma.test")
    gid = secrets.token_bytes(16)
    await alice.create_group(gid)
    await alice.commit_add(await alice.claim(carol.account))
    await join_from_queue(carol)
    await alice.claim(bob.account)  # bob's device is confirmed here, keyed by bob's account

    def forged(victim: MlsDevice) -> tuple[bytes, bytes]:
        """A commit of carol's adding a leaf that names ``victim`` with gamma's key."""
        twin = MlsDevice(clients["gamma"], victim.account)
        twin.device_id = victim.device_id
        kp = mls_decode(MLSMessage, twin.new_key_package()).message
        result, _ = g.commit(carol.state, now=int(time.time()), by_value=[Add(kp)])
        return bytes(result.commit.to_bytes()), bytes(result.welcome.to_bytes())

    def commit(body: bytes, welcome: bytes, *added: tuple[str, str]) -> fw.FedCommit:
        return fw.FedCommit(group_id=gid, sender=carol.device_id,
                            sender_account=carol.account, epoch=1, commit=body,
                            posting_key=b"P" * 32,
                            added=[fw.FedDevice(d, dom) for d, dom in added], welcome=welcome)

    path = "/federation/v1/commits"
    empty, _ = g.commit(carol.state, now=int(time.time()), force_path=True)
    r = await evil.send(alpha, path, commit(bytes(empty.commit.to_bytes()), b"w",
                                            (bob.device_id, "beta.test")))
    _error(r, 422, "validation_error", "cannot confirm where an added device lives")
    body, welcome = forged(bob)
    r = await evil.send(alpha, path, commit(body, welcome, (bob.device_id, "beta.test")))
    _error(r, 401, "auth_error", "own provider does not list it")
    r = await evil.send(alpha, path, commit(body, welcome, (bob.device_id, "gamma.test")))
    _error(r, 422, "validation_error", "not hosted where its credential says")
    body, welcome = forged(ann)
    r = await evil.send(alpha, path, commit(body, welcome, (ann.device_id, "alpha.test")))
    _error(r, 404, "not_found", "not a device of its account here")
    r = await alice.call("GET", group_path(gid), expect=200)
    assert decode(m.GroupState, r.json()).epoch == 1


async def test_T08_a_peer_asks_a_provider_only_about_its_own_accounts(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """alpha is no relay: gamma cannot make it ask beta about beta's accounts."""
    alpha = providers["alpha"]
    bob = await user(clients["beta"], "bob.relay@beta.test")
    r = await evil.send(alpha, "/federation/v1/devices", fw.FedDevicesRequest(bob.account))
    _error(r, 404, "not_found", "no account")
    r = await evil.send(alpha, "/federation/v1/keypackages/claim",
                        fw.FedClaimRequest(account=bob.account, requester=MALLORY))
    _error(r, 404, "not_found", "no account")
    r = await evil.send(alpha, "/federation/v1/keypackages/claim",
                        fw.FedClaimRequest(account="x@alpha.test", requester="m@beta.test"))
    _error(r, 422, "validation_error", "requester is not an account of the requesting")


# the rule for every other identifier a peer names: groups, senders, recipients ------------


async def test_T08_a_peer_names_only_groups_the_receiver_hubs(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """Commits, proposals, posts and reports go to a group's hub only; a group alpha
    merely follows (beta is its hub) or does not know is refused with a typed error."""
    from accord.federation.report_relay import FED_REPORTS

    alpha = providers["alpha"]
    bob = await user(clients["beta"], "bob.hub@beta.test")
    alice = await user(clients["alpha"], "alice.hub@alpha.test")
    followed = secrets.token_bytes(16)
    await bob.create_group(followed)
    await bob.commit_add(await bob.claim(alice.account))
    await join_from_queue(alice)
    sender = dict(sender=alice.device_id, sender_account=alice.account, epoch=1)
    bodies = {
        "/federation/v1/commits": lambda gid: fw.FedCommit(
            group_id=gid, commit=b"c", posting_key=b"P" * 32, **sender),
        "/federation/v1/proposals": lambda gid: fw.FedProposal(
            group_id=gid, proposal=b"p", **sender),
        "/federation/v1/posts": lambda gid: fw.FedPost(
            group_id=gid, epoch=1, nonce=b"n" * 16, ciphertext=b"c", signature=b"s" * 64),
        FED_REPORTS: lambda gid: w.FedReport(group_id=gid, created_at=1, content=b"c",
                                             frank=b"t" * 32),
    }
    for path, body in bodies.items():
        r = await evil.send(alpha, path, body(followed))
        if path == FED_REPORTS:
            _error(r, 404, "not_found", "not the hub of this group")
        else:
            _error(r, 422, "validation_error", "not the hub of this group")
        r = await evil.send(alpha, path, body(secrets.token_bytes(16)))
        _error(r, 404, "not_found", "")
    # gamma cannot deliver for beta's group to alpha either
    r = await evil.deliver(alpha, item("commit", followed, [alice.device_id], sender=_dev(),
                                       sender_account=MALLORY,
                                       roster=[(alice.device_id, "alpha.test")]))
    _error(r, 401, "auth_error", "not the hub of that group")
    r = await alice.call("GET", group_path(followed), expect=200)
    assert decode(m.GroupState, r.json()).hub == "beta.test"


async def test_T08_a_hub_peer_speaks_only_for_members_of_its_groups(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """In alice's group (hub alpha) gamma hosts carol: it may speak for carol's device
    only; at a follower, a hub's recipients are member devices hosted there only."""
    from accord.federation.report_relay import FED_REPORTS

    alpha, beta = providers["alpha"], providers["beta"]
    alice, bob, gid = await alice_and_bob(clients["alpha"], clients["beta"], "spk")
    # gamma hosts no member: no proposal for bob's device or alice's, no report
    for dev_id, account in ((bob.device_id, bob.account), (alice.device_id, MALLORY)):
        r = await evil.send(alpha, "/federation/v1/proposals", fw.FedProposal(
            group_id=gid, sender=dev_id, sender_account=account, epoch=1, proposal=b"p"))
        _error(r, 401, "auth_error", "not a member device hosted by the requesting provider")
    r = await evil.send(alpha, FED_REPORTS, w.FedReport(
        group_id=gid, created_at=1, content=b"c", frank=b"t" * 32,
        alleged_sender=bob.account))
    _error(r, 401, "auth_error", "hosts no member of this group")
    # a hub's item for a recipient beta does not host (alice's device) is refused
    own = secrets.token_bytes(16)
    r = await evil.deliver(beta, item("welcome", own, [alice.device_id], sender=_dev(),
                                      sender_account=MALLORY,
                                      roster=[(alice.device_id, "alpha.test")]))
    _error(r, 422, "validation_error", "not a member device hosted here")


async def test_T08_blobs_are_fetched_by_capability_only(
    providers: dict[str, Provider], evil: MaliciousProvider,
) -> None:
    r = await evil.send(providers["alpha"], "/federation/v1/blobs",
                        fw.FedBlobRequest(blob_id=b64e(secrets.token_bytes(32))))
    _error(r, 404, "not_found", "")


async def test_T08_a_peer_cannot_squat_a_group_id_before_its_hub(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """gamma names alice's group id at beta first (a roster naming bob, no Welcome):
    alpha, the real hub, still reaches bob; a group bob entered never moves."""
    beta = providers["beta"]
    alice = await user(clients["alpha"], "alice.gid@alpha.test")
    bob = await user(clients["beta"], "bob.gid@beta.test")
    gid = secrets.token_bytes(16)
    squat = item("commit", gid, [bob.device_id], sender=_dev(), sender_account=MALLORY,
                 roster=[(bob.device_id, "beta.test")])
    assert (await evil.deliver(beta, squat)).status_code == 200
    await alice.create_group(gid)
    await alice.commit_add(await alice.claim(bob.account))
    await join_from_queue(bob)
    r = await bob.call("GET", group_path(gid), expect=200)
    assert decode(m.GroupState, r.json()).hub == "alpha.test"
    again = item("commit", gid, [bob.device_id], epoch=1, sender=_dev(),
                 sender_account=MALLORY, roster=[(bob.device_id, "beta.test")])
    _error(await evil.deliver(beta, again), 401, "auth_error", "not the hub of that group")


async def test_T14_a_hub_hands_sealed_requests_only_to_invited_strangers(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """Issue 18: a hub's sealed first-contact request is kept only for a recipient of the
    Welcome that gets a message request, never for another device of the follower."""
    beta = providers["beta"]
    bob = await user(clients["beta"], f"bob.fc{secrets.token_hex(3)}@beta.test")
    bob2 = await bob.link(MlsDevice(clients["beta"], bob.account))  # not invited
    ann = await user(clients["beta"], f"ann.fc{secrets.token_hex(3)}@beta.test")
    gid = secrets.token_bytes(16)
    sealed = [m.SealedFirstContact(bob.device_id, b"for bob"),
              m.SealedFirstContact(bob2.device_id, b"for a device the Welcome skips"),
              m.SealedFirstContact(ann.device_id, b"for ann, who is not invited")]
    welcome = dataclasses.replace(
        item("welcome", gid, [bob.device_id], sender=_dev(), sender_account=MALLORY,
             roster=[(bob.device_id, "beta.test")]), first_contact=sealed)
    r = await evil.deliver(beta, welcome)
    assert r.status_code == 200, r.text

    async def listed(dev) -> list[tuple[bytes, bytes | None]]:  # type: ignore[no-untyped-def]
        r = await dev.call("GET", "/v1/requests", expect=200)
        return [(q.group_id, q.first_contact)
                for q in decode(fw.MessageRequestList, r.json()).requests]

    assert await listed(bob) == [(gid, b"for bob")]
    assert await listed(bob2) == [(gid, None)]  # the account's request, not its Welcome
    # ann is invited later, with no sealed request: none was kept for her before
    r = await evil.deliver(beta, item("welcome", gid, [ann.device_id], sender=_dev(),
                                      sender_account=MALLORY, roster=[
                                          (bob.device_id, "beta.test"),
                                          (ann.device_id, "beta.test")]))
    assert r.status_code == 200, r.text
    assert await listed(ann) == [(gid, None)]
