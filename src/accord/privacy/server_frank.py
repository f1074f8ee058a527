"""MIMI franking at the hub and at the receiver (draft-ietf-mimi-protocol-06 5.4.1), sans-I/O.

The hub (5.4.1.2) binds the sender's ``franking_tag`` (the frank_aad Safe AAD
component) to a :class:`ServerFrankingContext` (sender URI, room URI, accepted
time) with its own ``hub_key``::

    server_frank = HMAC-SHA256(hub_key, franking_tag || ServerFrankingContext)

and signs ``FrankingIntegrityTBS`` with the key of the room's ``franking_agent``
GroupContext component (:func:`make`). A receiver (5.4.1.3) checks the suite,
the agent's credential and the signature (:func:`verify_received`); only the hub
can recompute ``server_frank``, which it does when a report reveals the content
(:func:`check_report`).

Accord's decisions (docs/PROTOCOL.md "Franking"): a post whose sender the hub
does not learn (hidden senders, T11) is franked with an empty sender URI
(``HIDDEN_SENDER``); a room without a franking_agent of the hub (a suite that does
not sign with the provider's Ed25519 key, a room made before) is franked without a
signature, ``franking_signature_ciphersuite`` 0, and a receiver keeps such a frank
only for a room without a franking_agent (otherwise it is a stripped signature).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from accord.errors import CryptoError, DecodeError, ValidationError
from accord.mls.structs import Credential
from accord.mls.structs.app_data import AppDataDictionary
from accord.mls.suites import get_suite
from accord.wire.mimi import Frank, IdentifierUri
from accord.wire.mimi_frank import (
    HIDDEN_SENDER,
    INTEGRITY_LABEL,
    FrankingAgentData,
    FrankingIntegrityTBS,
    ServerFrankingContext,
)
from accord.wire.mimi_room import FRANKING_SIGNATURE_KEY

UNSIGNED = 0  # franking_signature_ciphersuite of a frank without a signature (Accord)
HUB_KEY_MIN = 32


def context(sender_uri: str | None, room_uri: str, accepted_timestamp: int
            ) -> ServerFrankingContext:
    """The context of a post; ``sender_uri`` None: a hidden sender (the empty URI)."""
    sender = HIDDEN_SENDER if sender_uri is None else IdentifierUri.of(sender_uri)
    return ServerFrankingContext(sender, IdentifierUri.of(room_uri), accepted_timestamp)


def server_frank(hub_key: bytes, franking_tag: bytes, ctx: ServerFrankingContext) -> bytes:
    if len(hub_key) < HUB_KEY_MIN:
        raise CryptoError("the hub's franking key is too short")
    if len(franking_tag) != 32:
        raise CryptoError("a franking_tag is 32 octets")
    return hmac.new(hub_key, franking_tag + ctx.to_bytes(), hashlib.sha256).digest()


def _tbs(frank_value: bytes, suite: int, ctx: ServerFrankingContext) -> bytes:
    return FrankingIntegrityTBS(frank_value, suite, ctx).to_bytes()


def make(hub_key: bytes, franking_tag: bytes, ctx: ServerFrankingContext, suite: int,
         signing_key: bytes | None) -> Frank:
    """The hub's Frank: signed under ``suite`` with ``signing_key`` (the franking_agent's
    private key), or unsigned (suite 0) when ``signing_key`` is None."""
    value = server_frank(hub_key, franking_tag, ctx)
    if signing_key is None:
        return Frank(value, UNSIGNED, b"")
    signature = get_suite(suite).sign_with_label(signing_key, INTEGRITY_LABEL,
                                                 _tbs(value, suite, ctx))
    return Frank(value, suite, signature)


def agent(domain: str, public_key: bytes) -> FrankingAgentData:
    """The franking_agent of a hub: its key and a basic credential naming its domain."""
    return FrankingAgentData(public_key, Credential.basic(domain.encode()))


def signs_with_ed25519(suite: int) -> bool:
    """The suite's signature scheme is Ed25519, the provider key's (5.4.1: the agent's key
    has the group's signature algorithm)."""
    try:
        return get_suite(suite).signature.name == "Ed25519"
    except ValidationError:
        return False


def agent_of(dictionary: AppDataDictionary) -> FrankingAgentData | None:
    """The GroupContext's franking_agent (section 10.2), None if absent; a component
    that does not decode is refused (``DecodeError``)."""
    data = dictionary.get(FRANKING_SIGNATURE_KEY)
    return None if data is None else FrankingAgentData.from_bytes(data)


def names_hub(found: FrankingAgentData, hub_domain: str) -> bool:
    """The agent's credential is a basic credential naming the hub's domain (5.4.1.3)."""
    return found.credential.identity == hub_domain.encode()


def verify_received(frank: Frank, group_suite: int, found: FrankingAgentData | None,
                    hub_domain: str, contexts: Sequence[ServerFrankingContext]
                    ) -> ServerFrankingContext | None:
    """A receiver's check of a frank (5.4.1.3): the context among ``contexts`` (the
    sender's user, then the hidden sender) the hub's signature covers, or None for an
    unsigned frank of a room without a franking_agent. ``CryptoError`` otherwise.

    The franking_tag itself is checked against the content by whoever opens it
    (``accord.content``): the signature covers the context and ``server_frank``."""
    suite = frank.franking_signature_ciphersuite
    if suite == UNSIGNED:
        if found is not None:
            raise CryptoError("an unsigned frank in a room with a franking agent")
        if frank.franking_integrity_signature:
            raise CryptoError("a signature under no cipher suite")
        return None
    if suite != group_suite:
        raise CryptoError("the frank's cipher suite is not the group's (MIMI 5.4.1.3)")
    if found is None:
        raise CryptoError("a signed frank in a room without a franking agent")
    if not names_hub(found, hub_domain):
        raise CryptoError("the franking agent is not the room's hub (MIMI 5.4.1.3)")
    return _signed_context(frank, found.franking_signature_key, contexts)


def _signed_context(frank: Frank, public_key: bytes,
                    contexts: Sequence[ServerFrankingContext]) -> ServerFrankingContext:
    suite = frank.franking_signature_ciphersuite
    try:
        cs = get_suite(suite)
    except ValidationError as exc:
        raise CryptoError(f"the frank's cipher suite is unknown: {exc}") from None
    for ctx in contexts:
        try:
            cs.verify_with_label(public_key, INTEGRITY_LABEL,
                                 _tbs(frank.server_frank, suite, ctx),
                                 frank.franking_integrity_signature)
        except (CryptoError, DecodeError, ValueError):
            continue
        return ctx
    raise CryptoError("the frank's integrity signature does not verify (MIMI 5.4.1.3)")


def check_report(hub_key: bytes, public_key: bytes, frank: Frank, franking_tag: bytes,
                 contexts: Sequence[ServerFrankingContext]) -> ServerFrankingContext:
    """The hub's check of a reported message (5.9): the ``franking_tag`` recomputed from
    the revealed content, ``server_frank`` recomputed over one of the ``contexts`` (the
    content's sender URI, or the hidden sender), and the hub's own signature if the
    frank has one. The context that matched; ``CryptoError`` otherwise."""
    matched = [c for c in contexts
               if hmac.compare_digest(server_frank(hub_key, franking_tag, c), frank.server_frank)]
    if not matched:
        raise CryptoError("the server frank does not match this content, sender, room and time")
    if frank.franking_signature_ciphersuite == UNSIGNED:
        if frank.franking_integrity_signature:
            raise CryptoError("a signature under no cipher suite")
        return matched[0]
    return _signed_context(frank, public_key, matched)
