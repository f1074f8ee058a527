"""The one place where the client calls the MLS group engine.

The device logic (``accord.client.device_core``) sees MLS through the narrow
:class:`MlsEngine` protocol below: group states are opaque bytes (saved
encrypted in the profile store), every call takes a state and returns the
next one, and members are named by their credential identity,
``account/device_id`` (:func:`identity_of`). :class:`RfcEngine` adapts
``accord.mls.group`` to it; nothing else in the client imports
``accord.mls.group``.

Accord-specific derivations from MLS secrets live here too:

- the hidden-sender posting key of an epoch (issue 11): an Ed25519 key
  whose seed is ``MLS-Exporter("accord posting key", group_id, 32)``
  (RFC 9420 8.5), so every member of the epoch can sign posts and nobody
  else can;
- the short epoch-authenticator hash put in application messages' authenticated
  data so members compare their views of the group (issue 11, T07).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from accord.errors import ValidationError
from accord.wire.messages import ACCOUNT_RE, DEVICE_ID_RE
from accord.wire.posting_component import posting_key_component

POSTING_LABEL = b"accord posting key"
# Cipher suites a device offers (docs/PROTOCOL.md "Cipher suites"), most preferred
# first: the X-Wing hybrid suite (T10, harvest now, decrypt later), then 0x0001.
PQ_SUITE = 0x0053  # MLS_256_XWING_AES256GCM_SHA512_Ed25519
CLASSIC_SUITE = 0x0001  # MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519
OFFERED_SUITES = (PQ_SUITE, CLASSIC_SUITE)
# X-Wing keys and ciphertexts are about 1.2 KB each, so a Welcome costs some 2.7 KB
# per device (0.35 KB in 0x0001): at most this many devices keep the Welcome and
# the commit adding them all well under the hub's 256 KiB per MLS message.
PQ_MAX_DEVICES = 64
EPOCH_TAG_LEN = 8


def identity_of(account: str, device_id: str) -> bytes:
    return f"{account}/{device_id}".encode()


_ACCOUNT = re.compile(ACCOUNT_RE)
_DEVICE = re.compile(DEVICE_ID_RE)


def split_identity(identity: bytes) -> tuple[str, str]:
    """``(account, device_id)`` of a credential identity; ValidationError otherwise.

    Both parts must have the wire syntax (``ACCOUNT_RE``, ``DEVICE_ID_RE``): a
    peer's credential is the one name shown for a member, and a name with
    markup, controls or look-alike characters is refused here, not only
    escaped when printed (T16, issue 18)."""
    try:
        account, device_id = identity.decode().rsplit("/", 1)
    except (UnicodeDecodeError, ValueError):
        raise ValidationError("credential identity is not account/device", "RFC 9420 5.3") from None
    if not (_ACCOUNT.fullmatch(account) and _DEVICE.fullmatch(device_id)):
        raise ValidationError("credential identity is not account/device", "RFC 9420 5.3")
    return account, device_id


@dataclass(frozen=True, slots=True)
class Member:
    leaf_index: int
    identity: bytes
    signature_key: bytes


@dataclass(frozen=True, slots=True)
class KeyPackageBundle:
    """A KeyPackage to publish, its reference, and the private keys to keep."""

    public: bytes
    ref: bytes
    private: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class CommitOutput:
    """A commit we made; ``state`` is the next epoch's state, to keep only once
    the hub accepts ``commit`` (otherwise the old state stays)."""

    state: bytes = field(repr=False)
    commit: bytes
    welcome: bytes | None
    # A ReInit's new group: the GroupInfo of its epoch 0, before this first commit.
    created_info: bytes | None = None


@dataclass(frozen=True, slots=True)
class Received:
    """What one incoming handshake or application message did."""

    state: bytes = field(repr=False)
    kind: str  # "application", "commit" or "proposal"
    sender: bytes  # the sender's credential identity
    epoch: int  # the epoch the message was sent in
    plaintext: bytes | None = field(default=None, repr=False)
    authenticated_data: bytes = b""
    added: tuple[bytes, ...] = ()
    removed: tuple[bytes, ...] = ()  # a commit's removals, or whom a Remove proposal names


class MlsEngine(Protocol):
    """What the client needs from an RFC 9420 engine (the ``OFFERED_SUITES``)."""

    def signature_keypair(self) -> tuple[bytes, bytes]:
        """``(private, public)`` signature key of a new device."""
        ...

    def key_package(self, identity: bytes, sig_priv: bytes, sig_pub: bytes,
                    now: int, suite: int = CLASSIC_SUITE,
                    extensions: Sequence[tuple[int, bytes]] = ()) -> KeyPackageBundle: ...

    def key_package_extension(self, key_package: bytes, extension_type: int) -> bytes | None:
        """The data of one extension of a KeyPackage ``key_package_identity`` checked."""
        ...

    def key_package_identity(self, key_package: bytes, now: int,
                             suite: int = CLASSIC_SUITE) -> tuple[bytes, bytes]:
        """Validate a claimed KeyPackage of ``suite``; its ``(identity, signature_key)``."""
        ...

    def create_group(self, group_id: bytes, identity: bytes, sig_priv: bytes,
                     sig_pub: bytes, now: int, suite: int = CLASSIC_SUITE, *,
                     room: str | None = None, franking_agent: bytes | None = None) -> bytes:
        """A group of us alone; with ``room`` (its URI) a MIMI room whose
        participant_list (us as admin), room_metadata and, given, the hub's
        franking_agent (MIMI 5.4.1) start at epoch 0."""
        ...

    def group_info(self, state: bytes) -> bytes:
        """The signed GroupInfo of the state's epoch with its ratchet tree (RFC 9420
        12.4.3): what the hub keeps the group's public state from."""
        ...

    def epoch_group_info(self, state: bytes, components: Sequence[tuple[int, bytes]]
                         ) -> tuple[bytes, bytes]:
        """What goes with the commit creating the state's epoch: its signed GroupInfo (an
        MLSMessage) with external_pub (what the hub serves for external joins, MIMI 5.6)
        and an ``app_data_dictionary`` of ``components`` (``(component id, data)``,
        draft-ietf-mls-extensions 4.6) but no ratchet tree, and the ratchet tree
        (RFC 9420 12.4.3.3), which MIMI carries beside the GroupInfo (5.3)."""
        ...

    def cipher_suite(self, state: bytes) -> int:
        """The group's cipher suite (RFC 9420 17.1 code point)."""
        ...

    def commit(self, state: bytes, *, add: list[bytes], remove: list[bytes],
               update: bool, now: int, unlist: Sequence[str] = (),
               roles: Mapping[str, int] | None = None) -> CommitOutput:
        """Add the KeyPackages ``add``, remove the members with identities ``remove``
        (by reference where a member proposed that removal, RFC 9420 12.4). In a MIMI
        room the participant_list changes in the same commit: the users of added
        devices are listed, the accounts ``unlist`` unlisted (or by a leaver's own
        proposal), and ``roles`` (account -> role index) set."""
        ...

    def propose_remove(self, state: bytes, identities: list[bytes]) -> tuple[list[bytes], bytes]:
        """Remove proposals (MLS messages) for these members, and the state caching them."""
        ...

    def join(self, welcome: bytes, key_packages: dict[bytes, bytes], now: int,
             resumed: list[bytes] = ()) -> bytes:  # type: ignore[assignment]
        """Join from ``welcome`` with whichever of our KeyPackages (ref -> private) it
        names; ``resumed``: old group states whose ReInit the Welcome may complete."""
        ...

    def commit_reinit(self, state: bytes, group_id: bytes, suite: int, now: int
                      ) -> CommitOutput:
        """A commit of a ReInit to ``group_id`` in ``suite`` (RFC 9420 11.2, 12.1.5)."""
        ...

    def reinit_target(self, state: bytes) -> tuple[bytes, int] | None:
        """``(group_id, suite)`` a merged ReInit of this group asks for, or None."""
        ...

    def reinit_group(self, old_state: bytes, add: list[bytes], now: int) -> CommitOutput:
        """Create the group a merged ReInit asks for and add the KeyPackages ``add``."""
        ...

    def welcome_key_package_refs(self, welcome: bytes) -> list[bytes]: ...

    def process(self, state: bytes, message: bytes, now: int) -> Received: ...

    def protect(self, state: bytes, plaintext: bytes, authenticated_data: bytes) -> tuple[bytes, bytes]:
        """``(private_message, next_state)``."""
        ...

    def group_id(self, state: bytes) -> bytes: ...

    def epoch(self, state: bytes) -> int: ...

    def members(self, state: bytes) -> list[Member]: ...

    def participants(self, state: bytes) -> dict[str, int] | None:
        """Account -> role in the room's participant list; None without MIMI state."""
        ...

    def group_component(self, state: bytes, component_id: int) -> bytes | None:
        """The data of a GroupContext application component (draft-ietf-mls-extensions
        4.6), None if the group has none."""
        ...

    def all_support_safe_aad(self, state: bytes, component_id: int) -> bool:
        """Whether every member's leaf supports the Safe AAD component."""
        ...

    def own_identity(self, state: bytes) -> bytes: ...

    def export_secret(self, state: bytes, label: bytes, context: bytes, length: int) -> bytes: ...

    def epoch_authenticator(self, state: bytes) -> bytes: ...


