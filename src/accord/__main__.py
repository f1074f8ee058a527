"""``python -m accord`` is the ``accord`` command (tests and the loopback federation spawn
``python -m accord server`` this way)."""

from accord.cli.main import main

main()
