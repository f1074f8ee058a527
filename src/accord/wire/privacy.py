"""Messages of issue 11: abuse reports (T13), backups (T17), account export and deletion (T18).

Device-to-provider and provider-to-provider (``Fed*``) forms, declared once
with the same codec as :mod:`accord.wire.messages`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accord.errors import ValidationError
from accord.wire.codec import f
from accord.wire.messages import ACCOUNT_RE, DEVICE_ID_RE, MAX_FRANK, MAX_GROUP_ID, SIG_LEN

MAX_CONTENT = 65_535  # accord.content: an encoded content is at most this long
MAX_BACKUP = 8 * 1024 * 1024
REASON = r"[^\x00-\x1f\x7f]{0,200}"
# A reporter's words with a report (MIMI 5.9 AbuseReport.note: UTF-8, may be empty):
# at most this many UTF-8 octets, on Accord's routes and MIMI's alike.
MAX_NOTE = 1000
MAX_REASON = 255  # AbuseType is a uint8 (5.9); the draft defines no value but reserved(0)


@dataclass(frozen=True, slots=True)
class _ReportedMessage:
    """One revealed message (T13), MIMI's AbusiveMessage (5.9) in Accord's JSON:
    ``content`` is the exact encoded content (its salt is the franking_tag's key),
    ``frank`` (the encoded ``Frank``) and ``created_at`` (its accepted_timestamp) are
    what the hub gave with the item, ``alleged_sender`` is the reporter's claim (MLS
    told it who sent it)."""

    group_id: bytes = f(min_len=1, max_len=MAX_GROUP_ID)
    created_at: int = f(minimum=0, maximum=2**62)
    content: bytes = f(min_len=1, max_len=MAX_CONTENT)
    frank: bytes = f(min_len=1, max_len=MAX_FRANK)
    alleged_sender: str | None = f(max_len=318, pattern=ACCOUNT_RE, default=None)
    # MIMI 5.9's reasonCode (0: none given) and note (the reporter's words; its UTF-8
    # length is checked by :func:`check_note`, which every route calls)
    reason_code: int = f(minimum=0, maximum=MAX_REASON, default=0)
    note: str = f(max_len=MAX_NOTE, default="")


def check_note(note: str) -> str:
    """A report's note within :data:`MAX_NOTE` UTF-8 octets (else ValidationError)."""
    if len(note.encode("utf-8", errors="surrogatepass")) > MAX_NOTE:
        raise ValidationError(f"a report's note is at most {MAX_NOTE} UTF-8 octets",
                              "MIMI 5.9")
    return note


@dataclass(frozen=True, slots=True)
class ReportRequest(_ReportedMessage):
    """A recipient reveals one message to its provider (T13)."""


# ReportResult.outcome: the hub verified and filed the report (Accord's peer route, or
# this provider hubs the room); the report did not verify; a hub reached over MIMI
# accepted it (5.9's answer says no more: whether it verified stays the hub's).
VERIFIED, REFUSED, ACKNOWLEDGED = "verified", "refused", "acknowledged"


@dataclass(frozen=True, slots=True)
class ReportResult:
    verified: bool
    hub: str
    report_id: int | None = None
    outcome: str | None = None  # VERIFIED, REFUSED or ACKNOWLEDGED (absent: as verified)


@dataclass(frozen=True, slots=True)
class FedReport(_ReportedMessage):
    """A follower forwards a member's report to the hub, without the reporter's name."""


@dataclass(frozen=True, slots=True)
class FedSenderReport:
    """The hub tells the alleged sender's provider of a report it verified (T13).

    Sent by the group's hub only, without the reporter or the reporter's
    provider; ``account`` is the alleged sender, an account of the receiver.
    """

    group_id: bytes = f(min_len=1, max_len=MAX_GROUP_ID)
    created_at: int = f(minimum=0, maximum=2**62)
    content: bytes = f(min_len=1, max_len=MAX_CONTENT)
    frank: bytes = f(min_len=1, max_len=MAX_FRANK)
    account: str = f(max_len=318, pattern=ACCOUNT_RE)


@dataclass(frozen=True, slots=True)
class Backup:
    """An encrypted backup, opaque to the provider (``accord.privacy.backup_format``)."""

    data: bytes = f(min_len=1, max_len=MAX_BACKUP)
    # SHA-256 of the fetch token derived from the recovery key (client.backup)
    fetch_hash: bytes | None = f(min_len=32, max_len=32, default=None)


@dataclass(frozen=True, slots=True)
class DeleteAccountRequest:
    """Signed by a device of the account over ``accord.privacy.account.delete_input``."""

    account: str = f(max_len=318, pattern=ACCOUNT_RE)
    signature: bytes = f(min_len=SIG_LEN, max_len=SIG_LEN)


@dataclass(frozen=True, slots=True)
class ErasedRows:
    table: str
    rows: int


@dataclass(frozen=True, slots=True)
class DeleteAccountResult:
    erased: list[ErasedRows]
    peers_told: list[str]


@dataclass(frozen=True, slots=True)
class FedAccountDeleted:
    """A provider tells a peer that one of its accounts is gone (its devices too)."""

    account: str = f(max_len=318, pattern=ACCOUNT_RE)
    device_ids: list[str] = f(max_items=1000, pattern=DEVICE_ID_RE)


@dataclass(frozen=True, slots=True)
class AccountExport:
    """Everything the provider holds about one account, table by table."""

    account: str
    exported_at: int
    tables: dict[str, Any]


DELETE_LABEL = b"accord/v1/delete-account"


def delete_input(domain: str, account: str) -> bytes:
    """What a device of ``account`` signs to have its provider erase the account."""
    out = bytearray(DELETE_LABEL)
    for part in (domain.encode(), account.encode()):
        out += len(part).to_bytes(4, "big") + part
    return bytes(out)


@dataclass(frozen=True, slots=True)
class AttributedPost:
    """Benchmark baseline only: an application message posted under a device session."""

    epoch: int = f(minimum=0, maximum=2**62)
    ciphertext: bytes = f(min_len=1, max_len=256 * 1024)


@dataclass(frozen=True, slots=True)
class AdminReport:
    id: int
    group_id: bytes
    reporter: str
    content: bytes
    message_time: int
    status: str
    alleged_sender: str | None = None  # absent when no claim was kept (T13)
    reason_code: int = 0  # MIMI 5.9 reasonCode, as the reporter gave it (0: none)
    note: str = ""  # the reporter's note, as given (shown escaped)


@dataclass(frozen=True, slots=True)
class AdminReports:
    reports: list[AdminReport]


@dataclass(frozen=True, slots=True)
class AccountActionRequest:
    """``action``: "suspended", "limited" or "none" (lift)."""

    action: str = f(pattern="suspended|limited|none")
    reason: str = f(max_len=200, pattern=REASON, default="")


@dataclass(frozen=True, slots=True)
class PeerActionRequest:
    refused: bool = f()
    reason: str = f(max_len=200, pattern=REASON, default="")
