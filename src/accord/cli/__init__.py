"""The ``accord`` command line (``accord.cli.main``)."""

import sys

# httpx's own command-line client (httpx/_main.py: rich.progress, rich.syntax,
# pygments) is imported by ``import httpx`` unless that import fails, which httpx
# allows for (it then defines a stub ``httpx.main``). No accord command runs it, and
# it cost each one ~15 ms of start-up (issue 19, docs/PERFORMANCE.md). Set here,
# before any command module imports httpx.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
