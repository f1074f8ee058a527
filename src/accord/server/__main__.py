"""``python -m accord.server`` is ``accord server`` (used by tests that spawn a process)."""

from accord.cli.server_cmd import server

server(prog_name="accord server")
