"""A benchmark baseline, attributed posting, in a provider started by this script only.

``accord bench server`` compares hidden-sender posting (issue 11) with what
it replaced: an application message posted under a device session, checked
by roster membership, stored with its sender. The route would undo T11 in a
real provider, so it is not in the shipped package: this script starts
``accord server`` with the same options and hands the route to the app
factory explicitly (``create_app(..., extra_routes=...)``). No option or
environment variable of ``accord server`` adds it. No client uses it.

    python bench/attributed_baseline.py --data DIR --domain alpha.test [accord server options]
"""

from __future__ import annotations

import secrets
import sys

from starlette.routing import Route

from accord.errors import NotFound, ValidationError
from accord.federation import franking, mls_check
from accord.federation.hub import item_encoder, new_msg_id
from accord.server.routes import GROUP_ID, Call, Spec, endpoint, group_id_of
from accord.storage import NewMessage
from accord.wire import b64e
from accord.wire import messages as m
from accord.wire import privacy as w


async def _post(c: Call) -> m.PostResponse:
    p, gid, req = c.provider, group_id_of(c), c.body
    p.limiter.check("group", b64e(gid), c.now)
    mls_check.check_application(req.ciphertext, gid, req.epoch)
    group = await p.store.get_group(gid)
    if c.me.device_id not in group.members:
        raise NotFound("no such group")
    if group.hub != p.config.domain:
        raise ValidationError("the baseline posts to groups hubbed here only")
    msg = NewMessage(new_msg_id(), "application", gid, req.epoch, c.me.device_id,
                     req.ciphertext, c.now)
    await franking.tag_post(p, msg)
    # The session, not a posting key, vouches for this post: nothing to verify.
    notified = await p.store.hub_post(msg, secrets.token_bytes(16),
                                      c.now + p.config.retention_ms, item_encoder(None),
                                      lambda posting_key: None)
    await p.announce(notified)
    return m.PostResponse(msg_id=msg.msg_id)


SPEC = Spec("POST", "/v1/groups/{group_id}/messages/attributed",
            "Benchmark baseline: an attributed application post", _post, auth=True,
            request=w.AttributedPost, response=m.PostResponse, status=201, params=(GROUP_ID,))


def routes() -> list[Route]:
    return [Route(SPEC.path, endpoint(SPEC), methods=["POST"])]


def main(argv: list[str]) -> None:
    """``accord server`` with ``argv`` as its options, plus the baseline route."""
    from accord.cli.server_cmd import run, server

    with server.make_context("attributed_baseline", argv) as ctx:
        run(**ctx.params, extra_routes=routes())


if __name__ == "__main__":
    main(sys.argv[1:])
