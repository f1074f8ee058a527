"""Federation between providers (MIMI-style): the hub, the follower, consent, peers.

A conversation is ordered by one provider, its hub (:mod:`accord.federation.hub`,
the one acceptance path for every origin); the other providers of its members
are followers (:mod:`accord.federation.follower`). Peer requests are signed
(RFC 9421, :mod:`accord.federation.http_signatures`) and served by the server,
which mounts them (:mod:`accord.server.federation_routes`);
:mod:`accord.federation.service` is the part a running provider holds, and
:mod:`accord.federation.host` what federation uses of that provider. The
package imports nothing of the server. Nothing is imported here, so importing
one module of the package does not load the others.
"""
