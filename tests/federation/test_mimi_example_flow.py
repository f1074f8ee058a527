"""The example flow of draft-ietf-mimi-protocol-06 section 3 between three Accord
providers, every request and answer on the wire captured and decoded (issue 22, the proof).

a.example, b.example and c.example run with ``--mimi-transport`` and reach each other
only through recording proxies (``tests.federation.capture``). alice@a.example,
bob@b.example and cathy@c.example are test clients on their providers' API
(``tests.federation.providers.MlsDevice``, committing as Accord's client does: with the
new epoch's GroupInfo and ratchet tree). Step by step as the draft's figures:

- 3.1 alice creates the room: a.example hubs it; nothing crosses providers.
- 3.2 alice adds bob: a.example fetches bob's key material from b.example
  (``keyMaterial``), alice commits at her own hub, which hands b.example the Welcome
  (``notify``, routed by the KeyPackageRef in the Welcome's secrets).
- 3.3 bob adds cathy: cathy's key material comes from c.example, bob's commit goes to
  the hub (``update``), the hub sends cathy's Welcome to c.example (``notify``).
- 3.4 cathy sends a message: c.example submits it to the hub (``submitMessage``), the
  hub fans it out to b.example (``notify``).
- 3.5 bob leaves: his Remove proposal goes to the hub (``update``), which fans it out to
  c.example; cathy commits it (``update``), and the hub fans the commit out to b.example.
- 3.6 cathy adds a new device: c.example claims the room's GroupInfo (``groupInfo``)
  for it, and the device's external commit goes to the hub (``update``), which fans it
  out to c.example.

A step's check: the expected MIMI endpoints were called between the expected
providers, with the expected content; no request of Accord's own federation API
(``/federation/v1``) crossed; every captured request and answer decodes with
``tests.federation.mimi_draft_decoder`` (written from the draft alone) to the last
byte, and each request a provider sent names it in its ``From`` header (4.1). Each
test checks one step, the steps before it only run.

In 3.3 bob claims cathy's KeyPackages for the room: b.example sends the claim to the
hub, naming the room, and the hub relays it to c.example (5.2, "MUST be sent via the
hub provider"); the hub then knows where the KeyPackage came from and takes bob's Add
of it without asking c.example anything more.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.mls import group as g
from accord.mls.codec import decode as mls_decode
from accord.mls.codec import encode
from accord.mls.structs import Add, Credential
from accord.mls.structs.messages import MLSMessage
from accord.mls.structs.tree_nodes import RatchetTree
from accord.mls.suites import get_suite
from accord.wire import messages as m
from accord.wire import mimi as w
from accord.wire import signing
from accord.wire.posting_component import app_data_extension, posting_key_component
from tests.federation import mimi_draft_decoder as draft
from tests.federation import mls_draft_decoder as rfc
from tests.federation.capture import (
    DRAFT_POSTS,
    Exchange,
    Wire,
    captured_federation,
    draft_decode,
    endpoint_of,
)
from tests.federation.groups import join_from_queue, user
from tests.federation.providers import MlsDevice, Provider, signed_post
from tests.federation.test_mimi_room import external_commit
from tests.harness import group_path
from tests.timing import wait_until

A, B, C = "a.example", "b.example", "c.example"
SUITE = get_suite(1)
FANOUT_WAIT_S = 20.0


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Provider], Wire]]:
    with captured_federation(tmp_path_factory.mktemp("flow"), [A, B, C],
                             withhold={d: DRAFT_POSTS for d in (A, B, C)}) as fed:
        yield fed


@dataclass
class Step:
    """What one step of the flow put on the wire, decoded."""

    name: str
    exchanges: list[Exchange]
    decoded: list[tuple[Exchange, str, Any, Any]] = field(default_factory=list)

    def check(self) -> Step:
        """Nothing of Accord's own federation API; every MIMI exchange decodes with the
        draft's structures (the peer-key discovery of Accord's request signatures is
        the one other request a provider makes, docs/INTEROP.md 4.1)."""
        other = [f"{x.method} {x.path} -> {x.to}" for x in self.exchanges
                 if endpoint_of(x) == "other"]
        assert not other, f"{self.name}: not MIMI: {other}"
        failed = []
        for x in self.exchanges:
            if endpoint_of(x) == "accord-key":
                continue
            try:
                self.decoded.append((x, *draft_decode(x)))
            except draft.DraftError as exc:
                failed.append(str(exc))
            if x.method == "POST" and x.request_headers.get("from") != f"mimi@{x.sender}":
                failed.append(f"{x.path}: From is not mimi@{x.sender} (4.1)")
        assert not failed, f"{self.name}:\n" + "\n".join(failed)
        return self

    def calls(self, endpoint: str, sender: str, to: str) -> list[tuple[Any, Any]]:
        """The decoded (request, answer) of each ``endpoint`` call ``sender`` made to ``to``."""
        return [(req, resp) for x, name, req, resp in self.decoded
                if name == endpoint and x.sender == sender and x.to == to]

    def fanned(self, to: str) -> list[rfc.D]:
        """Every FanoutMessage the hub (a.example) sent ``to``."""
        return [m for req, _ in self.calls("notify", A, to) for m in req]


@dataclass
class Room:
    """The flow's room and people; the wire, marked before each step."""

    provs: dict[str, Provider]
    wire: Wire
    alice: MlsDevice
    bob: MlsDevice
    cathy: MlsDevice
    tag: str
    gid: bytes = b""
    at: dict[str, int] = field(default_factory=dict)
    checked: tuple[str, ...] | None = None  # the steps checked (by number); None: all

    async def step(self, name: str, *awaited: tuple[str, str, str]) -> Step | None:
        """What this room's step put on the wire since the previous step, checked, once
        the ``awaited`` calls (endpoint, sender, target, as often as listed: the hub's
        fan-out is asynchronous) have crossed; None for a step that only runs."""
        def arrived() -> bool:
            seen = Counter((endpoint_of(x), x.sender, x.to) for x in self.wire.since(self.at)
                           if self.ours(x))
            return all(seen[a] >= n for a, n in Counter(awaited).items())

        await wait_until(arrived, FANOUT_WAIT_S, f"{name}: {awaited}")
        out = Step(name, [x for x in self.wire.since(self.at) if self.ours(x)])
        self.at = self.wire.mark()
        if self.checked is not None and name.split()[0] not in self.checked:
            return None
        return out.check()

    def ours(self, x: Exchange) -> bool:
        """A MIMI call about this room or its people (a late one of an earlier test's
        room is not this step's); any other request is."""
        if endpoint_of(x) not in draft.BODIES:
            return True
        path = unquote(x.path)
        return self.tag in path or bool(self.gid) and w.mimi_room_uri(A, self.gid) in path

    def uri(self, who: str, domain: str) -> str:
        return f"mimi://{domain}/u/{who}{self.tag}"


