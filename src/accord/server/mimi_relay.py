"""Key material through a room's hub (draft-ietf-mimi-protocol-06 5.2: "KeyPackages
requested using this primitive MUST be sent via the hub provider of whatever room they
will be used in").

Two sides of one ``keyMaterial`` request for a user of a third provider:

- the hub (:func:`relay`): a follower asks it for a user it does not host, naming a
  room. It relays only for a room it hubs, for a requester who is a member user of
  that room hosted by the follower that signed (the room's MLS state says who the
  members are), whose signature verifies (:func:`verified_suites`, the one check the
  target makes too), to the target's provider, signed as its own request. It records the
  refs of the KeyPackages it hands back with their source, so that an Add of one of
  them in that room is taken as placed by that provider (``accord.federation.hub``).
- the target's provider (:func:`requester`): the requesting user is one of the
  signer's, or, relayed, the signer is the hub of the room the request names and
  vouches that the requester is a member of it (5.2). Never a user of our own. The
  limits and consent (T14) are the requester's, not the hub's.
"""

from __future__ import annotations

from accord.errors import AuthError, CryptoError, DecodeError, NotFound, ValidationError
from accord.federation import mimi_out, mls_check
from accord.federation.service import Federation, requester_of
from accord.mls.key_package import key_package_ref
from accord.mls.suites import SUITES, get_suite
from accord.wire import mimi as w
from accord.wire.accounts import domain_of

RULE = "draft-ietf-mimi-protocol-06 5.2"


def _room(req: w.KeyMaterialRequest) -> tuple[str, bytes] | None:
    """The (hub, group id) the request's ``roomId`` names; None for no room."""
    if not req.room_id.uri:
        return None
    try:
        return w.room_of_uri(req.room_id.text())
    except DecodeError as exc:
        raise ValidationError(f"roomId: {exc}", RULE) from None


def verified_suites(req: w.KeyMaterialRequest) -> list[int]:
    """The request's acceptable suites this provider implements, in the requester's order
    and each once (a bounded loop); when there are any, the requester's
    ``SignWithLabel(.., "KeyMaterialRequestTBS", ..)`` must verify under the first of
    them (AuthError otherwise). The one check of the requester's signature, made by the
    target's provider and by a hub before it relays."""
    suites = [s for s in dict.fromkeys(req.acceptable_ciphersuites) if s in SUITES]
    if suites:
        try:
            get_suite(suites[0]).verify_with_label(
                req.requester_signature_key, req.SIGN_LABEL, req.tbs(),
                req.key_material_request_signature)
        except CryptoError as exc:
            raise AuthError(f"the requester's signature does not verify ({RULE})") from exc
    return suites


def requester(fed: Federation, peer: str, req: w.KeyMaterialRequest, requesting: str) -> str:
    """Whom a ``keyMaterial`` request asks for: a user of the signer, or one the signer
    relays for as the hub of the room the request names."""
    if domain_of(requesting) == peer:
        return requesting
    room = _room(req)
    if room is None or room[0] != peer:
        raise ValidationError("the requester is not an account of the requesting provider,"
                              " which is not the hub of the request's room", RULE)
    if domain_of(requesting) == fed.domain:
        raise ValidationError("a peer does not speak for this provider's own users", RULE)
    return requesting


async def relay(fed: Federation, peer: str, req: w.KeyMaterialRequest, account: str,
                requesting: str, now: int) -> w.KeyMaterialResponse:
    """The hub's relay of a follower's request for a user of another provider."""
    room = _room(req)
    if room is None:  # not for a room: a peer asks only about our own users
        raise NotFound(f"no account {account} here")
    hub, group_id = room
    if hub != fed.domain:
        raise AuthError(f"this provider is not the hub of the request's room ({RULE})")
    requesting = requester_of(peer, requesting)
    store = fed.provider.store
    group = await store.get_group(group_id)
    public = await store.hub_public_state(group_id)
    if group.hub != fed.domain or public is None:
        raise AuthError(f"this provider is not the hub of the request's room ({RULE})")
    devices = mls_check.member_devices(public[1], requesting)
    if not devices or not all(group.hosted_by(peer, d) for d in devices):
        raise AuthError("the requester is not a member user of the room hosted by the"
                        f" requesting provider ({RULE})")
    if not verified_suites(req):  # nothing to verify with: nothing relayed unverified
        raise AuthError(f"no acceptable suite to verify the requester's signature ({RULE})")
    fed.limiter.check("sender", requesting, now)
    domain = domain_of(account)
    target = req.target_user.text()
    resp = await fed.client.post_mimi(domain, "keyMaterial", target, req,
                                      w.KeyMaterialResponse, now)
    if resp.user_uri.text() != target:
        raise NotFound("the provider answered for another user")
    refs = []
    for device, kp in mimi_out.handed_clients(resp, domain):
        identity = kp.leaf_node.credential.identity
        if mls_check.identity_device(identity) != device \
                or mls_check.identity_device_account(identity) != account:
            raise ValidationError("the provider answered with a client of another user", RULE)
        refs.append((key_package_ref(kp), device, account))
    if refs:
        await store.kp_relayed_out(group_id, refs, domain, now)
    return resp
