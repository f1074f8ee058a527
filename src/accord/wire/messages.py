"""Every JSON message between a device and its provider, declared once.

The server decodes requests and encodes responses with these classes, the
client does the reverse; ``/openapi.json`` is generated from them.
Times are integers in milliseconds since the Unix epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accord.wire.codec import f

ACCOUNT_RE = r"[a-z0-9][a-z0-9._-]{0,63}@[a-z0-9][a-z0-9.-]{0,252}"
DEVICE_ID_RE = r"[A-Za-z0-9_-]{22}"
KEY_LEN = 32  # Ed25519 public key (MLS cipher suite 0x0001 signature key)
SIG_LEN = 64  # Ed25519 signature
MAX_GROUP_ID = 64
MAX_KEY_PACKAGE = 16 * 1024
MAX_KEY_PACKAGE_BATCH = 100
MAX_MESSAGE = 256 * 1024  # one MLS message, ciphertext included
MAX_ROSTER_CHANGE = 1000
EPOCH_MAX = 2**62
MAX_PAGE_ITEMS = 500  # the queue route's largest limit
MAX_KIND = 32  # a queue item's kind (commit, welcome, ...)
MAX_SENDER = 318 + 1 + 22  # account/device_id
MAX_FRANK = 255  # an encoded MIMI Frank (accord.wire.mimi_frank)


def _key() -> Any:
    return f(min_len=KEY_LEN, max_len=KEY_LEN)


def _sig() -> Any:
    return f(min_len=SIG_LEN, max_len=SIG_LEN)


def _epoch() -> Any:
    return f(minimum=0, maximum=EPOCH_MAX)


# accounts and devices ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterRequest:
    """Create ``account`` with its first device; ``signature`` proves the key's possession."""

    account: str = f(max_len=318, pattern=ACCOUNT_RE)
    signature_key: bytes = _key()
    signature: bytes = _sig()


@dataclass(frozen=True, slots=True)
class RegisterResponse:
    account: str
    device_id: str


@dataclass(frozen=True, slots=True)
class ChallengeRequest:
    device_id: str = f(pattern=DEVICE_ID_RE)


@dataclass(frozen=True, slots=True)
class ChallengeResponse:
    nonce: bytes
    expires_at: int


@dataclass(frozen=True, slots=True)
class LoginRequest:
    device_id: str = f(pattern=DEVICE_ID_RE)
    nonce: bytes = f(min_len=32, max_len=32)
    signature: bytes = _sig()


@dataclass(frozen=True, slots=True)
class LoginResponse:
    token: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class AddDeviceRequest:
    """Sent by an existing device of the account (its session), certifying the new key.

    ``certification`` is the existing device's signature, ``possession`` the
    new key's own signature, both over the add-device input of
    :mod:`accord.wire.signing`. ``succession``, for a restore from backup: the
    existing device's signature over the succession input, naming the new key
    the one that takes its place; the provider publishes it in key transparency.
    """

    signature_key: bytes = _key()
    certification: bytes = _sig()
    possession: bytes = _sig()
    succession: bytes | None = f(min_len=SIG_LEN, max_len=SIG_LEN, default=None)


@dataclass(frozen=True, slots=True)
class AddDeviceResponse:
    device_id: str


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    device_id: str
    signature_key: bytes
    created_at: int


@dataclass(frozen=True, slots=True)
class DeviceList:
    account: str
    devices: list[DeviceInfo]


@dataclass(frozen=True, slots=True)
class FindDeviceRequest:
    """A device not yet logged in (just linked) asks for its own device id by its key."""

    account: str = f(max_len=318, pattern=ACCOUNT_RE)
    signature_key: bytes = _key()


@dataclass(frozen=True, slots=True)
class FoundDevice:
    device_id: str


# key packages ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UploadKeyPackagesRequest:
    key_packages: list[bytes] = f(
        max_items=MAX_KEY_PACKAGE_BATCH, item_max_len=MAX_KEY_PACKAGE
    )
    last_resort: bytes | None = f(min_len=1, max_len=MAX_KEY_PACKAGE, default=None)


