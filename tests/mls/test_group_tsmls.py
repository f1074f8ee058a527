"""Accord's group engine against ts-mls 1.6.4, an independent RFC 9420 implementation.

ts-mls runs behind its MLSClient gRPC server (tests/interop/tsmls/server.mjs);
this test drives it directly and plays the other member with ``accord.mls.group``
in process, so every message crosses between the two implementations: Welcome
both ways, commits with and without paths both ways, application messages
both ways, external joins, and the epoch authenticator and exporter compared
after every step. (The full interop matrix is the interop runner's job.)

ts-mls 1.6.4 writes the external_pub extension as the bare key, not the
ExternalPub struct of RFC 9420 12.4.3.2, and so cannot read Accord's
(conforming) GroupInfo for an external join unless Accord writes the bare
key on request (a test below); Accord reads both forms. It reads the
external_senders extension as one ExternalSender instead of the vector of
12.1.8.1, so external signers are not crossed here; its default keygen
encodes ECDSA keys compressed (5.1.1 asks for uncompressed points), so the
peer gives it RFC-form keys; and it omits the path of GroupContextExtensions
commits, which 12.4.2 lets a receiver accept.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accord.mls import group as g
from accord.mls.structs import Add, MLSMessage, Remove
from accord.mls.suites import get_suite
from tests.mls.group_sim import identity

grpc = pytest.importorskip("grpc")
pb = pytest.importorskip("accord.interop.proto.mls_client_pb2")
pb_grpc = pytest.importorskip("accord.interop.proto.mls_client_pb2_grpc")

# ts-mls checks lifetimes against its own clock, so this test uses the real time.
NOW = int(time.time())
PEER = Path(__file__).resolve().parents[1] / "interop" / "tsmls"


@pytest.fixture(scope="module")
def ts() -> Iterator[Any]:
    node = shutil.which("node")
    if node is None or not (PEER / "node_modules" / "ts-mls").is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("node and the ts-mls peer (npm ci in tests/interop/tsmls) are needed")
        pytest.skip("node or the ts-mls peer is not installed")
    proc = subprocess.Popen([node, "server.mjs", "--port", "0", "--host", "127.0.0.1"],
                            cwd=PEER, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        address = _address(proc)
        channel = grpc.insecure_channel(address)
        grpc.channel_ready_future(channel).result(timeout=15)
        yield pb_grpc.MLSClientStub(channel)
        channel.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _address(proc: subprocess.Popen[bytes]) -> str:
    assert proc.stdout is not None
    buf, deadline = b"", time.monotonic() + 30
    while b"\n" not in buf and time.monotonic() < deadline:
        if select.select([proc.stdout], [], [], 0.1)[0]:
            buf += os.read(proc.stdout.fileno(), 4096)
    line = buf.decode().split("\n", 1)[0]
    assert line.startswith("listening on "), line
    return line.removeprefix("listening on ").strip()


def _auth(ts: Any, sid: int) -> bytes:
    return bytes(ts.StateAuth(pb.StateAuthRequest(state_id=sid)).state_auth_secret)


def _export(ts: Any, sid: int) -> bytes:
    req = pb.ExportRequest(state_id=sid, label="accord test", context=b"ctx", key_length=32)
    return bytes(ts.Export(req).exported_secret)


def _agree(ts: Any, sid: int, state: g.GroupState) -> None:
    assert _auth(ts, sid) == g.epoch_authenticator(state)
    assert _export(ts, sid) == g.export_secret(state, "accord test", b"ctx", 32)


def _messages(ts: Any, sid: int, state: g.GroupState) -> g.GroupState:
    msg, state = g.protect(state, b"from accord", b"ad1")
    out = ts.Unprotect(pb.UnprotectRequest(state_id=sid, ciphertext=msg.to_bytes()))
    assert (out.plaintext, out.authenticated_data) == (b"from accord", b"ad1")
    ct = ts.Protect(pb.ProtectRequest(state_id=sid, plaintext=b"from ts-mls",
                                      authenticated_data=b"ad2")).ciphertext
    res, state = g.process(state, bytes(ct), NOW)
    assert (res.application_data, res.authenticated_data) == (b"from ts-mls", b"ad2")
    return state


@pytest.mark.parametrize("encrypt", [False, True], ids=["public", "private"])
def test_tsmls_creates_accord_joins(ts: Any, encrypt: bool) -> None:
    suite = get_suite(1)
    cred, priv = identity(1, "accord")
    kp = g.key_package(suite, cred, priv, NOW)
    sid = ts.CreateGroup(pb.CreateGroupRequest(group_id=os.urandom(8), cipher_suite=1,
                                               encrypt_handshake=encrypt,
                                               identity=b"ts-alice")).state_id
    add = pb.ProposalDescription(proposal_type=b"add",
                                 key_package=MLSMessage.wrap(kp.key_package).to_bytes())
    res = ts.Commit(pb.CommitRequest(state_id=sid, by_value=[add]))
    sid = ts.HandlePendingCommit(pb.HandlePendingCommitRequest(state_id=sid)).state_id
    config = g.GroupConfig(encrypt_handshake=encrypt)
    state = g.join_from_welcome(_decode(res.welcome), kp, NOW, config=config)
    _agree(ts, sid, state)
    state = _messages(ts, sid, state)
    # ts-mls commits with a path; Accord processes it
    res = ts.Commit(pb.CommitRequest(state_id=sid, force_path=True))
    sid = ts.HandlePendingCommit(pb.HandlePendingCommitRequest(state_id=sid)).state_id
    _, state = g.process(state, bytes(res.commit), NOW)
    _agree(ts, sid, state)
    # Accord commits with a path; ts-mls processes it
    out, pending = g.commit(state, now=NOW, force_path=True)
    state = g.merge_pending(pending)
    sid = ts.HandleCommit(pb.HandleCommitRequest(state_id=sid,
                                                 commit=out.commit.to_bytes())).state_id
    _agree(ts, sid, state)
    state = _messages(ts, sid, state)


def test_accord_creates_tsmls_joins_then_external_join_and_remove(ts: Any) -> None:
    suite = get_suite(1)
    cred, priv = identity(1, "accord")
    state = g.create_group(suite, os.urandom(8), cred, priv, NOW)
    tx = ts.CreateKeyPackage(pb.CreateKeyPackageRequest(cipher_suite=1, identity=b"ts-bob"))
    kp_msg = _decode(bytes(tx.key_package))
    res, pending = g.commit(state, now=NOW, by_value=[Add(kp_msg.message)])
    state = g.merge_pending(pending)
    sid = ts.JoinGroup(pb.JoinGroupRequest(transaction_id=tx.transaction_id,
                                           welcome=res.welcome.to_bytes(),  # type: ignore[union-attr]
                                           identity=b"ts-bob")).state_id
    _agree(ts, sid, state)
    state = _messages(ts, sid, state)
    # ts-mls proposes an update, Accord commits it by reference
    prop = bytes(ts.UpdateProposal(pb.UpdateProposalRequest(state_id=sid)).proposal)
    _, state = g.process(state, prop, NOW)
    res, pending = g.commit(state, now=NOW)
    state = g.merge_pending(pending)
    sid = ts.HandleCommit(pb.HandleCommitRequest(state_id=sid, proposal=[prop],
                                                 commit=res.commit.to_bytes())).state_id
    _agree(ts, sid, state)
    # a second Accord client joins externally; ts-mls processes that commit
    cred2, priv2 = identity(1, "accord-2")
    ext, joiner = g.join_external(g.group_info(state), cred2, priv2, NOW)
    _, state = g.process(state, ext, NOW)
    sid = ts.HandleCommit(pb.HandleCommitRequest(state_id=sid, commit=ext.to_bytes())).state_id
    _agree(ts, sid, state)
    _agree(ts, sid, joiner)
    # Accord removes the externally joined member; ts-mls's first member follows
    carol = joiner.own_leaf
    res, pending = g.commit(state, now=NOW, by_value=[Remove(carol)])
    state = g.merge_pending(pending)
    sid = ts.HandleCommit(pb.HandleCommitRequest(state_id=sid,
                                                 commit=res.commit.to_bytes())).state_id
    _agree(ts, sid, state)
    state = _messages(ts, sid, state)


def test_accord_joins_externally_a_tsmls_group(ts: Any) -> None:
    sid = ts.CreateGroup(pb.CreateGroupRequest(group_id=os.urandom(8), cipher_suite=1,
                                               identity=b"ts-alice")).state_id
    info = ts.GroupInfo(pb.GroupInfoRequest(state_id=sid, external_tree=True))
    cred, priv = identity(1, "accord")
    commit, state = g.join_external(_decode(bytes(info.group_info)), cred, priv, NOW,
                                    ratchet_tree=bytes(info.ratchet_tree))
    sid = ts.HandleCommit(pb.HandleCommitRequest(state_id=sid, commit=commit.to_bytes())).state_id
    _agree(ts, sid, state)
    _messages(ts, sid, state)


def test_tsmls_joins_externally_only_with_the_bare_external_pub_quirk(ts: Any) -> None:
    """ts-mls 1.6.4 reads external_pub as the bare key: from Accord's RFC 9420
    GroupInfo it cannot join; from one written with ``bare_external_pub`` (the
    opt-in peer quirk of ``accord interop serve``) it joins and agrees."""
    suite = get_suite(1)
    cred, priv = identity(1, "accord")
    state = g.create_group(suite, os.urandom(8), cred, priv, NOW)
    rfc = g.group_info(state)
    with pytest.raises(grpc.RpcError) as err:
        ts.ExternalJoin(pb.ExternalJoinRequest(group_info=rfc.to_bytes(), identity=b"ts-bob"))
    assert "Invalid public key" in str(err.value.details())
    quirk = g.group_info(state, bare_external_pub=True)
    res = ts.ExternalJoin(pb.ExternalJoinRequest(group_info=quirk.to_bytes(), identity=b"ts-bob"))
    _, state = g.process(state, bytes(res.commit), NOW)
    _agree(ts, res.state_id, state)
    _messages(ts, res.state_id, state)


def _tsmls_group_with_accord(ts: Any, kp: g.KeyPackagePrivate) -> tuple[int, g.GroupState]:
    sid = ts.CreateGroup(pb.CreateGroupRequest(group_id=os.urandom(8), cipher_suite=1,
                                               identity=b"ts-alice")).state_id
    add = pb.ProposalDescription(proposal_type=b"add",
                                 key_package=MLSMessage.wrap(kp.key_package).to_bytes())
    res = ts.Commit(pb.CommitRequest(state_id=sid, by_value=[add]))
    sid = ts.HandlePendingCommit(pb.HandlePendingCommitRequest(state_id=sid)).state_id
    return sid, g.join_from_welcome(_decode(res.welcome), kp, NOW)


def test_tsmls_pathless_group_context_extensions_commit_is_accepted(ts: Any) -> None:
    """12.4 marks group_context_extensions "path required" but 12.4.2 lets a
    receiver accept a commit without one; ts-mls 1.6.4 sends it so."""
    kp = g.key_package(get_suite(1), *identity(1, "accord"), NOW)
    sid, state = _tsmls_group_with_accord(ts, kp)
    gce = pb.ProposalDescription(proposal_type=b"groupContextExtensions",
                                 extensions=[pb.Extension(extension_type=1, extension_data=b"\x01a")])
    res = ts.Commit(pb.CommitRequest(state_id=sid, by_value=[gce]))
    sid = ts.HandlePendingCommit(pb.HandlePendingCommitRequest(state_id=sid)).state_id
    _, state = g.process(state, bytes(res.commit), NOW)
    _agree(ts, sid, state)


def _decode(data: bytes) -> MLSMessage:
    from accord.mls.codec import decode

    msg: MLSMessage = decode(MLSMessage, data)
    return msg


def test_psks_extensions_adds_and_removal_across_implementations(ts: Any) -> None:
    suite = get_suite(1)
    cred, priv = identity(1, "accord")
    kp = g.key_package(suite, cred, priv, NOW)
    sid, state = _tsmls_group_with_accord(ts, kp)
    # an external PSK known to both, proposed by ts-mls and committed by Accord
    psk_id, psk = b"shared", os.urandom(32)
    ts.StorePSK(pb.StorePSKRequest(state_or_transaction_id=sid, psk_id=psk_id, psk_secret=psk))
    state = g.add_external_psk(state, psk_id, psk)
    prop = bytes(ts.ExternalPSKProposal(pb.ExternalPSKProposalRequest(state_id=sid,
                                                                      psk_id=psk_id)).proposal)
    _, state = g.process(state, prop, NOW)
    out, pending = g.commit(state, now=NOW)
    state = g.merge_pending(pending)
    sid = ts.HandleCommit(pb.HandleCommitRequest(state_id=sid, proposal=[prop],
                                                 commit=out.commit.to_bytes())).state_id
    _agree(ts, sid, state)
    # a resumption PSK of the previous epoch, proposed by Accord, committed by ts-mls
    msg, state = g.propose_psk(state, epoch=state.epoch - 1)
    res = ts.Commit(pb.CommitRequest(state_id=sid, by_reference=[msg.to_bytes()]))
    sid = ts.HandlePendingCommit(pb.HandlePendingCommitRequest(state_id=sid)).state_id
    _, state = g.process(state, bytes(res.commit), NOW)
    _agree(ts, sid, state)
    # ts-mls changes the group context extensions (an application_id, type 1)
    gce = pb.ProposalDescription(proposal_type=b"groupContextExtensions",
                                 extensions=[pb.Extension(extension_type=1, extension_data=b"\x03app")])
    res = ts.Commit(pb.CommitRequest(state_id=sid, by_value=[gce], force_path=True))
    sid = ts.HandlePendingCommit(pb.HandlePendingCommitRequest(state_id=sid)).state_id
    _, state = g.process(state, bytes(res.commit), NOW)
    _agree(ts, sid, state)
    assert [e.extension_type for e in state.context.extensions] == [1]
    # ts-mls adds a second ts-mls member; Accord follows the add
    tx = ts.CreateKeyPackage(pb.CreateKeyPackageRequest(cipher_suite=1, identity=b"ts-bob"))
    add = pb.ProposalDescription(proposal_type=b"add", key_package=tx.key_package)
    res = ts.Commit(pb.CommitRequest(state_id=sid, by_value=[add]))
    sid = ts.HandlePendingCommit(pb.HandlePendingCommitRequest(state_id=sid)).state_id
    _, state = g.process(state, bytes(res.commit), NOW)
    bob = ts.JoinGroup(pb.JoinGroupRequest(transaction_id=tx.transaction_id, welcome=res.welcome,
                                           identity=b"ts-bob")).state_id
    _agree(ts, sid, state)
    _agree(ts, bob, state)
    state = _messages(ts, bob, state)
    # ts-mls removes Accord's member
    prop = bytes(ts.RemoveProposal(pb.RemoveProposalRequest(state_id=bob,
                                                             removed_id=b"accord")).proposal)
    res = ts.Commit(pb.CommitRequest(state_id=sid, by_reference=[prop]))
    _, state = g.process(state, prop, NOW)
    result, state = g.process(state, bytes(res.commit), NOW)
    assert result.removed_self and state.removed


def _accord_group_with_tsmls(ts: Any, suite_id: int = 1) -> tuple[int, g.GroupState]:
    cred, priv = identity(suite_id, "accord")
    state = g.create_group(get_suite(suite_id), os.urandom(8), cred, priv, NOW)
    tx = ts.CreateKeyPackage(pb.CreateKeyPackageRequest(cipher_suite=suite_id, identity=b"ts-bob"))
    res, pending = g.commit(state, now=NOW, by_value=[Add(_decode(bytes(tx.key_package)).message)])
    state = g.merge_pending(pending)
    sid = ts.JoinGroup(pb.JoinGroupRequest(transaction_id=tx.transaction_id,
                                           welcome=res.welcome.to_bytes(),  # type: ignore[union-attr]
                                           identity=b"ts-bob")).state_id
    return sid, state


def test_other_suites_both_directions(ts: Any) -> None:
    """Every other RFC suite. On the ECDSA ones (2, 5, 7) the peer hands ts-mls
    uncompressed signature keys (RFC 9420 5.1.1; its default keygen compresses
    them, which Accord refuses)."""
    offered = set(ts.SupportedCiphersuites(pb.SupportedCiphersuitesRequest()).ciphersuites)
    assert {2, 3, 4, 5, 6, 7} <= offered
    for suite_id in (2, 3, 4, 5, 6, 7):
        sid, state = _accord_group_with_tsmls(ts, suite_id)
        _agree(ts, sid, state)
        state = _messages(ts, sid, state)
        res = ts.Commit(pb.CommitRequest(state_id=sid, force_path=True))
        sid = ts.HandlePendingCommit(pb.HandlePendingCommitRequest(state_id=sid)).state_id
        _, state = g.process(state, bytes(res.commit), NOW)
        _agree(ts, sid, state)


def test_branch_both_directions(ts: Any) -> None:
    sid, state = _accord_group_with_tsmls(ts)
    # ts-mls branches and invites Accord
    kp = g.key_package(get_suite(1), state.own_leaf_node.credential, state.signature_priv, NOW)
    sub = ts.CreateBranch(pb.CreateBranchRequest(
        state_id=sid, group_id=b"ts-branch",
        key_packages=[MLSMessage.wrap(kp.key_package).to_bytes()]))
    branch = g.join_from_welcome(_decode(bytes(sub.welcome)), kp, NOW, resumption_from=[state])
    _agree(ts, sub.state_id, branch)
    # Accord branches and invites ts-mls
    tx = ts.CreateKeyPackage(pb.CreateKeyPackageRequest(cipher_suite=1, identity=b"ts-bob"))
    res, pending = g.branch(state, b"accord-branch", [_decode(bytes(tx.key_package)).message], NOW)
    branch2 = g.merge_pending(pending)
    joined = ts.HandleBranch(pb.HandleBranchRequest(state_id=sid, transaction_id=tx.transaction_id,
                                                    welcome=res.welcome.to_bytes()))  # type: ignore[union-attr]
    _agree(ts, joined.state_id, branch2)


def test_reinit_proposed_by_tsmls_committed_and_welcomed_by_accord(ts: Any) -> None:
    sid, state = _accord_group_with_tsmls(ts)
    prop = bytes(ts.ReInitProposal(pb.ReInitProposalRequest(
        state_id=sid, cipher_suite=1, group_id=b"reinit-group")).proposal)
    _, state = g.process(state, prop, NOW)
    res, pending = g.commit(state, now=NOW)
    old = g.merge_pending(pending)
    assert old.reinit is not None
    handled = ts.HandleReInitCommit(pb.HandleCommitRequest(state_id=sid, proposal=[prop],
                                                            commit=res.commit.to_bytes()))
    assert bytes(handled.epoch_authenticator) == g.epoch_authenticator(old)
    res, pending = g.reinit(old, [_decode(bytes(handled.key_package)).message], NOW)
    new = g.merge_pending(pending)
    joined = ts.HandleReInitWelcome(pb.HandleReInitWelcomeRequest(
        reinit_id=handled.reinit_id, welcome=res.welcome.to_bytes()))  # type: ignore[union-attr]
    _agree(ts, joined.state_id, new)
    _messages(ts, joined.state_id, new)


def test_new_member_proposal_from_tsmls(ts: Any) -> None:
    sid, state = _accord_group_with_tsmls(ts)
    info = g.group_info(state).to_bytes()
    nm = ts.NewMemberAddProposal(pb.NewMemberAddProposalRequest(group_info=info,
                                                                identity=b"ts-carol"))
    _, state = g.process(state, bytes(nm.proposal), NOW)
    res, pending = g.commit(state, now=NOW)
    state = g.merge_pending(pending)
    sid = ts.HandleCommit(pb.HandleCommitRequest(state_id=sid, proposal=[bytes(nm.proposal)],
                                                 commit=res.commit.to_bytes())).state_id
    carol = ts.JoinGroup(pb.JoinGroupRequest(transaction_id=nm.transaction_id,
                                             welcome=res.welcome.to_bytes(),  # type: ignore[union-attr]
                                             identity=b"ts-carol")).state_id
    _agree(ts, sid, state)
    _agree(ts, carol, state)


def test_private_handshake_proposals_from_tsmls(ts: Any) -> None:
    kp = g.key_package(get_suite(1), *identity(1, "accord"), NOW)
    sid = ts.CreateGroup(pb.CreateGroupRequest(group_id=os.urandom(8), cipher_suite=1,
                                               encrypt_handshake=True,
                                               identity=b"ts-alice")).state_id
    add = pb.ProposalDescription(proposal_type=b"add",
                                 key_package=MLSMessage.wrap(kp.key_package).to_bytes())
    res = ts.Commit(pb.CommitRequest(state_id=sid, by_value=[add]))
    sid = ts.HandlePendingCommit(pb.HandlePendingCommitRequest(state_id=sid)).state_id
    state = g.join_from_welcome(_decode(res.welcome), kp, NOW,
                                config=g.GroupConfig(encrypt_handshake=True))
    prop = bytes(ts.UpdateProposal(pb.UpdateProposalRequest(state_id=sid)).proposal)
    assert _decode(prop).wire_format == 2  # a PrivateMessage
    _, state = g.process(state, prop, NOW)
    res, pending = g.commit(state, now=NOW)
    state = g.merge_pending(pending)
    sid = ts.HandleCommit(pb.HandleCommitRequest(state_id=sid, proposal=[prop],
                                                 commit=res.commit.to_bytes())).state_id
    _agree(ts, sid, state)
    _messages(ts, sid, state)


class _Mixed:
    """A group whose members are split between Accord (in process) and ts-mls."""

    def __init__(self, ts: Any, rng: Any) -> None:
        self.ts, self.rng, self.serial = ts, rng, 0
        self.accord: dict[str, g.GroupState] = {}
        self.tsmls: dict[str, int] = {}
        cred, priv = identity(1, "a0")
        self.accord["a0"] = g.create_group(get_suite(1), os.urandom(8), cred, priv, NOW)

    def names(self) -> list[str]:
        return sorted(self.accord) + sorted(self.tsmls)

    def removable(self, committer: str) -> list[str]:
        # keep at least one member of each implementation once both are in
        out = []
        for n in self.names():
            own = self.accord if n in self.accord else self.tsmls
            if n != committer and len(own) > 1:
                out.append(n)
        return out

    def message(self) -> None:
        sender = self.rng.choice(self.names())
        data = b"%d" % self.rng.getrandbits(64)
        if sender in self.accord:
            msg, self.accord[sender] = g.protect(self.accord[sender], data)
            ct = msg.to_bytes()
        else:
            ct = bytes(self.ts.Protect(pb.ProtectRequest(state_id=self.tsmls[sender],
                                                         plaintext=data)).ciphertext)
        for name in self.names():
            if name == sender:
                continue
            if name in self.accord:
                out, self.accord[name] = g.process(self.accord[name], ct, NOW)
                got = out.application_data
            else:
                got = self.ts.Unprotect(pb.UnprotectRequest(state_id=self.tsmls[name],
                                                            ciphertext=ct)).plaintext
            assert got == data

    def new_member(self) -> tuple[str, Any, bytes]:
        self.serial += 1
        if self.rng.random() < 0.5:
            name = f"a{self.serial}"
            kp = g.key_package(get_suite(1), *identity(1, name), NOW)
            return name, kp, MLSMessage.wrap(kp.key_package).to_bytes()
        name = f"t{self.serial}"
        tx = self.ts.CreateKeyPackage(pb.CreateKeyPackageRequest(cipher_suite=1,
                                                                 identity=name.encode()))
        return name, tx, bytes(tx.key_package)

    def step(self) -> None:
        committer = self.rng.choice(self.names())
        roll = self.rng.random()
        if roll < 0.4 and len(self.names()) < 12:
            name, handle, kp_bytes = self.new_member()
            welcome = self.commit(committer, add=kp_bytes)
            self.join(name, handle, welcome)
        elif roll < 0.6 and self.removable(committer):
            self.commit(committer, remove=self.rng.choice(self.removable(committer)))
        else:
            self.commit(committer)
        self.check()
        self.message()

    def commit(self, committer: str, add: bytes | None = None,
               remove: str | None = None) -> bytes | None:
        if committer in self.accord:
            state = self.accord[committer]
            props: list[Any] = []
            if add is not None:
                props.append(Add(_decode(add).message))
            if remove is not None:
                leaf = next(i for i, n in g.members(state) if n.credential.identity == remove.encode())
                props.append(Remove(leaf))
            res, pending = g.commit(state, now=NOW, by_value=props, force_path=not props)
            self.accord[committer] = g.merge_pending(pending)
            commit, welcome = res.commit.to_bytes(), res.welcome.to_bytes() if res.welcome else None
        else:
            desc = []
            if add is not None:
                desc.append(pb.ProposalDescription(proposal_type=b"add", key_package=add))
            if remove is not None:
                desc.append(pb.ProposalDescription(proposal_type=b"remove",
                                                   removed_id=remove.encode()))
            res = self.ts.Commit(pb.CommitRequest(state_id=self.tsmls[committer], by_value=desc))
            self.ts.HandlePendingCommit(pb.HandlePendingCommitRequest(state_id=self.tsmls[committer]))
            commit, welcome = bytes(res.commit), bytes(res.welcome) or None
        for name in [n for n in self.names() if n != committer]:
            if name == remove:
                self.accord.pop(name, None)
                self.tsmls.pop(name, None)
            elif name in self.accord:
                _, self.accord[name] = g.process(self.accord[name], commit, NOW)
            else:
                self.ts.HandleCommit(pb.HandleCommitRequest(state_id=self.tsmls[name], commit=commit))
        return welcome

    def join(self, name: str, handle: Any, welcome: bytes | None) -> None:
        assert welcome is not None
        if isinstance(handle, g.KeyPackagePrivate):
            self.accord[name] = g.join_from_welcome(_decode(welcome), handle, NOW)
        else:
            self.tsmls[name] = self.ts.JoinGroup(pb.JoinGroupRequest(
                transaction_id=handle.transaction_id, welcome=welcome,
                identity=name.encode())).state_id

    def check(self) -> None:
        auths = {g.epoch_authenticator(s) for s in self.accord.values()}
        auths |= {_auth(self.ts, sid) for sid in self.tsmls.values()}
        assert len(auths) == 1, f"members disagree: {self.names()}"


def test_mixed_random_history(ts: Any) -> None:
    """A seeded random history of adds, removes and path updates by members of
    either implementation, all members agreeing after every commit, and every
    application message read by everyone.

    Other seeds run into two ts-mls 1.6.4 deviations (found with this test):
    when the root is not on the committer's filtered direct path (one half of
    the tree blank), ts-mls derives the commit secret one step past the last
    path secret (RFC 9420 12.4.1: it is path_secret[n+1] of the UpdatePath),
    so the epochs diverge; and its tree validation demands that every
    non-blank ancestor of an unmerged leaf carry the same unmerged_leaves list
    (12.4.3.1 asks only the nodes between the leaf and the parent listing it
    to list the leaf), so it rejects valid trees in Welcome messages.
    Accord's side of both was checked against the RFC and the official
    treekem and tree-validation vectors."""
    import random

    mixed = _Mixed(ts, random.Random(9420))
    sizes = []
    for _ in range(30):
        mixed.step()
        sizes.append((len(mixed.accord), len(mixed.tsmls)))
    assert max(a for a, _ in sizes) >= 3 and max(t for _, t in sizes) >= 3