def key_package_ref(key_package: bytes) -> bytes:
    """RFC 9420 5.2: RefHash("MLS 1.0 KeyPackage Reference", KeyPackage) with SHA-256
    (suite 0x0001): the hash of ``opaque label<V>; opaque value<V>``."""
    def vec(b: bytes) -> bytes:
        n = len(b)
        head = bytes([n]) if n < 64 else (0x4000 | n).to_bytes(2, "big") if n < 16384 \
            else (0x80000000 | n).to_bytes(4, "big")
        return head + b

    return hashlib.sha256(vec(b"MLS 1.0 KeyPackage Reference") + vec(key_package)).digest()


def kp_bytes(claimed_key_package: bytes) -> bytes:
    """A claimed KeyPackage as its MLSMessage bytes -> the KeyPackage struct's bytes."""
    msg = rfc.whole(claimed_key_package, "claimed", rfc.mls_message)
    assert msg["wire_format"] == rfc.KEY_PACKAGE
    return claimed_key_package[4:]  # version and wire_format


async def named_post(dev: MlsDevice, gid: bytes, text: bytes) -> None:
    """A post with the device's session: its provider names its user to a hub elsewhere
    (MIMI 5.4 ``sendingUri``)."""
    msg, dev.state = g.protect(dev.state, text)
    ciphertext, nonce = bytes(msg.to_bytes()), secrets.token_bytes(16)
    sig = dev.posting_key().sign(signing.post_input(gid, dev.epoch(), nonce, ciphertext))
    post = m.ApplicationPost(epoch=dev.epoch(), nonce=nonce, ciphertext=ciphertext,
                             signature=sig)
    await dev.call("POST", group_path(gid, "/messages"), post, auth=True, expect=201)


