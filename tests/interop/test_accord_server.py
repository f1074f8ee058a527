"""`accord interop serve` as a process: start-up contract, handles, and bad requests.

Every bad request gets a typed gRPC status (never UNKNOWN, never a dead server),
and the server answers the next request normally.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from click.testing import CliRunner

from accord.cli.main import cli
from accord.interop.proto import mls_client_pb2 as pb
from accord.interop.proto import mls_client_pb2_grpc as pb_grpc
from accord.interop.servicer import AccordMLSClient
from accord.interop.state_store import Member
from accord.mls import group as g
from accord.mls.codec import decode
from accord.mls.structs import Credential, ExternalPub, MLSMessage
from accord.mls.structs.enums import ExtensionType
from accord.mls.suites import get_suite
from tests.interop.tsmls_peer import PEER_DIR, Peer, peers, start_accord, start_server
from tests.mls import malicious_member

TYPED = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION}


@pytest.fixture(scope="module")
def stub() -> Iterator[Any]:
    server: Peer = start_accord()
    channel = grpc.insecure_channel(server.address)
    try:
        grpc.channel_ready_future(channel).result(timeout=15)
        yield pb_grpc.MLSClientStub(channel)
        log = server.stderr_text()
        assert "Traceback" not in log, log[-2000:]
    finally:
        channel.close()
        server.stop()


def fails(stub: Any, method: str, request: Any, *codes: grpc.StatusCode) -> str:
    with pytest.raises(grpc.RpcError) as info:
        getattr(stub, method)(request, timeout=30)
    err = info.value
    assert err.code() in (set(codes) or TYPED), (method, err.code(), err.details())
    assert err.details(), method
    # ... and the server still serves
    assert stub.Name(pb.NameRequest(), timeout=10).name == "accord"
    return str(err.details())


def group(stub: Any, name: bytes = b"alice") -> int:
    return int(stub.CreateGroup(pb.CreateGroupRequest(group_id=os.urandom(8), cipher_suite=1,
                                                      identity=name)).state_id)


def test_every_rpc_of_the_service_is_accords_own() -> None:
    """All 34 RPCs of MLSClient are implemented by AccordMLSClient; none falls back
    to the generated base class, whose methods only answer UNIMPLEMENTED."""
    rpcs = list(pb.DESCRIPTOR.services_by_name["MLSClient"].methods_by_name)
    assert len(rpcs) == 34
    inherited = [name for name in rpcs
                 if getattr(AccordMLSClient, name) is getattr(pb_grpc.MLSClientServicer, name)]
    assert inherited == []


def test_name_and_suites(stub: Any) -> None:
    assert stub.Name(pb.NameRequest()).name == "accord"
    suites = set(stub.SupportedCiphersuites(pb.SupportedCiphersuitesRequest()).ciphersuites)
    assert set(range(1, 8)) | {83, 84} <= suites


def test_handles_are_random_nonzero_and_distinct(stub: Any) -> None:
    ids = [group(stub) for _ in range(20)]
    assert 0 not in ids and len(set(ids)) == 20
    assert max(ids) - min(ids) > 20  # not a counter
    for i in ids:
        stub.Free(pb.FreeRequest(state_id=i))
    fails(stub, "StateAuth", pb.StateAuthRequest(state_id=ids[0]), grpc.StatusCode.NOT_FOUND)


def test_unknown_ids(stub: Any) -> None:
    for method, req in [
        ("StateAuth", pb.StateAuthRequest(state_id=12345)),
        ("Commit", pb.CommitRequest(state_id=12345)),
        ("JoinGroup", pb.JoinGroupRequest(transaction_id=12345, welcome=b"\x00\x01")),
        ("HandleReInitWelcome", pb.HandleReInitWelcomeRequest(reinit_id=12345)),
        ("ExternalSignerProposal", pb.ExternalSignerProposalRequest(signer_id=12345)),
        ("Free", pb.FreeRequest(state_id=12345)),
        ("StorePSK", pb.StorePSKRequest(state_or_transaction_id=12345, psk_id=b"x", psk_secret=b"y")),
    ]:
        fails(stub, method, req, grpc.StatusCode.NOT_FOUND)
    # a transaction id is not a state id
    tx = stub.CreateKeyPackage(pb.CreateKeyPackageRequest(cipher_suite=1, identity=b"bob")).transaction_id
    fails(stub, "StateAuth", pb.StateAuthRequest(state_id=tx), grpc.StatusCode.NOT_FOUND)


def test_out_of_order_and_bad_values(stub: Any) -> None:
    sid = group(stub)
    fails(stub, "HandlePendingCommit", pb.HandlePendingCommitRequest(state_id=sid),
          grpc.StatusCode.FAILED_PRECONDITION)
    stub.Commit(pb.CommitRequest(state_id=sid))
    fails(stub, "Commit", pb.CommitRequest(state_id=sid), grpc.StatusCode.FAILED_PRECONDITION)
    stub.HandlePendingCommit(pb.HandlePendingCommitRequest(state_id=sid))
    fails(stub, "HandlePendingReInitCommit", pb.HandlePendingCommitRequest(state_id=sid),
          grpc.StatusCode.FAILED_PRECONDITION)
    fails(stub, "CreateGroup", pb.CreateGroupRequest(group_id=b"g", cipher_suite=9999, identity=b"a"))
    fails(stub, "CreateGroup", pb.CreateGroupRequest(group_id=b"", cipher_suite=1, identity=b"a"))
    fails(stub, "Export", pb.ExportRequest(state_id=sid, label="x", key_length=0))
    fails(stub, "RemoveProposal", pb.RemoveProposalRequest(state_id=sid, removed_id=b"nobody"))
    desc = pb.ProposalDescription(proposal_type=b"frobnicate")
    fails(stub, "Commit", pb.CommitRequest(state_id=sid, by_value=[desc]))


def test_wrong_key_package_bytes(stub: Any) -> None:
    sid = group(stub)
    kp = bytes(stub.CreateKeyPackage(pb.CreateKeyPackageRequest(cipher_suite=1, identity=b"bob")).key_package)
    bad = kp[:-1] + bytes([kp[-1] ^ 1])  # signature broken
    fails(stub, "AddProposal", pb.AddProposalRequest(state_id=sid, key_package=bad))
    fails(stub, "AddProposal", pb.AddProposalRequest(state_id=sid, key_package=kp[:40]))
    # a key package of another suite
    kp3 = stub.CreateKeyPackage(pb.CreateKeyPackageRequest(cipher_suite=3, identity=b"carol")).key_package
    desc = pb.ProposalDescription(proposal_type=b"add", key_package=kp3)
    fails(stub, "Commit", pb.CommitRequest(state_id=sid, by_value=[desc]))
    # a GroupInfo where a KeyPackage belongs
    gi = stub.GroupInfo(pb.GroupInfoRequest(state_id=sid)).group_info
    fails(stub, "AddProposal", pb.AddProposalRequest(state_id=sid, key_package=gi))
    # the good one still works after all that
    assert stub.AddProposal(pb.AddProposalRequest(state_id=sid, key_package=kp)).proposal


def test_commit_from_another_group(stub: Any) -> None:
    a, b = group(stub, b"a"), group(stub, b"b")
    other = stub.Commit(pb.CommitRequest(state_id=b, force_path=True)).commit
    auth = stub.StateAuth(pb.StateAuthRequest(state_id=a)).state_auth_secret
    fails(stub, "HandleCommit", pb.HandleCommitRequest(state_id=a, commit=other))
    fails(stub, "Unprotect", pb.UnprotectRequest(state_id=a, ciphertext=other))
    assert stub.StateAuth(pb.StateAuthRequest(state_id=a)).state_auth_secret == auth


def test_T01_a_member_cannot_rename_itself_in_the_interop_engine(stub: Any) -> None:
    """RFC 9420 5.3.1 holds in the interop server too: bob (a member the test
    holds) gives his leaf alice's identity, by Update or by commit path, and
    the server's alice refuses; a same-identity key rotation goes through."""
    a = group(stub, b"alice")
    t = int(time.time())
    suite = get_suite(1)
    kpp = g.key_package(suite, Credential.basic(b"bob"), suite.generate_signature_key_pair()[0], t)
    add = pb.ProposalDescription(proposal_type=b"add",
                                 key_package=MLSMessage.wrap(kpp.key_package).to_bytes())
    welcome = stub.Commit(pb.CommitRequest(state_id=a, by_value=[add])).welcome
    stub.HandlePendingCommit(pb.HandlePendingCommitRequest(state_id=a))
    bob = g.join_from_welcome(decode(MLSMessage, bytes(welcome)), kpp, t)
    update, _ = malicious_member.update_proposal(bob, credential=Credential.basic(b"alice"))
    details = fails(stub, "HandleCommit", pb.HandleCommitRequest(
        state_id=a, proposal=[update.to_bytes()], commit=b"\x00"), grpc.StatusCode.INVALID_ARGUMENT)
    assert details.startswith("ValidationError") and "(RFC 9420 5.3.1)" in details
    forged = malicious_member.path_commit(bob, t, credential=Credential.basic(b"alice"))
    details = fails(stub, "HandleCommit", pb.HandleCommitRequest(
        state_id=a, commit=forged.to_bytes()), grpc.StatusCode.INVALID_ARGUMENT)
    assert details.startswith("ValidationError") and "(RFC 9420 5.3.1)" in details
    rotated = malicious_member.path_commit(
        bob, t, signature_key_pair=suite.generate_signature_key_pair())
    assert stub.HandleCommit(pb.HandleCommitRequest(state_id=a, commit=rotated.to_bytes()),
                             timeout=30).epoch_authenticator