@dataclass(frozen=True, slots=True)
class KeyPackageCount:
    """The device's KeyPackage status, polled at each sync: also the owner's notice (T14)."""

    count: int
    last_resort: bool
    # handed out since uploaded: the device rotates it (uploads a new one)
    last_resort_used: bool = f(default=False)
    # claims answered with the last-resort KeyPackage because a claim limit was reached
    withheld: int = f(minimum=0, maximum=2**62, default=0)


@dataclass(frozen=True, slots=True)
class ClaimedKeyPackage:
    device_id: str
    key_package: bytes
    last_resort: bool


@dataclass(frozen=True, slots=True)
class ClaimResponse:
    account: str
    key_packages: list[ClaimedKeyPackage]


# groups and delivery ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateGroupRequest:
    """A new group hubbed at the creator's provider. ``group_info`` is the MLS
    GroupInfo (an MLSMessage, RFC 9420 12.4.3) of its epoch 0 with the
    ratchet_tree extension, signed by the creator: the hub's public state of the
    group starts from it (``accord.mls.group.public``)."""

    group_id: bytes = f(min_len=1, max_len=MAX_GROUP_ID)
    posting_key: bytes = _key()
    group_info: bytes = f(min_len=1, max_len=MAX_MESSAGE)


@dataclass(frozen=True, slots=True)
class GroupState:
    group_id: bytes
    hub: str
    epoch: int
    members: list[str]
    # The leaves of members whose accounts were deleted (T18): a commit removes each
    # as ``erased_leaf(leaf)``.
    erased: list[int] = f(max_items=MAX_ROSTER_CHANGE, default=())
    # The device posts to this group with its session, which names its account to the
    # hub (a hub reached over MIMI only, draft-ietf-mimi-protocol-06 5.4); False: with
    # a hidden sender, no session (T11).
    named_sender: bool = False
    # The hub's fork-detection chain link (T07) comes with each commit and Welcome; False:
    # this provider follows the group over MIMI fan-out, which carries none (issue 22).
    hub_links: bool = True


def erased_leaf(leaf: int) -> str:
    """The name a commit's ``removed`` gives the leaf of an erased account's device (T18):
    the account is gone, its leaf stays in the group until a member removes it. Shaped
    as a device id (22 characters); no device may be added under such a name."""
    return f"{ERASED}{leaf:016d}"


ERASED = "erased"


def erased_leaves(removed: list[str] | tuple[str, ...]) -> list[int]:
    """The erased accounts' leaves a commit's ``removed`` names (``erased_leaf``)."""
    return [int(d[len(ERASED):]) for d in removed if d.startswith(ERASED)]


# The sealed first-contact request for one invited device (issue 18, T14): HPKE
# ciphertext of ``accord.content.first_contact``; the provider sees only its size.
MAX_FIRST_CONTACT = 4096


@dataclass(frozen=True, slots=True)
class SealedFirstContact:
    device_id: str = f(pattern=DEVICE_ID_RE)
    sealed: bytes = f(min_len=1, max_len=MAX_FIRST_CONTACT)


@dataclass(frozen=True, slots=True)
class CommitRequest:
    """A commit for ``epoch`` (the group's current one) from an authenticated member.

    ``added``/``removed`` are the device ids the commit adds and removes,
    ``welcome`` goes to the added devices, ``posting_key`` is the public
    posting key of the epoch the commit creates (issue 11). ``first_contact``:
    a sealed first-contact request per added device (issue 18), handed only to
    the devices of accounts for which the Welcome is a message request.
    ``group_info``: the new epoch's signed GroupInfo (an MLSMessage) with external_pub
    and the posting key (``accord.wire.posting_component``), without the ratchet tree:
    the hub keeps it for external joins (MIMI 5.6); ``ratchet_tree``: the new epoch's
    tree (RFC 9420 12.4.3.3). A follower sending over MIMI needs both for the update
    (5.3); the hub itself serves its own tree.
    """

    epoch: int = _epoch()
    commit: bytes = f(min_len=1, max_len=MAX_MESSAGE)
    posting_key: bytes = _key()
    added: list[str] = f(max_items=MAX_ROSTER_CHANGE, pattern=DEVICE_ID_RE, default=())
    removed: list[str] = f(max_items=MAX_ROSTER_CHANGE, pattern=DEVICE_ID_RE, default=())
    welcome: bytes | None = f(min_len=1, max_len=MAX_MESSAGE, default=None)
    first_contact: list[SealedFirstContact] = f(max_items=MAX_ROSTER_CHANGE, default=())
    group_info: bytes | None = f(min_len=1, max_len=MAX_MESSAGE, default=None)
    ratchet_tree: bytes | None = f(min_len=1, max_len=MAX_MESSAGE, default=None)