async def commit(dev: MlsDevice, proposals: list[Any], added: list[str],
                 removed: list[str], first_contact: Sequence[m.SealedFirstContact] = (),
                 expect: int | None = 201) -> httpx.Response:
    """A commit as Accord's client sends it: with the new epoch's signed GroupInfo (its
    posting key inside, no ratchet tree) and the tree beside it, which a provider
    sending over MIMI puts into the update (5.3); ``first_contact``: sealed requests for
    added devices (issue 18). The device's state moves on only when it was taken."""
    result, pending = g.commit(dev.state, now=int(time.time()), by_value=proposals)
    merged = g.merge_pending(pending)
    seed = g.export_secret(merged, "accord posting key", b"", 32)
    posting = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    info = g.group_info(merged, with_tree=False, extra=[
        app_data_extension([posting_key_component(posting)])])
    req = m.CommitRequest(epoch=dev.epoch(), commit=bytes(result.commit.to_bytes()),
                          posting_key=posting, added=added, removed=removed,
                          welcome=bytes(result.welcome.to_bytes()) if added else None,
                          group_info=bytes(info.to_bytes()),
                          ratchet_tree=encode(RatchetTree, merged.tree.to_ratchet_tree()),
                          first_contact=list(first_contact))
    r = await dev.call("POST", group_path(dev.state_group_id(), "/commits"), req,
                       expect=expect)
    if r.status_code == 201:
        dev.state = merged
    return r


async def add(dev: MlsDevice, claimed: list[m.ClaimedKeyPackage]) -> None:
    adds = [Add(mls_decode(MLSMessage, c.key_package).message) for c in claimed]
    await commit(dev, adds, [c.device_id for c in claimed], [])


async def create_room(room: Room) -> None:
    """3.1: local to a.example, the hub."""
    room.gid = secrets.token_bytes(16)
    await room.alice.create_group(room.gid)
    step = await room.step("3.1 alice creates the room")
    assert step is None or step.exchanges == []


async def add_bob(room: Room) -> None:
    """3.2: key material from b.example; the Welcome to b.example over notify, routed by
    the KeyPackageRef of bob's KeyPackage in the Welcome's secrets."""
    alice, bob = room.alice, room.bob
    claimed = await alice.claim(bob.account)
    await add(alice, claimed)
    await join_from_queue(bob)
    step = await room.step("3.2 alice adds bob", ("keyMaterial", A, B), ("notify", A, B))
    if step is None:
        return
    [(km, km_resp)] = step.calls("keyMaterial", A, B)
    assert (km["requestingUser"], km["targetUser"]) == (room.uri("alice", A), room.uri("bob", B))
    assert km_resp["userStatus"] == 0
    [welcome] = [x for x in step.fanned(B) if x["message"]["wire_format"] == rfc.WELCOME]
    assert {s["new_member"] for s in welcome["message"]["message"]["secrets"]} == {
        key_package_ref(kp_bytes(c.key_package)) for c in claimed}


async def add_cathy(room: Room) -> None:
    """3.3: cathy's key material from c.example through the hub (keyMaterial b -> a -> c,
    the room named); bob's commit to the hub over update; cathy's Welcome to c.example
    over notify."""
    alice, bob, cathy = room.alice, room.bob, room.cathy
    claimed = await bob.claim(cathy.account, group=room.gid)
    seen = len((await alice.fetch()).items)
    await add(bob, claimed)
    await join_from_queue(cathy)
    alice.read((await alice.wait_items(seen + 1))[-1].body)
    step = await room.step("3.3 bob adds cathy", ("keyMaterial", B, A), ("keyMaterial", A, C),
                           ("update", B, A), ("notify", A, C))
    if step is None:
        return
    fetched = sorted((x.sender, x.to) for x, name, _, _ in step.decoded if name == "keyMaterial")
    assert fetched == [(A, C), (B, A)], fetched  # the draft's figure 4: b -> a -> c
    [(asked, answer)] = step.calls("keyMaterial", B, A)
    [(relayed, relayed_answer)] = step.calls("keyMaterial", A, C)
    assert relayed == asked and relayed_answer == answer  # the hub relays as it is
    assert (asked["requestingUser"], asked["targetUser"], asked["roomId"]) == (
        room.uri("bob", B), room.uri("cathy", C), w.mimi_room_uri(A, room.gid))
    assert answer["userStatus"] == 0
    [(update, update_resp)] = step.calls("update", B, A)
    assert update["proposalOrCommit"]["message"]["content"]["content_type"] == rfc.COMMIT
    assert update["welcome"] is not None and update_resp["responseCode"] == 0
    [welcome] = [x for x in step.fanned(C) if x["message"]["wire_format"] == rfc.WELCOME]
    assert {s["new_member"] for s in welcome["message"]["message"]["secrets"]} == {
        key_package_ref(kp_bytes(c.key_package)) for c in claimed}


