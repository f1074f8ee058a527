"""Every JSON message between two providers (federation, issue 6), declared once.

Both sides use these classes; the bodies travel signed (RFC 9421, see
``accord.federation.http_signatures``). Application messages cross providers
with no sender at all (issue 11, T11): :class:`FedPost` carries the
posting-key signature of the member, never a device or an account, and a
:class:`FedItem` of kind ``application`` has ``sender`` and
``sender_account`` unset. Handshake messages stay attributable.
"""

from __future__ import annotations

from dataclasses import dataclass

from accord.wire.codec import f
from accord.wire.messages import (
    ACCOUNT_RE,
    DEVICE_ID_RE,
    EPOCH_MAX,
    KEY_LEN,
    MAX_FIRST_CONTACT,
    MAX_FRANK,
    MAX_GROUP_ID,
    MAX_MESSAGE,
    MAX_ROSTER_CHANGE,
    SIG_LEN,
    SealedFirstContact,
)

DOMAIN_RE = r"[a-z0-9][a-z0-9.-]{0,252}"
MAX_BATCH = 100
MAX_ROSTER = 10_000
KINDS = "commit|proposal|welcome|application"


@dataclass(frozen=True, slots=True)
class WellKnown:
    """``GET /.well-known/accord``: how to reach a provider and check what it signs.

    ``transparency_head`` is the provider's signed key-transparency tree head
    (issue 7); it stays unset until the provider runs a transparency log.
    No software name or version appears here (T15).
    """

    domain: str = f(max_len=253, pattern=DOMAIN_RE)
    api_base: str = f(max_len=2048)
    signing_key: bytes = f(min_len=KEY_LEN, max_len=KEY_LEN)
    transparency_head: bytes | None = f(max_len=4096, default=None)


@dataclass(frozen=True, slots=True)
class FedDevice:
    """A device and the provider that hosts it."""

    device_id: str = f(pattern=DEVICE_ID_RE)
    domain: str = f(max_len=253, pattern=DOMAIN_RE)


@dataclass(frozen=True, slots=True)
class FedClaimRequest:
    """Claim KeyPackages of ``account`` (hosted by the receiver) for ``requester``,
    in ``cipher_suite`` (RFC 9420 17.1; 0x0001 when absent)."""

    account: str = f(max_len=318, pattern=ACCOUNT_RE)
    requester: str = f(max_len=318, pattern=ACCOUNT_RE)
    cipher_suite: int = f(minimum=1, maximum=65535, default=1)


@dataclass(frozen=True, slots=True)
class FedDevicesRequest:
    """The public device list of ``account`` (hosted by the receiver)."""

    account: str = f(max_len=318, pattern=ACCOUNT_RE)


@dataclass(frozen=True, slots=True)
class FedBlobRequest:
    """An encrypted blob of the receiver, by its capability (a recipient's provider
    fetches it for its device; the reply is the raw ciphertext)."""

    blob_id: str = f(pattern=r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True, slots=True)
class FedCommit:
    """A follower forwards its device's commit to the hub (attributable, as every commit)."""

    group_id: bytes = f(min_len=1, max_len=MAX_GROUP_ID)
    sender: str = f(pattern=DEVICE_ID_RE)
    sender_account: str = f(max_len=318, pattern=ACCOUNT_RE)
    epoch: int = f(minimum=0, maximum=EPOCH_MAX)
    commit: bytes = f(min_len=1, max_len=MAX_MESSAGE)
    posting_key: bytes = f(min_len=KEY_LEN, max_len=KEY_LEN)
    added: list[FedDevice] = f(max_items=MAX_ROSTER_CHANGE, default=())
    removed: list[str] = f(max_items=MAX_ROSTER_CHANGE, pattern=DEVICE_ID_RE, default=())
    welcome: bytes | None = f(min_len=1, max_len=MAX_MESSAGE, default=None)
    first_contact: list[SealedFirstContact] = f(max_items=MAX_ROSTER_CHANGE, default=())
    group_info: bytes | None = f(min_len=1, max_len=MAX_MESSAGE, default=None)  # CommitRequest's


@dataclass(frozen=True, slots=True)
class FedProposal:
    group_id: bytes = f(min_len=1, max_len=MAX_GROUP_ID)
    sender: str = f(pattern=DEVICE_ID_RE)
    sender_account: str = f(max_len=318, pattern=ACCOUNT_RE)
    epoch: int = f(minimum=0, maximum=EPOCH_MAX)
    proposal: bytes = f(min_len=1, max_len=MAX_MESSAGE)