GARBAGE = [b"\x00", b"\xff" * 3, os.urandom(64), b"\x00\x01\x00\x01" + os.urandom(200)]


def test_garbage_in_every_bytes_field(stub: Any) -> None:
    sid = group(stub)
    tx = stub.CreateKeyPackage(pb.CreateKeyPackageRequest(cipher_suite=1, identity=b"bob")).transaction_id
    signer = stub.CreateExternalSigner(pb.CreateExternalSignerRequest(cipher_suite=1, identity=b"ds")).signer_id
    gi = stub.GroupInfo(pb.GroupInfoRequest(state_id=sid)).group_info
    for junk in GARBAGE:
        cases = [
            ("JoinGroup", pb.JoinGroupRequest(transaction_id=tx, welcome=junk)),
            ("JoinGroup", pb.JoinGroupRequest(transaction_id=tx, welcome=junk, ratchet_tree=junk)),
            ("ExternalJoin", pb.ExternalJoinRequest(group_info=junk, identity=b"x")),
            ("ExternalJoin", pb.ExternalJoinRequest(group_info=gi, ratchet_tree=junk, identity=b"x")),
            ("Unprotect", pb.UnprotectRequest(state_id=sid, ciphertext=junk)),
            ("AddProposal", pb.AddProposalRequest(state_id=sid, key_package=junk)),
            ("Commit", pb.CommitRequest(state_id=sid, by_reference=[junk])),
            ("Commit", pb.CommitRequest(state_id=sid, by_value=[pb.ProposalDescription(proposal_type=b"add", key_package=junk)])),
            ("HandleCommit", pb.HandleCommitRequest(state_id=sid, commit=junk)),
            ("HandleCommit", pb.HandleCommitRequest(state_id=sid, proposal=[junk], commit=junk)),
            ("HandleReInitCommit", pb.HandleCommitRequest(state_id=sid, commit=junk)),
            ("CreateBranch", pb.CreateBranchRequest(state_id=sid, group_id=b"b", key_packages=[junk])),
            ("HandleBranch", pb.HandleBranchRequest(state_id=sid, transaction_id=tx, welcome=junk)),
            ("NewMemberAddProposal", pb.NewMemberAddProposalRequest(group_info=junk, identity=b"x")),
            ("AddExternalSigner", pb.AddExternalSignerRequest(state_id=sid, external_sender=junk)),
            ("ExternalSignerProposal", pb.ExternalSignerProposalRequest(
                signer_id=signer, group_info=junk, description=pb.ProposalDescription(proposal_type=b"add"))),
            ("ExternalSignerProposal", pb.ExternalSignerProposalRequest(
                signer_id=signer, group_info=gi, ratchet_tree=junk,
                description=pb.ProposalDescription(proposal_type=b"remove", removed_id=b"alice"))),
        ]
        for method, req in cases:
            fails(stub, method, req)
    # the state is intact: it still commits and agrees with itself
    stub.Commit(pb.CommitRequest(state_id=sid))
    stub.HandlePendingCommit(pb.HandlePendingCommitRequest(state_id=sid))
    assert len(stub.StateAuth(pb.StateAuthRequest(state_id=sid)).state_auth_secret) == 32