async def cathy_says_hello(room: Room) -> None:
    """3.4: submitMessage from c.example to the hub, notify from the hub to b.example."""
    bob, cathy = room.bob, room.cathy
    seen = len((await bob.fetch()).items)
    await named_post(cathy, room.gid, b"hello, clubhouse")
    assert bob.read((await bob.wait_items(seen + 1))[-1].body) == b"hello, clubhouse"
    step = await room.step("3.4 cathy sends a message", ("submitMessage", C, A),
                           ("notify", A, B))
    if step is None:
        return
    [(submitted, submit_resp)] = step.calls("submitMessage", C, A)
    assert submitted["sendingUri"] == room.uri("cathy", C)
    assert submit_resp["statusCode"] == 0
    [message] = [x for x in step.fanned(B) if x["message"]["wire_format"] == 2]
    assert message["message"] == submitted["appMessage"]


async def bob_leaves(room: Room) -> None:
    """3.5: bob's Remove proposal to the hub over update and on to c.example over
    notify; cathy's commit of it over update."""
    alice, bob, cathy = room.alice, room.bob, room.cathy
    proposal, bob.state = g.propose_remove(bob.state, bob.state.own_leaf)
    seen, seen_alice = len((await cathy.fetch()).items), len((await alice.fetch()).items)
    await bob.call("POST", group_path(room.gid, "/proposals"), m.ProposalRequest(
        epoch=bob.epoch(), proposal=proposal.to_bytes()), expect=201)
    cathy.read((await cathy.wait_items(seen + 1))[-1].body)
    await commit(cathy, [], [], [bob.device_id])  # the cached proposal, by reference
    for item in (await alice.wait_items(seen_alice + 2))[seen_alice:]:  # proposal, commit
        alice.read(item.body)
    assert alice.epoch() == cathy.epoch()
    assert bob.identity not in {leaf.credential.identity for _, leaf in g.members(alice.state)}
    step = await room.step("3.5 bob leaves", ("update", B, A), ("update", C, A),
                           ("notify", A, B), ("notify", A, B), ("notify", A, C))
    if step is None:
        return
    [(proposed, proposed_resp)] = step.calls("update", B, A)
    [(committed, committed_resp)] = step.calls("update", C, A)
    assert proposed["proposalOrCommit"]["message"]["content"]["proposal"] == {
        "proposal_type": 3, "removed": bob.state.own_leaf}
    assert committed["proposalOrCommit"]["message"]["content"]["content_type"] == rfc.COMMIT
    assert proposed_resp["responseCode"] == committed_resp["responseCode"] == 0
    assert proposed["proposalOrCommit"] in [x["message"] for x in step.fanned(C)]
    # the draft's figure 7 has the hub send the commit to b.example too (5.5: a removed
    # client SHOULD receive it)
    assert committed["proposalOrCommit"] in [x["message"] for x in step.fanned(B)]