def posting_key(engine: MlsEngine, state: bytes) -> Ed25519PrivateKey:
    """The epoch's hidden-sender posting key (issue 11)."""
    seed = engine.export_secret(state, POSTING_LABEL, engine.group_id(state), 32)
    return Ed25519PrivateKey.from_private_bytes(seed)


def posting_public_key(engine: MlsEngine, state: bytes) -> bytes:
    return posting_key(engine, state).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def epoch_keys(engine: MlsEngine, state: bytes) -> tuple[bytes, bytes, bytes]:
    """``(posting public key, GroupInfo, ratchet tree)`` of the epoch a commit of ours
    creates, for its CommitRequest: the GroupInfo carries the posting key
    (accord.wire.posting_component), so a hub that hears of the commit over MIMI
    learns it too."""
    key = posting_public_key(engine, state)
    return key, *engine.epoch_group_info(state, [posting_key_component(key)])


def epoch_tag(engine: MlsEngine, state: bytes) -> bytes:
    """Short hash of the epoch authenticator, carried in application messages (T07)."""
    return hashlib.sha256(b"accord epoch tag" + engine.epoch_authenticator(state)).digest()[
        :EPOCH_TAG_LEN]


def describe_suite(code: int) -> dict[str, object]:
    """How a conversation's cipher suite is shown (T10): code point, name, and
    whether its key exchange is post-quantum (X-Wing or ML-KEM)."""
    from accord.mls.suites import get_suite

    name = get_suite(code).name
    return {"cipher_suite": f"0x{code:04x}", "suite_name": name,
            "post_quantum": "XWING" in name or "MLKEM" in name}
