"""The ts-mls peer as a server: coverage of the 34 RPCs, bad requests, opaque handles."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from accord.interop.proto import mls_client_pb2 as pb
from accord.interop.proto import mls_client_pb2_grpc as pb_grpc
from tests.interop.tsmls_peer import Peer

SERVICE = pb.DESCRIPTOR.services_by_name["MLSClient"]
TIMEOUT = 30


@pytest.fixture(scope="module")
def stub(tsmls_pair: list[Peer]) -> Iterator[Any]:
    channel = grpc.insecure_channel(tsmls_pair[0].address)
    grpc.channel_ready_future(channel).result(timeout=TIMEOUT)
    yield pb_grpc.MLSClientStub(channel)
    channel.close()


def call(stub: Any, method: str, request: Any) -> Any:
    return getattr(stub, method)(request, timeout=TIMEOUT)


def status_of(stub: Any, method: str, request: Any) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        call(stub, method, request)
    return info.value.code()  # type: ignore[attr-defined,no-any-return]


def assert_alive(stub: Any) -> None:
    assert call(stub, "Name", pb.NameRequest()).name.startswith("ts-mls 1.6.4")


def new_group(stub: Any, name: bytes = b"alice", suite: int = 1) -> int:
    return int(call(stub, "CreateGroup", pb.CreateGroupRequest(group_id=b"g-" + name, cipher_suite=suite, identity=name)).state_id)


def test_all_34_rpcs_are_served(stub: Any) -> None:
    """Every RPC answers something other than UNIMPLEMENTED to an empty request."""
    assert len(SERVICE.methods) == 34
    for method in SERVICE.methods:
        request = getattr(pb, method.input_type.name)()
        try:
            call(stub, method.name, request)
        except grpc.RpcError as exc:
            assert exc.code() != grpc.StatusCode.UNIMPLEMENTED, method.name  # type: ignore[attr-defined]
        assert_alive(stub)


def test_suites_include_rfc_and_x_wing(stub: Any) -> None:
    suites = list(call(stub, "SupportedCiphersuites", pb.SupportedCiphersuitesRequest()).ciphersuites)
    assert {1, 2, 3, 4, 5, 6, 7} <= set(suites)
    assert {83, 84} <= set(suites)  # MLS_256_XWING_{AES256GCM,CHACHA20POLY1305}_SHA512_Ed25519
    sid = new_group(stub, b"pq", suite=83)
    assert len(call(stub, "StateAuth", pb.StateAuthRequest(state_id=sid)).state_auth_secret) == 64


def test_handles_are_opaque(stub: Any) -> None:
    ids = [new_group(stub, b"h%d" % i) for i in range(12)]
    assert len(set(ids)) == 12 and 0 not in ids
    # A counter would give a run of neighbours; random 32-bit ids are spread out.
    assert max(ids) - min(ids) > 1000


@pytest.mark.parametrize(
    ("method", "request_"),
    [
        ("StateAuth", pb.StateAuthRequest(state_id=7)),
        ("Export", pb.ExportRequest(state_id=7, label="x", key_length=32)),
        ("Protect", pb.ProtectRequest(state_id=7, plaintext=b"x")),
        ("HandlePendingCommit", pb.HandlePendingCommitRequest(state_id=7)),
        ("JoinGroup", pb.JoinGroupRequest(transaction_id=7, welcome=b"x")),
        ("HandleReInitWelcome", pb.HandleReInitWelcomeRequest(reinit_id=7)),
        ("Free", pb.FreeRequest(state_id=7)),
    ],
)
def test_unknown_ids_are_not_found(stub: Any, method: str, request_: Any) -> None:
    assert status_of(stub, method, request_) == grpc.StatusCode.NOT_FOUND
    assert_alive(stub)


GARBAGE = [b"\x00", b"\xff" * 7, bytes(range(256)) * 3]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage_in_every_bytes_field(stub: Any, garbage: bytes) -> None:
    sid = new_group(stub)
    kp = call(stub, "CreateKeyPackage", pb.CreateKeyPackageRequest(cipher_suite=1, identity=b"bob"))
    cases = [
        ("AddProposal", pb.AddProposalRequest(state_id=sid, key_package=garbage)),
        ("Unprotect", pb.UnprotectRequest(state_id=sid, ciphertext=garbage)),
        ("HandleCommit", pb.HandleCommitRequest(state_id=sid, commit=garbage)),
        ("HandleCommit", pb.HandleCommitRequest(state_id=sid, proposal=[garbage], commit=garbage)),
        ("Commit", pb.CommitRequest(state_id=sid, by_reference=[garbage])),
        ("Commit", pb.CommitRequest(state_id=sid, by_value=[pb.ProposalDescription(proposal_type=b"add", key_package=garbage)])),
        ("JoinGroup", pb.JoinGroupRequest(transaction_id=kp.transaction_id, welcome=garbage)),
        ("JoinGroup", pb.JoinGroupRequest(transaction_id=kp.transaction_id, welcome=garbage, ratchet_tree=garbage)),
        ("ExternalJoin", pb.ExternalJoinRequest(group_info=garbage, identity=b"eve")),
        ("NewMemberAddProposal", pb.NewMemberAddProposalRequest(group_info=garbage, identity=b"eve")),
        ("AddExternalSigner", pb.AddExternalSignerRequest(state_id=sid, external_sender=garbage)),
        ("RemoveProposal", pb.RemoveProposalRequest(state_id=sid, removed_id=garbage)),
        ("CreateBranch", pb.CreateBranchRequest(state_id=sid, group_id=b"b", key_packages=[garbage])),
        ("HandleBranch", pb.HandleBranchRequest(state_id=sid, transaction_id=kp.transaction_id, welcome=garbage)),
    ]
    for method, request in cases:
        code = status_of(stub, method, request)
        assert code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION), (method, code)
        assert_alive(stub)
    # The group still works after all of that.
    assert call(stub, "Protect", pb.ProtectRequest(state_id=sid, plaintext=b"still here")).ciphertext


def test_a_commit_from_another_group_and_a_key_package_as_welcome(stub: Any) -> None:
    a, b = new_group(stub, b"a"), new_group(stub, b"b")
    other = call(stub, "Commit", pb.CommitRequest(state_id=b)).commit
    assert status_of(stub, "HandleCommit", pb.HandleCommitRequest(state_id=a, commit=other)) == grpc.StatusCode.INVALID_ARGUMENT
    kp = call(stub, "CreateKeyPackage", pb.CreateKeyPackageRequest(cipher_suite=1, identity=b"c"))
    wrong = pb.JoinGroupRequest(transaction_id=kp.transaction_id, welcome=kp.key_package)
    assert status_of(stub, "JoinGroup", wrong) == grpc.StatusCode.INVALID_ARGUMENT
    assert status_of(stub, "CreateGroup", pb.CreateGroupRequest(group_id=b"x", cipher_suite=0x7777)) == grpc.StatusCode.INVALID_ARGUMENT
    assert status_of(stub, "HandlePendingCommit", pb.HandlePendingCommitRequest(state_id=a)) == grpc.StatusCode.FAILED_PRECONDITION
    assert_alive(stub)


def test_external_join_with_psk_is_unimplemented(stub: Any) -> None:
    sid = new_group(stub)
    gi = call(stub, "GroupInfo", pb.GroupInfoRequest(state_id=sid))
    req = pb.ExternalJoinRequest(group_info=gi.group_info, identity=b"bob", psks=[pb.PreSharedKey(psk_id=b"i", psk_secret=b"s")])
    assert status_of(stub, "ExternalJoin", req) == grpc.StatusCode.UNIMPLEMENTED
    ok = call(stub, "ExternalJoin", pb.ExternalJoinRequest(group_info=gi.group_info, identity=b"bob"))
    assert ok.commit and ok.epoch_authenticator
