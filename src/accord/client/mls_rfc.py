"""``MlsEngine`` over ``accord.mls.group`` (RFC 9420), in the suites Accord offers.

A device's signature key is Ed25519, which both offered suites use (0x0001
and the X-Wing suite 0x0053, docs/PROTOCOL.md), so one device key signs in
either; a group's suite is fixed at its creation and read from its state.

States cross the boundary as ``GroupState.to_bytes()``; KeyPackages as
``MLSMessage`` bytes (wire format mls_key_package, RFC 9420 6). Credentials
are basic (5.3) with the identity ``account/device_id``; the client binds
it to the provider's device list itself (``conversations.claim``).
The engine counts time in seconds, the client in milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from accord.client import mls_room
from accord.client.mls_session import (
    CLASSIC_SUITE,
    OFFERED_SUITES,
    CommitOutput,
    KeyPackageBundle,
    Member,
    MlsEngine,
    Received,
)
from accord.errors import DecodeError, NotFound, ValidationError
from accord.mls import group as g
from accord.mls.codec import decode, encode
from accord.mls.credentials import BasicCredentials
from accord.mls.leaf_node import supports_safe_aad
from accord.mls.structs import (
    Add,
    AppDataUpdate,
    Credential,
    KeyPackage,
    Proposal,
    ProtocolVersion,
    ReInit,
    Remove,
    SelfRemove,
)
from accord.mls.structs.credential import Extension
from accord.mls.structs.enums import SenderType
from accord.mls.structs.messages import MLSMessage
from accord.mls.structs.tree_nodes import RatchetTree
from accord.mls.structs.welcome import Welcome
from accord.mls.suites import get_suite
from accord.wire.mimi import account_of_user_uri
from accord.wire.mimi_room import ParticipantListData
from accord.wire.posting_component import app_data_extension

_CONTENT_COMMIT = 3


def _secs(now_ms: int) -> int:
    return now_ms // 1000


def _lp(*parts: bytes) -> bytes:
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


def _unlp(data: bytes, n: int) -> list[bytes]:
    out, i = [], 0
    for _ in range(n):
        if i + 4 > len(data):
            raise DecodeError("truncated KeyPackage bundle")
        size = int.from_bytes(data[i:i + 4], "big")
        out.append(data[i + 4:i + 4 + size])
        i += 4 + size
    if i != len(data):
        raise DecodeError("trailing bytes in KeyPackage bundle")
    return out


def _key_package(raw: bytes) -> KeyPackage:
    msg = decode(MLSMessage, raw)
    if not isinstance(msg.message, KeyPackage):
        raise ValidationError("not a KeyPackage", "RFC 9420 6")
    return msg.message


def _welcome(raw: bytes) -> Welcome:
    msg = decode(MLSMessage, raw)
    if not isinstance(msg.message, Welcome):
        raise ValidationError("not a Welcome", "RFC 9420 12.4.3")
    return msg.message


def _offered(suite: int) -> None:
    if suite not in OFFERED_SUITES:
        raise ValidationError(f"cipher suite {suite:#06x} is not one Accord offers",
                              "Accord: offered suites")


class RfcEngine:
    def _state(self, raw: bytes) -> g.GroupState:
        # A group with MIMI room state is held to it (mls_room.CONFIG).
        return g.GroupState.from_bytes(raw, mls_room.CONFIG)

    def signature_keypair(self) -> tuple[bytes, bytes]:
        return get_suite(CLASSIC_SUITE).generate_signature_key_pair()

    def key_package(self, identity: bytes, sig_priv: bytes, sig_pub: bytes,
                    now: int, suite: int = CLASSIC_SUITE,
                    extensions: Sequence[tuple[int, bytes]] = ()) -> KeyPackageBundle:
        _offered(suite)
        kpp = g.key_package(get_suite(suite), Credential.basic(identity), sig_priv, _secs(now),
                            extensions=[Extension(t, data) for t, data in extensions],
                            capabilities=mls_room.capabilities(suite),
                            leaf_extensions=mls_room.leaf_extensions())
        public = encode(MLSMessage, MLSMessage.wrap(kpp.key_package))
        private = _lp(public, kpp.init_priv, kpp.encryption_priv, kpp.signature_priv)
        return KeyPackageBundle(public, kpp.ref, private)

    def key_package_identity(self, key_package: bytes, now: int,
                             suite: int = CLASSIC_SUITE) -> tuple[bytes, bytes]:
        kp = _key_package(key_package)
        if kp.cipher_suite != suite:  # before validating: only suites we asked for
            raise ValidationError(f"KeyPackage is not for cipher suite {suite:#06x}",
                                  "RFC 9420 10.1")
        g.validate_key_package(kp, now=_secs(now), credential_validator=BasicCredentials())
        identity = kp.leaf_node.credential.identity
        if identity is None:
            raise ValidationError("not a basic credential", "RFC 9420 5.3")
        return identity, kp.leaf_node.signature_key

    def key_package_extension(self, key_package: bytes, extension_type: int) -> bytes | None:
        """The data of a KeyPackage extension (of one checked by ``key_package_identity``:
        its signature covers the extensions), or None."""
        found = [e.extension_data for e in _key_package(key_package).extensions
                 if e.extension_type == extension_type]
        return found[0] if len(found) == 1 else None

    def create_group(self, group_id: bytes, identity: bytes, sig_priv: bytes,
                     sig_pub: bytes, now: int, suite: int = CLASSIC_SUITE, *,
                     room: str | None = None, franking_agent: bytes | None = None) -> bytes:
        """A group of us alone; with ``room`` (its URI) a MIMI room whose state
        (participant_list with us as admin, room_metadata, the hub's
        ``franking_agent`` if given) starts at epoch 0."""
        _offered(suite)
        cs, credential = get_suite(suite), Credential.basic(identity)
        if room is None:
            return g.create_group(cs, group_id, credential, sig_priv, _secs(now)).to_bytes()
        leaf = g.key_package(cs, credential, sig_priv, _secs(now),
                             capabilities=mls_room.capabilities(suite),
                             leaf_extensions=mls_room.leaf_extensions())
        return g.create_group(cs, group_id, credential, sig_priv, _secs(now), key_package=leaf,
                              extensions=mls_room.group_extensions(identity, room,
                                                                   franking_agent),
                              config=mls_room.CONFIG).to_bytes()

    def group_info(self, state: bytes) -> bytes:
        return encode(MLSMessage, g.group_info(self._state(state), with_external_pub=False))

    def epoch_group_info(self, state: bytes, components: Sequence[tuple[int, bytes]]
                         ) -> tuple[bytes, bytes]:
        st = self._state(state)
        extra = (app_data_extension(list(components)),) if components else ()
        info = encode(MLSMessage, g.group_info(st, with_tree=False, extra=extra))
        return info, encode(RatchetTree, st.tree.to_ratchet_tree())

    def cipher_suite(self, state: bytes) -> int:
        return int(self._state(state).context.cipher_suite)

    def _leaf_of(self, state: g.GroupState, identity: bytes) -> int:
        for index, leaf in g.members(state):
            if leaf.credential.identity == identity:
                return index
        raise NotFound("no such member")

    def commit(self, state: bytes, *, add: list[bytes], remove: list[bytes], update: bool,
               now: int, unlist: Sequence[str] = (),
               roles: Mapping[str, int] | None = None) -> CommitOutput:
        st = self._state(state)
        leaves = {self._leaf_of(st, ident) for ident in remove}
        # RFC 9420 12.4: a Remove or SelfRemove some member proposed (a member leaving,
        # 12.1.3) is committed by reference; only the removals we asked for, never others.
        refs: list[bytes] = []
        proposed: set[int] = set()
        for c in st.proposals:
            leaf = (c.proposal.removed if isinstance(c.proposal, Remove) else
                    c.sender.index if isinstance(c.proposal, SelfRemove) else None)
            if leaf in leaves - proposed:
                refs.append(c.ref)
                proposed.add(leaf)
        kps = [_key_package(kp) for kp in add]
        proposals: list[Proposal] = [Add(kp) for kp in kps]
        proposals += [Remove(leaf) for leaf in sorted(leaves - proposed)]
        plist = mls_room.participants(g.app_data(st))
        if plist is not None:  # a MIMI room: the participant_list changes too (3.2, 3.5)
            left = self._leavers(st, plist, leaves)
            refs += list(left.values())
            proposals += mls_room.roster_changes(
                plist, added=[kp.leaf_node.credential.identity or b"" for kp in kps],
                unlist=[mls_room.account_user(a) for a in unlist], unlisted=set(left),
                roles={mls_room.account_user(a): i for a, i in (roles or {}).items()})
        result, pending = g.commit(st, now=_secs(now), proposals=refs, by_value=proposals,
                                   force_path=update)
        nxt = g.merge_pending(pending)
        welcome = encode(MLSMessage, result.welcome) if result.welcome is not None else None
        return CommitOutput(nxt.to_bytes(), encode(MLSMessage, result.commit), welcome)

    def _leavers(self, st: g.GroupState, plist: ParticipantListData, leaves: set[int]
                 ) -> dict[bytes, bytes]:
        """User -> ProposalRef of each leaver's own unlisting proposal (3.5) whose user
        keeps no client once ``leaves`` are removed: the commit refers to it."""
        staying = {mls_room.user_of(leaf.credential.identity or b"")
                   for i, leaf in g.members(st) if i not in leaves}
        out: dict[bytes, bytes] = {}
        for c in st.proposals:
            index = c.sender.index if c.sender.sender_type == SenderType.MEMBER else None
            leaf = None if index is None else st.tree.leaf(index)
            if not isinstance(c.proposal, AppDataUpdate) or leaf is None:
                continue
            user = mls_room.own_unlisting(plist, leaf.credential.identity or b"", c.proposal)
            if user is not None and user not in staying and user not in out:
                out[user] = c.ref
        return out

    def commit_reinit(self, state: bytes, group_id: bytes, suite: int, now: int
                      ) -> CommitOutput:
        """A commit of one ReInit proposal (RFC 9420 12.1.5; 12.2: it goes alone)."""
        _offered(suite)
        st = self._state(state)
        reinit = ReInit(group_id, ProtocolVersion.MLS10, suite, ())
        result, pending = g.commit(st, now=_secs(now), proposals=[], by_value=[reinit])
        return CommitOutput(g.merge_pending(pending).to_bytes(), encode(MLSMessage, result.commit),
                            None)

    def reinit_target(self, state: bytes) -> tuple[bytes, int] | None:
        """``(group_id, cipher_suite)`` of the new group a merged ReInit asks for."""
        r = self._state(state).reinit
        return None if r is None else (bytes(r.group_id), int(r.cipher_suite))

    def reinit_group(self, old_state: bytes, add: list[bytes], now: int) -> CommitOutput:
        """The new group of a merged ReInit (11.2): created with our old credential
        and key (both suites sign with Ed25519), its first commit adding ``add``
        with the reinit resumption PSK; ``state`` is the new group at epoch 1."""
        result, pending = g.reinit(self._state(old_state), [_key_package(kp) for kp in add],
                                   _secs(now))
        welcome = encode(MLSMessage, result.welcome) if result.welcome is not None else None
        # ``pending`` is the new group at epoch 0, its first commit not merged yet.
        created = encode(MLSMessage, g.group_info(pending, with_external_pub=False))
        return CommitOutput(g.merge_pending(pending).to_bytes(), encode(MLSMessage, result.commit),
                            welcome, created)

    def propose_remove(self, state: bytes, identities: list[bytes]) -> tuple[list[bytes], bytes]:
        """Remove proposals for these members (our own leaf included: RFC 9420 12.1.3
        lets a member propose its own removal; another member commits it). In a MIMI
        room our own leaf goes by SelfRemove (draft-ietf-mls-extensions 5.3), and when
        these are all our user's clients, a proposal unlists our user (3.5)."""
        st = self._state(state)
        me = st.own_leaf_node.credential.identity or b""
        plist = mls_room.participants(g.app_data(st))
        out = []
        for ident in identities:
            if plist is not None and ident == me:
                msg, st = g.propose_self_remove(st)
            else:
                msg, st = g.propose_remove(st, self._leaf_of(st, ident))
            out.append(encode(MLSMessage, msg))
        user = mls_room.user_of(me)
        mine = {m.credential.identity for _, m in g.members(st)
                if mls_room.user_of(m.credential.identity or b"") == user}
        if plist is not None and user is not None and plist.index_of(user) is not None and (
                mine <= set(identities)):
            change = mls_room.roster_changes(plist, added=(), unlist=[user])[0]
            msg, st = g.propose_app_data_update(st, change.component_id, change.update)
            out.append(encode(MLSMessage, msg))
        return out, st.to_bytes()

    def welcome_key_package_refs(self, welcome: bytes) -> list[bytes]:
        return [s.new_member for s in _welcome(welcome).secrets]

    def join(self, welcome: bytes, key_packages: dict[bytes, bytes], now: int,
             resumed: list[bytes] = ()) -> bytes:  # type: ignore[assignment]
        """Join from ``welcome``; ``resumed`` are old groups whose ReInit it may
        complete (RFC 9420 11.2: the reinit PSK and the match are checked)."""
        w = _welcome(welcome)
        old = [self._state(s) for s in resumed]
        for s in w.secrets:
            bundle = key_packages.get(s.new_member)
            if bundle is None:
                continue
            public, init_priv, enc_priv, sig_priv = _unlp(bundle, 4)
            kpp = g.KeyPackagePrivate(_key_package(public), init_priv, enc_priv, sig_priv)
            return g.join_from_welcome(w, kpp, _secs(now), resumption_from=old).to_bytes()
        raise NotFound("the Welcome names none of our KeyPackages")

    def process(self, state: bytes, message: bytes, now: int) -> Received:
        st = self._state(state)
        result, nxt = g.process(st, message, _secs(now))
        sender = self._identity_at(st, result.sender.index)
        if result.content_type != _CONTENT_COMMIT:
            kind = "application" if result.application_data is not None else "proposal"
            proposed = ((self._identity_at(st, result.proposal.removed),)
                        if isinstance(result.proposal, Remove) else
                        (sender,) if isinstance(result.proposal, SelfRemove) else ())
            return Received(nxt.to_bytes(), kind, sender, result.epoch, result.application_data,
                            result.authenticated_data, removed=proposed)
        added = tuple(p.key_package.leaf_node.credential.identity or b""
                      for p in result.proposals if isinstance(p, Add))
        # Removes and SelfRemoves (draft-ietf-mls-extensions 5.3) alike
        removed = tuple(self._identity_at(st, leaf) for leaf in result.removed_leaves)
        if result.removed_self:
            me = st.own_leaf_node.credential.identity or b""
            removed = tuple(dict.fromkeys((*removed, me)))
            return Received(state, "commit", sender, result.epoch, None, b"", added, removed)
        return Received(nxt.to_bytes(), "commit", sender, result.epoch, None,
                        result.authenticated_data, added, removed)

    @staticmethod
    def _identity_at(st: g.GroupState, index: int | None) -> bytes:
        if index is None:
            raise ValidationError("a sender that is not a member", "Accord: members only")
        leaf = st.tree.leaf(index)
        if leaf is None or leaf.credential.identity is None:
            raise ValidationError("a sender that is not a member", "Accord: members only")
        return leaf.credential.identity

    def protect(self, state: bytes, plaintext: bytes,
                authenticated_data: bytes) -> tuple[bytes, bytes]:
        msg, nxt = g.protect(self._state(state), plaintext, authenticated_data)
        return encode(MLSMessage, msg), nxt.to_bytes()

    def group_id(self, state: bytes) -> bytes:
        return bytes(self._state(state).context.group_id)

    def epoch(self, state: bytes) -> int:
        return int(self._state(state).context.epoch)

    def members(self, state: bytes) -> list[Member]:
        return [Member(i, leaf.credential.identity or b"", leaf.signature_key)
                for i, leaf in g.members(self._state(state))]

    def participants(self, state: bytes) -> dict[str, int] | None:
        """Account -> role of the room's participant list (draft-ietf-mimi-protocol-06
        7.5); None for a group without one."""
        plist = mls_room.participants(g.app_data(self._state(state)))
        if plist is None:
            return None
        return {account_of_user_uri(p.user.decode(errors="replace")): p.role_index
                for p in plist.participants}

    def all_support_safe_aad(self, state: bytes, component_id: int) -> bool:
        """Whether every member's leaf supports the Safe AAD component (a room's members
        may be MIMI clients that know only the draft's components)."""
        return all(supports_safe_aad(leaf, component_id)
                   for _, leaf in g.members(self._state(state)))

    def group_component(self, state: bytes, component_id: int) -> bytes | None:
        return g.app_data(self._state(state)).get(component_id)

    def own_identity(self, state: bytes) -> bytes:
        return self._state(state).own_leaf_node.credential.identity or b""

    def export_secret(self, state: bytes, label: bytes, context: bytes, length: int) -> bytes:
        return g.export_secret(self._state(state), label.decode(), context, length)

    def epoch_authenticator(self, state: bytes) -> bytes:
        return g.epoch_authenticator(self._state(state))


def default_engine() -> MlsEngine:
    """The RFC 9420 engine of ``accord.mls.group``."""
    return RfcEngine()