# --- the opt-in peer quirk `--peer-quirk tsmls-external-pub` (not RFC 9420) --------

QUIRK = "tsmls-external-pub"


class Aborted(Exception):
    pass


class Context:
    """Enough of grpc.ServicerContext to call the servicer's RPCs in-process."""

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise Aborted(code, details)


def external_pub_data(group_info: bytes) -> bytes:
    info = MLSMessage.from_bytes(group_info).message
    found = [e.extension_data for e in info.extensions
             if e.extension_type == ExtensionType.EXTERNAL_PUB]
    assert len(found) == 1
    return bytes(found[0])


@pytest.mark.parametrize("quirks", [frozenset(), frozenset({QUIRK})])
def test_group_info_external_pub_form_and_external_join(quirks: frozenset[str]) -> None:
    client, ctx = AccordMLSClient(quirks), Context()
    sid = client.CreateGroup(pb.CreateGroupRequest(group_id=os.urandom(8), cipher_suite=1,
                                                   identity=b"alice"), ctx).state_id
    key = client.store.get(sid, Member, "state").state.secrets.external_pub()
    gi = client.GroupInfo(pb.GroupInfoRequest(state_id=sid), ctx).group_info
    data = external_pub_data(gi)
    if quirks:
        assert data == key  # the bare HPKE key, as ts-mls 1.6.4 reads it
    else:
        assert data == ExternalPub(key).to_bytes() != key  # RFC 9420 12.4.3.2
    # Accord joins externally from either form, and the member agrees
    joined = client.ExternalJoin(pb.ExternalJoinRequest(group_info=gi, identity=b"bob"), ctx)
    client.HandleCommit(pb.HandleCommitRequest(state_id=sid, commit=joined.commit), ctx)
    auth = client.StateAuth(pb.StateAuthRequest(state_id=sid), ctx).state_auth_secret
    assert auth == joined.epoch_authenticator


