"""issue 19: the ``accord`` command loads its subcommands lazily."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import click

from accord.cli.main import LAZY, cli

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120, check=True)


def test_importing_main_imports_no_subcommand_interop_or_grpc() -> None:
    out = _python(
        "import sys, accord.cli.main\n"
        "heavy = sorted(m for m in sys.modules if m.startswith(('accord.interop', 'grpc',"
        " 'google.protobuf', 'accord.client', 'accord.federation', 'accord.mls'))"
        " or (m.startswith('accord.cli.') and m.endswith('_cmd')))\n"
        "print(heavy)\n").stdout
    assert out.strip() == "[]"


def test_help_lists_every_command_without_importing_them() -> None:
    proc = subprocess.run([sys.executable, "-c",
                           "import sys; from accord.cli.main import main\n"
                           "try:\n    main(args=['--help'])\n"
                           "except SystemExit:\n    pass\n"
                           "print('LOADED', sorted(m for m in sys.modules if m.endswith('_cmd')))"],
                          capture_output=True, text=True, timeout=120, check=True,
                          env={**os.environ, "PYTHONPATH": SRC})
    listed = {line.split()[0] for line in proc.stdout.split("Commands:")[1].splitlines()
              if line.startswith("  ") and line.strip()}
    assert listed == set(LAZY)
    assert "send" in listed and "interop" in listed
    assert "LOADED []" in proc.stdout
    # the help line comes from the table: its first words are shown
    assert "Send TEXT (and optionally a file) to CHAT." in proc.stdout


def test_table_matches_each_command_module() -> None:
    """Each lazy entry names a real command with that name and that help line."""
    for name, (module, attr, help_line) in LAZY.items():
        command = getattr(importlib.import_module(f"accord.cli.{module}"), attr)
        assert isinstance(command, click.Command)
        assert command.name == name
        assert command.get_short_help_str(limit=10_000) == help_line


def test_a_lazy_command_runs() -> None:
    proc = subprocess.run([sys.executable, "-c", "from accord.cli.main import main; main()",
                           "send", "--help"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": SRC})
    assert proc.returncode == 0
    assert "--passphrase-file" in proc.stdout
    assert isinstance(cli, click.Group)


def test_send_loads_no_interop_federation_or_key_transparency_modules() -> None:
    """``accord send`` imports what a post needs; key transparency (federation
    gossip), interop/gRPC and the server load only when used."""
    out = _python(
        "import sys, accord.cli.message_cmd\n"
        "print(sorted(m for m in sys.modules if m.startswith(('accord.interop', 'grpc',"
        " 'google.protobuf', 'accord.federation', 'accord.server', 'accord.client.device_kt',"
        " 'accord.client.keycheck'))))\n").stdout
    assert out.strip() == "[]"


def test_send_loads_no_module_a_post_does_not_use() -> None:
    """Issue 19, ``accord send`` under 0.5 s: the WebSocket library (push only), the
    transparency core (verified contacts only), pyca's X.509 (X.509 credentials only),
    the federation wire types (requests and blocks) and httpx's own command-line
    client (rich.progress, pygments) stay out of a send."""
    out = _python(
        "import sys, accord.cli.message_cmd\n"
        "print(sorted(m for m in sys.modules if sys.modules[m] is not None and"
        " m.startswith(('websockets', 'accord.transparency', 'cryptography.x509',"
        " 'accord.wire.federation', 'httpx._main', 'pygments', 'rich.progress'))))\n").stdout
    assert out.strip() == "[]"


def test_http_clients_share_one_verifying_tls_context() -> None:
    import ssl

    from accord.http_client import async_client, tls_context

    ctx = tls_context()
    assert ctx is tls_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    client = async_client(base_url="https://example.test")
    pool = client._transport._pool  # type: ignore[attr-defined]
    assert pool._ssl_context is ctx