@dataclass(frozen=True, slots=True)
class FedPost:
    """A hidden-sender application post, forwarded as the member signed it (no sender)."""

    group_id: bytes = f(min_len=1, max_len=MAX_GROUP_ID)
    epoch: int = f(minimum=0, maximum=EPOCH_MAX)
    nonce: bytes = f(min_len=16, max_len=32)
    ciphertext: bytes = f(min_len=1, max_len=MAX_MESSAGE)
    signature: bytes = f(min_len=SIG_LEN, max_len=SIG_LEN)


@dataclass(frozen=True, slots=True)
class FedItem:
    """One message the hub fans out to a follower, for ``recipients`` hosted there.

    Commits and Welcomes carry the group's roster and epoch after the commit
    (``roster``, ``group_epoch``), so the follower's copy of the group never
    drifts from the hub's.
    """

    msg_id: str = f(max_len=64, pattern=r"[A-Za-z0-9_-]{1,64}")
    kind: str = f(pattern=KINDS)
    group_id: bytes = f(min_len=1, max_len=MAX_GROUP_ID)
    epoch: int = f(minimum=0, maximum=EPOCH_MAX)
    body: bytes = f(min_len=1, max_len=MAX_MESSAGE)
    created_at: int = f(minimum=0, maximum=2**62)
    recipients: list[str] = f(max_items=MAX_ROSTER, pattern=DEVICE_ID_RE)
    sender: str | None = f(pattern=DEVICE_ID_RE, default=None)
    sender_account: str | None = f(max_len=318, pattern=ACCOUNT_RE, default=None)
    roster: list[FedDevice] | None = f(max_items=MAX_ROSTER, default=None)
    group_epoch: int | None = f(minimum=0, maximum=EPOCH_MAX, default=None)
    # issue 11: what only the hub can compute, for the follower to hand on
    frank: bytes | None = f(min_len=1, max_len=MAX_FRANK, default=None)
    chain_seq: int | None = f(minimum=0, maximum=EPOCH_MAX, default=None)
    chain: bytes | None = f(min_len=32, max_len=32, default=None)
    # issue 18: a Welcome's sealed first-contact requests, for its recipients here
    first_contact: list[SealedFirstContact] = f(max_items=MAX_ROSTER, default=())
    # issue 22: a Welcome's RatchetTreeOption (MIMI 5.5), the tree of its epoch, written
    # by a hub that fans out over MIMI (its outbound queue keeps FedItems)
    ratchet_tree: bytes | None = f(min_len=1, max_len=MAX_MESSAGE, default=None)


@dataclass(frozen=True, slots=True)
class FedDeliver:
    """The hub's fan-out to one follower: items in the hub's order."""

    items: list[FedItem] = f(max_items=MAX_BATCH)


@dataclass(frozen=True, slots=True)
class FedDeliverResponse:
    accepted: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class BlockRequest:
    """Block a user (``user@domain``) or a whole domain for the caller's account (T14)."""

    target: str = f(max_len=318, pattern=f"(?:{ACCOUNT_RE})|(?:{DOMAIN_RE})")


@dataclass(frozen=True, slots=True)
class BlockList:
    targets: list[str]


@dataclass(frozen=True, slots=True)
class MessageRequest:
    """A conversation a stranger of another provider invited the caller's account to (T14).

    Until accepted, the client keeps everything of ``group_id`` unread.
    ``first_contact`` is the sealed first-contact request for the calling
    device, if the inviter sent one (issue 18): its only preview.
    """

    group_id: bytes
    from_account: str
    msg_id: str
    created_at: int
    first_contact: bytes | None = f(min_len=1, max_len=MAX_FIRST_CONTACT, default=None)


@dataclass(frozen=True, slots=True)
class MessageRequestList:
    requests: list[MessageRequest]


@dataclass(frozen=True, slots=True)
class ConsentSent:
    """A MIMI consent request the provider sent for the caller's account (5.7, T14): the
    target user, the room (a room URI, "" for none), and its state: ``pending``,
    ``granted`` (claim again) or ``revoked`` (not asked again within the window)."""

    target: str
    room: str
    state: str
    changed_at: int


@dataclass(frozen=True, slots=True)
class ConsentSentList:
    requests: list[ConsentSent]


@dataclass(frozen=True, slots=True)
class ConsentCancel:
    """Withdraw a pending consent request the caller's account sent (MIMI 5.7 cancel)."""

    target: str = f(max_len=318, pattern=ACCOUNT_RE)
    room: str = f(max_len=1024, default="")


@dataclass(frozen=True, slots=True)
class FedConsent:
    """A MIMI consent message (5.7) this provider owes a peer, as a row of its outbound
    queue (``accord.federation.outbox``; never sent as JSON): the ConsentEntry's bytes,
    whose operation names the endpoint (request and cancel: ``requestConsent`` to the
    target's provider; grant and revoke: ``updateConsent`` to the requester's)."""

    consent: bytes = f(min_len=1, max_len=8192)
    created_at: int = f(minimum=0, maximum=2**62)