def test_unknown_quirk_is_refused() -> None:
    with pytest.raises(ValueError, match="frobnicate"):
        AccordMLSClient(frozenset({"frobnicate"}))
    result = CliRunner().invoke(cli, ["interop", "serve", "--port", "0", "--peer-quirk", "frobnicate"])
    assert result.exit_code == 2, result.output
    assert "frobnicate" in result.output


def test_serve_help_says_the_quirk_is_not_rfc() -> None:
    result = CliRunner().invoke(cli, ["interop", "serve", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "--peer-quirk" in text and QUIRK in text
    assert "NOT RFC 9420" in text and "ts-mls 1.6.4" in text


def test_tsmls_joins_externally_from_the_quirk_server() -> None:
    """The point of the quirk: ts-mls 1.6.4 joins an Accord group externally."""
    argv = [sys.executable, "-c", "from accord.cli.main import main; main()", "interop", "serve",
            "--host", "127.0.0.1", "--port", "0", "--peer-quirk", QUIRK]
    with peers(1) as (ts_peer,):
        server = start_server(argv, PEER_DIR.parents[2], "accord interop serve --peer-quirk")
        accord = grpc.insecure_channel(server.address)
        ts = grpc.insecure_channel(ts_peer.address)
        try:
            log = server.stderr_text()
            assert f"peer quirk {QUIRK} is on" in log and "not RFC 9420" in log, log
            a, t = pb_grpc.MLSClientStub(accord), pb_grpc.MLSClientStub(ts)
            sid = a.CreateGroup(pb.CreateGroupRequest(group_id=os.urandom(8), cipher_suite=1,
                                                      identity=b"alice"), timeout=30).state_id
            gi = a.GroupInfo(pb.GroupInfoRequest(state_id=sid), timeout=30).group_info
            joined = t.ExternalJoin(pb.ExternalJoinRequest(group_info=gi, identity=b"ts-bob"),
                                    timeout=30)
            a.HandleCommit(pb.HandleCommitRequest(state_id=sid, commit=joined.commit), timeout=30)
            auth = a.StateAuth(pb.StateAuthRequest(state_id=sid), timeout=30).state_auth_secret
            assert auth == joined.epoch_authenticator
        finally:
            accord.close()
            ts.close()
            server.stop()
