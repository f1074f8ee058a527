"""The one error hierarchy of Accord.

Every failure the code reports is one of these. The server maps each class to
one HTTP status in one place (``accord.server.errors``); a device or a provider
reading a refusal turns its ``code`` back into the class here (``error_class``).
"""

from __future__ import annotations


class AccordError(Exception):
    """Root of every error Accord raises on purpose."""

    code = "error"


class DecodeError(AccordError):
    """Bytes that do not decode as the structure they claim to be."""

    code = "decode_error"


class ValidationError(AccordError):
    """A decoded value that breaks a protocol rule.

    ``rule`` names the rule, usually an RFC section (``"RFC 9420 12.2"``).
    """

    code = "validation_error"

    def __init__(self, message: str, rule: str = "") -> None:
        super().__init__(f"{message} ({rule})" if rule else message)
        self.rule = rule


class CryptoError(AccordError):
    """A signature, MAC, AEAD tag or KEM check that failed."""

    code = "crypto_error"


class AuthError(AccordError):
    """The caller is not who it says, or may not do this."""

    code = "auth_error"


class SenderRequired(AuthError):
    """A post to a room whose hub takes messages over MIMI only, which names each
    message's sender (draft-ietf-mimi-protocol-06 5.4): the device posts with its
    session there (``GroupState.named_sender``), not with a hidden sender (T11)."""

    code = "sender_required"


class NotFound(AccordError):
    code = "not_found"


class NoConsent(NotFound):
    """A provider's user requires consent before its key material goes to a stranger
    (``--require-consent``): a MIMI requester is answered ``noConsent``
    (draft-ietf-mimi-protocol-06 5.2), Accord's peer route a 404 whose code is
    ``no_consent``; a stranger, an unknown user and one who blocked the requester
    alike (no probing, T14). The requester's provider then asks for consent (5.7);
    ``room``: the room the claim named ("" for none)."""

    code = "no_consent"

    def __init__(self, message: str, room: str = "") -> None:
        super().__init__(message)
        self.room = room


class NoDeviceList(NotFound):
    """The user's provider gets MIMI and offers no device lists (its MIMI directory
    lists no ``accord-deviceList``; draft-ietf-mimi-protocol-06 has none): the client
    goes by the claim's answer, which lists every client of the user (5.2). A 404
    distinct from an unknown user's."""

    code = "no_device_list"


class NoTransparency(NotFound):
    """The user's provider offers no key transparency to this provider: a plain MIMI
    peer (its MIMI directory lists no ``accord-keyTransparency``), or this provider is
    one (``--mimi-plain``) and asks nobody. The device takes such keys as not
    transparency-checked (docs/PROTOCOL.md, T06), never as checked. A 404 distinct from
    an unknown user's."""

    code = "no_transparency"


class ConsentRequested(AccordError):
    """A claim of another provider's user who gave the requester no consent (MIMI 5.2
    ``noConsent``): the requester's provider asked that user for it (5.7
    ``requestConsent``), or did within its window; the device tries again once it is
    granted (``GET /v1/consent/sent``). Distinct from an unknown user (404)."""

    code = "consent_requested"


class Conflict(AccordError):
    code = "conflict"


class EpochConflict(Conflict):
    """A commit or post for an epoch that is no longer the group's current one: the
    caller catches up and retries. On the wire it is a ``conflict`` that names the
    group's ``current_epoch`` (None when a peer did not say)."""

    def __init__(self, current_epoch: int | None, message: str = "") -> None:
        super().__init__(message or "epoch already committed; the group is at epoch "
                         f"{current_epoch}")
        self.current_epoch = current_epoch


class GroupMoved(Conflict):
    """The group was reinitialized (RFC 9420 11.2): once the hub accepted its ReInit
    commit it takes no more posts or commits (12.4.2). The sender catches up and
    sends in the new group, once it has joined it."""

    code = "group_moved"


class RateLimited(AccordError):
    """Too many requests; ``retry_after_ms`` says when one may succeed (RFC 9110 10.2.3)."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after_ms: int | None = None) -> None:
        super().__init__(message)
        self.retry_after_ms = retry_after_ms

    @staticmethod
    def retry_after_ms_of(header: str | None) -> int | None:
        """A ``Retry-After`` of whole seconds in ms; None when absent, a date, or absurd."""
        if header is None or not (header.isascii() and header.isdigit()) or len(header) > 9:
            return None
        return int(header) * 1000


class PeerUnavailable(AccordError):
    """Another provider (a federation peer) could not be reached or answered with a failure."""

    code = "peer_unavailable"


class StoreUnavailable(AccordError):
    """The provider's own database failed under a request: the disk is full, the file is
    locked or damaged, or the connection to PostgreSQL dropped. Nothing of the request
    was kept (its transaction rolled back); the caller retries later. Never raised for
    bad input. The server answers 503 with a Retry-After (``server.health``)."""

    code = "unavailable"


# A refusal's class, by the ``code`` an error body carries (a provider's answer to a
# device, a peer's answer to a provider). What these codes mean is declared once, on
# the classes above; ``payload_too_large`` is the server's ValidationError for a body
# over its limit.
_REFUSALS: tuple[type[AccordError], ...] = (
    DecodeError, ValidationError, CryptoError, AuthError, SenderRequired, NotFound, Conflict,
    GroupMoved, RateLimited, ConsentRequested, NoConsent, NoDeviceList, NoTransparency,
)
_BY_CODE: dict[str, type[AccordError]] = {cls.code: cls for cls in _REFUSALS}
_BY_CODE["payload_too_large"] = ValidationError


def error_class(code: object) -> type[AccordError] | None:
    """The error class a wire error ``code`` names; None for a code of no refusal here
    (an unknown one, a server failure, an unavailable store)."""
    return _BY_CODE.get(code) if isinstance(code, str) else None
