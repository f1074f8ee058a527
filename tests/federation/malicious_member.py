"""A malicious group member: a real member device that crafts what it hands its hub.

It holds a genuine MLS state (it was added like anyone else) and abuses it:
handshake messages in a PrivateMessage, commits whose declared roster is not
their content, proposals by reference the hub never saw, another member's
leaf as sender, bytes that are no commit at all, and well-formed commits that it
signs itself but that every other member would refuse (a broken signature, an
Add of a KeyPackage whose signature does not verify, an UpdatePath whose
parent hash is wrong or that misses a ciphertext). Its accomplice, the ghost,
is a registered device that is not in the group and that the attacker wants
the hub to deliver to. Used by ``test_malicious_member.py`` on the local
route (the member's provider is the hub) and the federated one (it forwards
to the hub).
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from accord.wire import decode
from accord.wire import messages as m
from tests.federation.groups import join_from_queue, user
from tests.federation.providers import MlsDevice
from tests.harness import group_path


def _now() -> int:
    return int(time.time())


def bad_signature(commit: bytes) -> bytes:
    """The commit (or proposal) with one bit of its signature flipped."""
    from accord.mls.codec import decode as mls_decode
    from accord.mls.structs.messages import MLSMessage

    msg = mls_decode(MLSMessage, commit)
    sig = bytearray(msg.message.signature)
    sig[0] ^= 1
    forged = dataclasses.replace(msg.message, signature=bytes(sig))
    return bytes(dataclasses.replace(msg, message=forged).to_bytes())


class MaliciousMember(MlsDevice):
    """A member device whose requests to the hub say what it wants them to say."""

    def commit_msg(self, *, by_value: list[Any] = (), refs: list[bytes] = (),  # type: ignore[assignment]
                   encrypt: bool = False, rename_to: bytes | None = None
                   ) -> tuple[bytes, bytes | None, bytes]:
        """(commit, welcome, next posting key) of a real commit of ours, not merged;
        ``rename_to``: our new leaf's credential names someone else."""
        from accord.mls import group as g
        from accord.mls.structs import Credential

        state = self.state
        if encrypt:
            state = dataclasses.replace(state, config=g.GroupConfig(encrypt_handshake=True))
        leaf = None
        if rename_to is not None:
            leaf = dataclasses.replace(state.own_leaf_node,
                                       credential=Credential.basic(rename_to))
        result, pending = g.commit(state, now=_now(), proposals=list(refs),
                                   by_value=list(by_value), force_path=True, leaf=leaf)
        welcome = None if result.welcome is None else bytes(result.welcome.to_bytes())
        return bytes(result.commit.to_bytes()), welcome, self.next_posting_public(
            g.merge_pending(pending))

    def resigned(self, commit: bytes, change: Callable[[Any], Any]) -> bytes:
        """The commit with its FramedContent changed by ``change``, then signed again
        with our own key and given a fresh membership tag: well-formed and from our
        leaf, as only a real member can make it. Its confirmation tag is left as it
        was: the hub cannot check one, the members would refuse it anyway."""
        from accord.mls.codec import decode as mls_decode
        from accord.mls.framing_auth import sign_content
        from accord.mls.framing_public import public_message_from
        from accord.mls.structs.enums import WireFormat
        from accord.mls.structs.messages import MLSMessage

        msg = mls_decode(MLSMessage, commit)
        st = self.state
        auth = sign_content(st.suite, WireFormat.PUBLIC_MESSAGE, change(msg.message.content),
                            st.signature_priv, st.context, msg.message.confirmation_tag)
        forged = public_message_from(st.suite, auth, st.context, st.secrets.membership_key)
        return bytes(dataclasses.replace(msg, message=forged).to_bytes())

    def bad_signature(self, commit: bytes) -> bytes:
        return bad_signature(commit)

    def bad_key_package_add(self, commit: bytes, welcome: bytes) -> tuple[bytes, bytes]:
        """The commit (re-signed) with the signature of its Add's KeyPackage broken,
        and its Welcome readdressed to the broken KeyPackage's ref, so that the
        roster, the Welcome and the commit's own signature all agree."""
        from accord.mls.codec import decode as mls_decode
        from accord.mls.key_package import key_package_ref
        from accord.mls.structs import Add
        from accord.mls.structs.messages import MLSMessage

        broken: list[Any] = []

        def change(content: Any) -> Any:
            proposals = []
            for p in content.content.proposals:
                if isinstance(p, Add):
                    p = broken_add(p)
                    broken.append(p.key_package)
                proposals.append(p)
            return dataclasses.replace(content, content=dataclasses.replace(
                content.content, proposals=tuple(proposals)))

        forged = self.resigned(commit, change)
        msg = mls_decode(MLSMessage, welcome)
        w = msg.message
        entries = tuple(dataclasses.replace(e, new_member=key_package_ref(kp))
                        for e, kp in zip(w.secrets, broken, strict=True))
        readdressed = dataclasses.replace(msg, message=dataclasses.replace(w, secrets=entries))
        return forged, bytes(readdressed.to_bytes())

    def bad_key_package_proposal(self, key_package: Any) -> bytes:
        """An Add proposal (PublicMessage, signed by us) of ``key_package`` with its
        signature broken."""
        from accord.mls import group as g

        msg, _ = g.propose_add(self.state, key_package)
        return self.resigned(bytes(msg.to_bytes()), lambda content: dataclasses.replace(
            content, content=broken_add(content.content)))

    def bad_parent_hash(self, commit: bytes) -> bytes:
        """The commit (re-signed) whose UpdatePath leaf carries a wrong parent_hash,
        the leaf itself signed again so that only the parent hash is wrong (7.9.2)."""
        from accord.mls.leaf_node import sign_leaf_node

        st = self.state

        def change(content: Any) -> Any:
            path = content.content.path
            leaf = dataclasses.replace(path.leaf_node, signature=b"",
                                       parent_hash=secrets.token_bytes(
                                           len(path.leaf_node.parent_hash or b"") or 32))
            leaf = sign_leaf_node(st.suite, st.signature_priv, leaf, st.group_id, st.own_leaf)
            return dataclasses.replace(content, content=dataclasses.replace(
                content.content, path=dataclasses.replace(path, leaf_node=leaf)))

        return self.resigned(commit, change)

    def short_path_ciphertexts(self, commit: bytes) -> bytes:
        """The commit (re-signed) with the last HPKE ciphertext of its UpdatePath's top
        node dropped: a member of that copath subtree finds none for it (7.6)."""

        def change(content: Any) -> Any:
            path = content.content.path
            top = path.nodes[-1]
            short = dataclasses.replace(top, encrypted_path_secret=top.encrypted_path_secret[:-1])
            return dataclasses.replace(content, content=dataclasses.replace(
                content.content, path=dataclasses.replace(path, nodes=(*path.nodes[:-1], short))))

        return self.resigned(commit, change)

    def as_sender(self, commit: bytes, leaf: int) -> bytes:
        """The same commit with another member's leaf as its sender (the hub cannot
        check the signature; the members would)."""
        from accord.mls.codec import decode as mls_decode
        from accord.mls.structs.messages import MLSMessage, Sender

        msg = mls_decode(MLSMessage, commit)
        content = dataclasses.replace(msg.message.content, sender=Sender.member(leaf))
        forged = dataclasses.replace(msg.message, content=content)
        return bytes(dataclasses.replace(msg, message=forged).to_bytes())

    def propose_remove_of(self, leaf: int) -> tuple[bytes, bytes]:
        """A Remove proposal (PublicMessage) and its ProposalRef; our state caches it."""
        from accord.mls import group as g

        msg, self.state = g.propose_remove(self.state, leaf)
        return bytes(msg.to_bytes()), self.state.proposals[-1].ref

    def propose_rename(self, identity: bytes) -> bytes:
        """An Update proposal whose new leaf's credential names ``identity``."""
        from accord.mls import group as g
        from accord.mls.structs import Credential

        msg, _ = g.propose_update(self.state, credential=Credential.basic(identity))
        return bytes(msg.to_bytes())

    async def send_commit(self, commit: bytes, *, added: list[str] = (),  # type: ignore[assignment]
                          removed: list[str] = (), welcome: bytes | None = None,  # type: ignore[assignment]
                          posting_key: bytes = b"P" * 32, expect: int) -> httpx.Response:
        req = m.CommitRequest(epoch=self.epoch(), commit=commit, posting_key=posting_key,
                              added=list(added), removed=list(removed), welcome=welcome)
        return await self.call("POST", group_path(self.state_group_id(), "/commits"), req,
                               expect=expect)

    async def send_proposal(self, proposal: bytes, expect: int) -> httpx.Response:
        req = m.ProposalRequest(epoch=self.epoch(), proposal=proposal)
        return await self.call("POST", group_path(self.state_group_id(), "/proposals"), req,
                               expect=expect)


