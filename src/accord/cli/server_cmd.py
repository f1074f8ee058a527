"""``accord server``: run a provider."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

_HELD: list[object] = []  # the lock's open file lives as long as the server process


def lock_data_dir(data_dir: Path) -> None:
    """One server per data folder: two would share one SQLite file and blob folder and
    each believe it alone assigns sequence numbers. An ``flock`` on ``server.lock`` is
    released by the kernel when the process ends, even on a crash (no stale lock)."""
    import fcntl

    handle = (data_dir / "server.lock").open("a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise click.UsageError(f"another accord server is using {data_dir}; "
                               "stop it first or give another --data") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    _HELD.append(handle)


@click.command("server")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="Folder for the SQLite file and blobs.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8400, show_default=True, type=click.IntRange(0, 65535))
@click.option("--domain", required=True, help="The accounts this provider serves: user@DOMAIN.")
@click.option("--database", default=None, envvar="ACCORD_DATABASE",
              help="postgresql://... instead of SQLite (or $ACCORD_DATABASE, which keeps "
              "a password out of the process list).")
@click.option("--bus", "bus_url", default=None, envvar="ACCORD_BUS",
              help="nats://... to share news between nodes (or $ACCORD_BUS).")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--key-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="With --database: a file of 32 random bytes (mode 0600), the same on every "
              "node, that seals the provider's keys in PostgreSQL, so a reader of the database "
              "or its backups does not get them. Make one with: "
              "head -c 32 /dev/urandom > provider.kek && chmod 600 provider.kek")
@click.option("--mimi-transport/--accord-transport", "mimi_transport", default=True,
              help="Room traffic to peers goes over draft-ietf-mimi-protocol-06 "
              "(/mimi/v1/update, submitMessage, notify), Accord's extensions used as each "
              "peer's MIMI directory lists them: the default. --accord-transport sends it to "
              "Accord peers over Accord's earlier /federation/v1 API instead (plain MIMI peers "
              "still get MIMI); both are served either way (docs/INTEROP.md).")
@click.option("--mimi-plain", is_flag=True, default=False,
              help="Run as a plain MIMI provider: advertise no accord-* extension, serve no "
              "/federation/v1, send everything over MIMI, and authenticate peers by mutual "
              "TLS alone (needs --tls-cert, --tls-key and --peer-ca; docs/INTEROP.md).")
@click.option("--require-consent", is_flag=True, default=False,
              help="Hand our users' KeyPackages to another provider's user only once the "
              "user consented (accepted a message request from it); a stranger's provider "
              "is answered noConsent and may send a MIMI consent request (5.7).")
@click.option("--mimi-withhold", "mimi_withhold", multiple=True, metavar="EXTENSION",
              help="Do not list this Accord extension (e.g. accord-hiddenSenders) in the MIMI "
              "directory: peers sending over MIMI use the draft's endpoint instead "
              "(repeatable; docs/PROTOCOL.md, \"Accord extensions to MIMI\").")
@click.option("--peer-ca", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Trust anchors (PEM) of peer providers' certificates: federation over "
              "mutual TLS (MIMI). Every peer request must then present a certificate naming "
              "the domain that signed it; outbound, peers are verified against these anchors "
              "(else the system store) and --tls-cert is presented. Needs --tls-cert.")
@click.option("--peer-crl", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Certificate revocation lists (PEM, one or more) issued by the --peer-ca "
              "anchors: a peer whose certificate one lists is refused, inbound and outbound. "
              "Re-read when the file changes; a CRL no anchor signed, or past its "
              "nextUpdate, stops the server at startup. Needs --peer-ca.")
@click.option("--retention-days", default=30, show_default=True, type=click.IntRange(1, 3650))
@click.option("--rate-limit-scale", default=1.0, show_default=True, type=click.FloatRange(0.01),
              help="Multiply every rate limit (tests and benchmarks on one address).")
@click.option("--max-sockets-per-device", default=4, show_default=True,
              type=click.IntRange(1, 1000), help="Open WebSockets one device may hold.")
@click.option("--max-pending-sockets-per-address", default=8, show_default=True,
              type=click.IntRange(1, 10000),
              help="WebSockets one client address may hold before they authenticate.")
@click.option("--push-send-timeout", default=30.0, show_default=True,
              type=click.FloatRange(0.1, 3600),
              help="Seconds a WebSocket may take to read a push frame before it is dropped "
              "(it reconnects and resumes from its cursor).")
@click.option("--header-timeout", default=10.0, show_default=True, type=click.FloatRange(0.1, 600),
              help="Seconds a client has to send a request's head (line and headers).")
@click.option("--body-timeout", default=120.0, show_default=True, type=click.FloatRange(1, 3600),
              help="Seconds a client has to send a request's body.")
@click.option("--peer", "peers", multiple=True, metavar="DOMAIN=URL",
              help="Reach the provider of DOMAIN at URL (static discovery, for tests and "
              "demos; repeatable), e.g. beta.test=http://127.0.0.1:8402.")
@click.option("--metrics-bind", default=None, metavar="HOST:PORT",
              help="Serve Prometheus metrics at http://HOST:PORT/metrics, a listener apart "
              "from the public port (e.g. 127.0.0.1:9400); off by default.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one JSON object per line (docs/SCALING.md).")
@click.option("--drain-timeout", default=10.0, show_default=True,
              type=click.FloatRange(0, 3600),
              help="On SIGTERM, seconds in-flight requests get to finish before the exit.")
@click.option("--forwarded-allow-ips", default=None, metavar="IP[,IP...]",
              help="Load balancers whose X-Forwarded-For is believed, so that per-address "
              "limits see the client (default: 127.0.0.1 and ::1 only).")
@click.option("--discover", is_flag=True,
              help="Find providers not given with --peer at https://DOMAIN/.well-known/accord.")
def server(**options: Any) -> None:
    """Run a provider for DOMAIN on HOST:PORT."""
    run(**options)


def run(
    data_dir: Path,
    host: str,
    port: int,
    domain: str,
    database: str | None,
    bus_url: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    retention_days: int,
    rate_limit_scale: float,
    max_sockets_per_device: int,
    max_pending_sockets_per_address: int,
    push_send_timeout: float,
    header_timeout: float,
    body_timeout: float,
    peers: tuple[str, ...],
    discover: bool,
    metrics_bind: str | None = None,
    log_format: str = "text",
    drain_timeout: float = 10.0,
    forwarded_allow_ips: str | None = None,
    peer_ca: str | None = None,
    peer_crl: str | None = None,
    key_file: str | None = None,
    mimi_transport: bool = True,
    require_consent: bool = False,
    mimi_plain: bool = False,
    mimi_withhold: Sequence[str] = (),
    extra_routes: Sequence[BaseRoute] = (),
) -> None:
    """``accord server`` with its options parsed; ``extra_routes`` only from a benchmark's
    own entry point (``bench/attributed_baseline.py``), never from an option."""
    from accord.server.app import serve
    from accord.server.state import DAY_MS, ServerConfig

    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if peer_ca and not tls_cert:
        raise click.UsageError("--peer-ca needs --tls-cert and --tls-key (mutual TLS)")
    if peer_crl and not peer_ca:
        raise click.UsageError("--peer-crl needs --peer-ca (the anchors that sign the CRLs)")
    if peer_crl and peer_ca:
        from accord.federation.peer_tls import PeerCrlError, PeerRevocations
        from accord.server.state import wall_clock_ms

        try:
            PeerRevocations(peer_crl, peer_ca, wall_clock_ms())
        except PeerCrlError as exc:
            raise click.UsageError(f"--peer-crl: {exc}") from exc
    if mimi_plain and not peer_ca:
        raise click.UsageError("--mimi-plain authenticates peers by mutual TLS alone: it "
                               "needs --tls-cert, --tls-key and --peer-ca")
    if mimi_withhold:
        from accord.server.mimi_routes import EXTENSIONS

        unknown = sorted(set(mimi_withhold) - set(EXTENSIONS))
        if unknown:  # a typo must not leave an extension listed unnoticed
            raise click.UsageError(f"--mimi-withhold: no Accord extension {unknown[0]!r} "
                                   f"(one of {', '.join(sorted(EXTENSIONS))})")
    if key_file and not database:
        raise click.UsageError("--key-file seals keys kept in PostgreSQL (--database); on "
                               "SQLite the keys are files of the data folder, mode 0600")
    from accord.errors import ValidationError
    from accord.federation.discovery import parse_peer

    try:
        peer_map = tuple(parse_peer(p) for p in peers)
    except ValidationError as exc:
        raise click.UsageError(str(exc)) from exc
    if metrics_bind is not None:
        host_part, _, port_part = metrics_bind.rpartition(":")
        if not host_part or not port_part.isdigit() or not 0 < int(port_part) < 65536:
            raise click.UsageError("--metrics-bind takes HOST:PORT, e.g. 127.0.0.1:9400")
    data_dir.mkdir(parents=True, exist_ok=True)
    lock_data_dir(data_dir)
    config = ServerConfig(
        domain=domain.lower(),
        data_dir=data_dir,
        database=database,
        bus_url=bus_url,
        retention_ms=retention_days * DAY_MS,
        blob_retention_ms=retention_days * DAY_MS,
        rate_limit_scale=rate_limit_scale,
        max_sockets_per_device=max_sockets_per_device,
        max_pending_sockets_per_address=max_pending_sockets_per_address,
        push_send_timeout_s=push_send_timeout,
        header_timeout_s=header_timeout,
        body_timeout_s=body_timeout,
        peers=peer_map,
        discover=discover,
        metrics_bind=metrics_bind,
        drain_timeout_s=drain_timeout,
        tls_cert=tls_cert,
        tls_key=tls_key,
        peer_ca=peer_ca,
        peer_crl=peer_crl,
        key_file=key_file,
        mimi_transport=mimi_transport,
        require_consent=require_consent,
        mimi_plain=mimi_plain,
        mimi_withhold=frozenset(mimi_withhold),
    )
    serve(config, host, port, tls_cert, tls_key, extra_routes=extra_routes,
          log_format=log_format, forwarded_allow_ips=forwarded_allow_ips)