@dataclass(frozen=True, slots=True)
class CommitResponse:
    msg_id: str
    epoch: int


@dataclass(frozen=True, slots=True)
class ProposalRequest:
    epoch: int = _epoch()
    proposal: bytes = f(min_len=1, max_len=MAX_MESSAGE)


@dataclass(frozen=True, slots=True)
class ApplicationPost:
    """A hidden-sender post (issue 11): no session, no device id.

    ``signature`` is by the group's posting key of ``epoch`` over the post
    input of :mod:`accord.wire.signing`; ``nonce`` is never accepted twice.
    """

    epoch: int = _epoch()
    nonce: bytes = f(min_len=16, max_len=32)
    ciphertext: bytes = f(min_len=1, max_len=MAX_MESSAGE)
    signature: bytes = _sig()


@dataclass(frozen=True, slots=True)
class PostResponse:
    """The hub took the post. Over MIMI (5.4), whose answer names no message id, the
    id is the message's SHA-256 (the hub's single-use nonce of it), base64url, and the
    hub's accepted time and Frank (T13, MIMI 5.4.1, encoded) come with it."""

    msg_id: str
    created_at: int | None = f(minimum=0, default=None)
    frank: bytes | None = f(min_len=1, max_len=MAX_FRANK, default=None)


@dataclass(frozen=True, slots=True)
class QueueItem:
    """``sender`` is set for handshake messages only (T11).

    The bounds are those of what the provider accepts into a queue (the federation
    ``FedItem``'s); the binary page (``wire.binary``) is decoded against them too.
    """

    seq: int = f(minimum=0)
    msg_id: str = f(max_len=64)
    kind: str = f(max_len=MAX_KIND)
    body: bytes = f(max_len=MAX_MESSAGE)
    created_at: int = f(minimum=0)
    group_id: bytes | None = f(min_len=1, max_len=MAX_GROUP_ID, default=None)
    epoch: int | None = f(minimum=0, maximum=EPOCH_MAX, default=None)
    sender: str | None = f(max_len=MAX_SENDER, default=None)
    # issue 11: the hub's Frank of an application item (T13, MIMI 5.4.1, the encoded
    # ``accord.wire.mimi.Frank``; its accepted time is ``created_at``); the hub's
    # hash-chain link (epoch, value) of a commit or Welcome item (T07)
    frank: bytes | None = f(min_len=1, max_len=MAX_FRANK, default=None)
    chain_seq: int | None = f(minimum=0, maximum=EPOCH_MAX, default=None)
    chain: bytes | None = f(min_len=32, max_len=32, default=None)


@dataclass(frozen=True, slots=True)
class QueuePage:
    items: list[QueueItem] = f(max_items=MAX_PAGE_ITEMS)
    next_after: int = f(minimum=0)


@dataclass(frozen=True, slots=True)
class AckRequest:
    up_to: int = f(minimum=0, maximum=2**62)


@dataclass(frozen=True, slots=True)
class AckResponse:
    removed: int


# blobs, errors, push ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlobCreated:
    blob_id: str
    sha256: bytes
    size: int


@dataclass(frozen=True, slots=True)
class ErrorBody:
    error: str
    message: str
    current_epoch: int | None = None


@dataclass(frozen=True, slots=True)
class Health:
    status: str
    domain: str


@dataclass(frozen=True, slots=True)
class WsAuth:
    """First frame a device sends on ``/v1/ws`` (the token never goes in a URL)."""

    type: str = f(pattern="auth")
    token: str = f(max_len=128)
    after: int = f(minimum=0, maximum=2**62, default=0)


@dataclass(frozen=True, slots=True)
class WsItems:
    type: str
    items: list[QueueItem]