def broken_add(add: Any) -> Any:
    """The Add with one bit of its KeyPackage's signature flipped (RFC 9420 10.1)."""
    from accord.mls.structs import Add

    sig = bytearray(add.key_package.signature)
    sig[0] ^= 1
    return Add(dataclasses.replace(add.key_package, signature=bytes(sig)))


@dataclass
class Scene:
    """alice@alpha (the hub's user) made the group with bob@alpha and mallory; the
    ghost is mallory's accomplice on mallory's provider, not in the group."""

    alice: MlsDevice
    bob: MlsDevice
    mallory: MaliciousMember
    ghost: MlsDevice
    gid: bytes

    def leaf(self, dev: MlsDevice) -> int:
        from accord.mls import group as g

        for index, leaf in g.members(self.mallory.state):
            if leaf.credential.identity == dev.identity:
                return int(index)
        raise AssertionError(f"{dev!r} is not in mallory's group")

    async def hub_view(self) -> m.GroupState:
        r = await self.alice.call("GET", group_path(self.gid), expect=200)
        return decode(m.GroupState, r.json())

    async def ghost_claim(self) -> tuple[m.ClaimedKeyPackage, bytes]:
        """One of the ghost's KeyPackages, claimed by mallory, and a real Welcome for it
        (from a commit mallory never sends)."""
        from accord.mls import group as g
        from accord.mls.codec import decode as mls_decode
        from accord.mls.structs import Add
        from accord.mls.structs.messages import MLSMessage

        claimed = await self.mallory.claim(self.ghost.account)
        add = Add(mls_decode(MLSMessage, claimed[0].key_package).message)
        result, _ = g.commit(self.mallory.state, now=_now(), by_value=[add])
        assert result.welcome is not None
        return claimed[0], bytes(result.welcome.to_bytes())

    async def assert_intact(self, before: m.GroupState) -> None:
        """Nothing moved at the hub, the ghost got nothing, and the group still works:
        alice's next commit is accepted and processed by bob and mallory."""
        from accord.mls import group as g

        after = await self.hub_view()
        assert (after.epoch, sorted(after.members)) == (before.epoch, sorted(before.members))
        assert self.ghost.device_id not in after.members
        assert [i for i in (await self.ghost.fetch()).items if i.group_id == self.gid] == []
        result, pending = g.commit(self.alice.state, now=_now(), force_path=True)
        merged = g.merge_pending(pending)
        req = m.CommitRequest(epoch=self.alice.epoch(), commit=bytes(result.commit.to_bytes()),
                              posting_key=self.alice.next_posting_public(merged))
        await self.alice.call("POST", group_path(self.gid, "/commits"), req, expect=201)
        self.alice.state = merged
        for member in (self.bob, self.mallory):
            items = await member.wait_items(1)
            commits = [i for i in items if i.kind == "commit" and i.group_id == self.gid]
            member.read(commits[-1].body)
            assert member.epoch() == self.alice.epoch()


async def scene(clients: dict[str, httpx.AsyncClient], mallory_at: str) -> Scene:
    tag = secrets.token_hex(3)
    alice = await user(clients["alpha"], f"alice{tag}@alpha.test")
    bob = await user(clients["alpha"], f"bob{tag}@alpha.test")
    mallory = MaliciousMember(clients[mallory_at], f"mallory{tag}@{mallory_at}.test")
    await mallory.register()
    await mallory.upload_key_packages()
    ghost = await user(clients[mallory_at], f"ghost{tag}@{mallory_at}.test")
    gid = secrets.token_bytes(16)
    await alice.create_group(gid)
    await alice.commit_add(await alice.claim(bob.account) + await alice.claim(mallory.account))
    await join_from_queue(bob)
    await join_from_queue(mallory)
    return Scene(alice, bob, mallory, ghost, gid)
