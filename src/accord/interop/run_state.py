"""The state of one run: which client plays which actor, the handles each holds,
the values steps hand to later steps, and who is in which epoch.

``Run`` is what every step action (steps.py, steps_reinit.py) reads and updates,
and what the agreement check (agreement.py) asks after every step.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from accord.interop.client import Client
from accord.interop.config import Script, Step
from accord.interop.divergence import StepFailed, find_divergence
from accord.interop.proto import mls_client_pb2 as pb

Tag = tuple[str, int]  # which epoch a member's state is in: (kind, step index)


def ci_get(d: Mapping[str, Any], name: str, default: Any = None) -> Any:
    """Go's encoding/json matches keys case-insensitively; so do we."""
    if name in d:
        return d[name]
    folded = name.casefold()
    return next((v for k, v in d.items() if k.casefold() == folded), default)


def extensions(raw: Any) -> list[pb.Extension]:
    out = []
    for e in raw or []:
        data = base64.b64decode(ci_get(e, "extension_data", "") or "", validate=True)
        out.append(pb.Extension(extension_type=int(ci_get(e, "extension_type", 0)), extension_data=data))
    return out


class Run:
    """The live state of one run: handles per actor, messages per step, epochs."""

    def __init__(self, script: Script, clients: Mapping[str, Client], suite: int, encrypt: bool) -> None:
        self.script = script
        self.clients = dict(clients)
        self.suite = suite
        self.encrypt = encrypt
        self.state_id: dict[str, int] = {}
        self.txn: dict[str, int] = {}
        self.signer: dict[str, int] = {}
        self.msgs: list[dict[str, bytes]] = [{} for _ in script.steps]
        self.epoch: dict[str, Tag] = {}
        self.pending: dict[str, int] = {}
        self.touched: set[str] = set()
        self.handles: dict[tuple[str, int], None] = {}  # every id a server gave out, for Free

    def keep(self, actor: str, handle: int) -> int:
        self.handles[(actor, handle)] = None
        return handle

    # -- plumbing

    def who(self, actor: str) -> str:
        return f"{actor}({self.clients[actor].label})"

    def call(self, actor: str, method: str, request: Any) -> Any:
        if actor not in self.clients:
            raise StepFailed(f"malformed step: {actor!r} is not an actor of this script")
        return self.clients[actor].call(method, request)

    def sid(self, actor: str) -> int:
        if actor not in self.state_id:
            raise StepFailed(f"malformed step: {actor} has no group state")
        self.touched.add(actor)
        return self.state_id[actor]

    def set_state(self, actor: str, state_id: int, tag: Tag) -> None:
        self.state_id[actor] = self.keep(actor, state_id)
        self.epoch[actor] = tag
        self.touched.add(actor)

    def get(self, index: Any, key: str) -> bytes:
        if not isinstance(index, int) or not 0 <= index < len(self.msgs) or key not in self.msgs[index]:
            raise StepFailed(f"malformed step: no {key} at step {index}")
        return self.msgs[index][key]

    def same(self, what: str, expected: tuple[str, bytes], got: tuple[str, bytes]) -> None:
        div = find_divergence(what, [expected, got])
        if div is not None:
            raise StepFailed(f"{got[0]} disagrees on {what}", div)

    def group_id(self, change: bool) -> bytes:
        gid = self.get(0, "group_id")
        return gid + b"++" if change else gid

    def change_suite(self) -> None:
        shared = frozenset.intersection(*(c.suites for c in self.clients.values()))
        others = sorted(shared - {self.suite})
        if not others:
            raise StepFailed("no remaining supported ciphersuite to change to")
        self.suite = others[0]

    def proposal_description(self, desc: Mapping[str, Any]) -> pb.ProposalDescription:
        kind = str(ci_get(desc, "proposalType", ""))
        out = pb.ProposalDescription(proposal_type=kind.encode())
        if kind == "add":
            out.key_package = self.get(ci_get(desc, "keyPackage"), "key_package")
        elif kind == "remove":
            out.removed_id = str(ci_get(desc, "removed", "")).encode()
        elif kind == "externalPSK":
            out.psk_id = self.get(ci_get(desc, "pskID"), "psk_id")
        elif kind == "resumptionPSK":
            out.epoch_id = int(ci_get(desc, "epochID", 0))
        elif kind == "groupContextExtensions":
            out.extensions.extend(extensions(ci_get(desc, "extensions")))
        elif kind == "reinit":
            out.extensions.extend(extensions(ci_get(desc, "extensions")))
            if ci_get(desc, "changeCipherSuite", False):
                self.change_suite()
            out.cipher_suite = self.suite
            out.group_id = self.group_id(bool(ci_get(desc, "changeGroupID", False)))
        else:
            raise StepFailed(f"unknown proposal type [{kind}]")
        return out

    def commit_request(self, step: Step) -> pb.CommitRequest:
        by_ref = [self.get(i, "proposal") for i in step.get("byReference") or []]
        by_val = [self.proposal_description(d) for d in step.get("byValue") or []]
        return pb.CommitRequest(
            state_id=self.sid(step.actor),
            by_reference=by_ref,
            by_value=by_val,
            force_path=step.flag("force_path", "forcePath"),
            external_tree=step.flag("external_tree", "externalTree"),
        )

    def join(self, joiner: str, welcome: bytes, tree: bytes, expected: tuple[str, bytes], tag: Tag) -> None:
        if joiner not in self.txn:
            raise StepFailed(f"malformed step: no transaction for {joiner}")
        req = pb.JoinGroupRequest(
            transaction_id=self.txn[joiner], welcome=welcome, encrypt_handshake=self.encrypt,
            identity=joiner.encode(), ratchet_tree=tree,
        )
        resp = self.call(joiner, "JoinGroup", req)
        self.same("epoch_authenticator", expected, (self.who(joiner), resp.epoch_authenticator))
        self.set_state(joiner, resp.state_id, tag)

    def handle_commit(self, member: str, commit: bytes, by_ref: list[bytes], expected: tuple[str, bytes] | None, tag: Tag) -> None:
        req = pb.HandleCommitRequest(state_id=self.sid(member), proposal=by_ref, commit=commit)
        resp = self.call(member, "HandleCommit", req)
        if expected is not None:
            self.same("epoch_authenticator", expected, (self.who(member), resp.epoch_authenticator))
        self.set_state(member, resp.state_id, tag)

    def key_package(self, actor: str) -> tuple[int, bytes]:
        req = pb.CreateKeyPackageRequest(cipher_suite=self.suite, identity=actor.encode())
        resp = self.call(actor, "CreateKeyPackage", req)
        return self.keep(actor, resp.transaction_id), resp.key_package


# -- the actions, one function each