async def cathy_adds_a_device(room: Room) -> None:
    """3.6: c.example claims the GroupInfo for cathy's new device at the hub (groupInfo),
    then sends the device's external commit there (update). The test acts for
    c.example, with its real provider key: Accord's clients join a new device by an
    Add from one of the user's devices, not by an external commit."""
    alice, cathy = room.alice, room.cathy
    key = room.provs[C].key()
    path = quote(w.mimi_room_uri(A, room.gid), safe="")

    async def as_c(endpoint: str, body: bytes) -> httpx.Response:
        """A request of c.example's to the hub, as c.example sends one (signed, From)."""
        req = signed_post(room.wire.proxies[A].url, f"/mimi/v1/{endpoint}/{path}", body, C,
                          key.sign)
        req.headers.update({"From": f"mimi@{C}", "Content-Type": "application/mimi-protocol"})
        return await alice.http.send(req)

    second = await cathy.link(MlsDevice(cathy.http, cathy.account))
    hpke_priv, hpke_pub = SUITE.generate_hpke_key_pair()
    req = w.GroupInfoRequest(w.MLS10, 1, second.public, Credential.basic(second.identity),
                             hpke_pub, None, b"")
    req = dataclasses.replace(req, signature=SUITE.sign_with_label(
        second.key.private_bytes_raw(), req.SIGN_LABEL, req.tbs()))
    r = await as_c("groupInfo", req.to_bytes())
    assert r.status_code == 200, r.text
    resp = w.GroupInfoResponse.from_bytes(r.content)
    ct = resp.encrypted_groupinfo_and_tree
    plain = SUITE.decrypt_with_label(hpke_priv, resp.ENCRYPT_LABEL, resp.room_id,
                                     ct.kem_output, ct.ciphertext)
    opened = draft.whole(plain, "GroupInfoRatchetTreeTBE", draft.group_info_ratchet_tree_tbe)
    assert opened["pending_proposals"] == []
    tbe = w.GroupInfoRatchetTreeTBE.from_bytes(plain)
    body, second.state = external_commit(tbe, second.identity, second.key)
    seen_alice, seen_cathy = len((await alice.fetch()).items), len((await cathy.fetch()).items)
    r = await as_c("update", body)
    assert r.status_code == 200 and w.UpdateRoomResponse.from_bytes(r.content
                                                                   ).response_code == 0
    alice.read((await alice.wait_items(seen_alice + 1))[-1].body)
    cathy.read((await cathy.wait_items(seen_cathy + 1))[-1].body)
    assert alice.epoch() == cathy.epoch() == second.epoch()
    step = await room.step("3.6 cathy adds a new device", ("groupInfo", C, A),
                           ("update", C, A), ("notify", A, C))
    if step is None:
        return
    [(asked, answer)] = step.calls("groupInfo", C, A)
    assert asked["requestingCredential"] == {"credential_type": 1, "identity": second.identity}
    assert answer["status"] == 1
    [(joining, joined_resp)] = step.calls("update", C, A)
    content = joining["proposalOrCommit"]["message"]["content"]
    assert (content["content_type"], content["sender"]) == (
        rfc.COMMIT, {"sender_type": rfc.NEW_MEMBER_COMMIT})
    assert joined_resp["responseCode"] == 0
    # the draft's figure 8: the hub fans the commit out to c.example (cathy's first device)
    assert joining["proposalOrCommit"] in [x["message"] for x in step.fanned(C)]


STEPS = (create_room, add_bob, add_cathy, cathy_says_hello, bob_leaves, cathy_adds_a_device)


async def people(provs: dict[str, Provider], wire: Wire, http: list[httpx.AsyncClient]
                 ) -> Room:
    tag = secrets.token_hex(3)
    ha, hb, hc = http
    alice = await user(ha, f"alice{tag}@{A}")
    bob = await user(hb, f"bob{tag}@{B}")
    cathy = await user(hc, f"cathy{tag}@{C}")
    return Room(provs, wire, alice, bob, cathy, tag, at=wire.mark())


OVER_MIMI = ("3.1", "3.2", "3.3", "3.4", "3.5", "3.6")  # the steps that cross over MIMI only


@pytest.mark.parametrize("number", OVER_MIMI)
async def test_a_step_of_the_drafts_example_flow_over_mimi(
    captured: tuple[dict[str, Provider], Wire], number: str,
) -> None:
    """Step ``number`` checked, the steps before it only run (new people, the same
    providers)."""
    provs, wire = captured
    async with (httpx.AsyncClient(base_url=provs[A].url, timeout=20.0) as ha,
                httpx.AsyncClient(base_url=provs[B].url, timeout=20.0) as hb,
                httpx.AsyncClient(base_url=provs[C].url, timeout=20.0) as hc):
        room = await people(provs, wire, [ha, hb, hc])
        room.checked = (number,)
        for step in STEPS[:int(number[2])]:
            await step(room)
