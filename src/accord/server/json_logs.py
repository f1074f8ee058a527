"""How the server logs: plain text, or JSON lines (``accord server --log-format json``).

A JSON line is one object per event: ``time`` (UTC, ISO 8601), ``level``,
``logger``, ``event`` (the rendered message) and the safe fields a call
passes with ``extra=`` whose names are in :data:`SAFE_FIELDS` (the request
log's route template, method, status and duration). Any other attribute of
a record is left out, so a field added by a library cannot carry a token or
an address into the log. A failure is logged by its exception's type and
the code locations of its traceback, never the exception's text, which may
quote a request's data.

What the messages themselves say is kept safe where they are written: the
server names route templates, never paths (group ids, blob capabilities),
and never a client's address, token, key or content (tests/server/test_logs.py).
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import UTC, datetime

SAFE_FIELDS = ("route", "method", "status", "ms", "reason")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for name in SAFE_FIELDS:
            value = getattr(record, name, None)
            if isinstance(value, (str, int, float)):
                line[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            line["exc_type"] = record.exc_info[0].__name__
            line["exc_where"] = [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}"
                                 for f in traceback.extract_tb(record.exc_info[2])][-5:]
        return json.dumps(line, ensure_ascii=False)


def configure(log_format: str) -> None:
    """The root handler every logger (ours, uvicorn's, the drivers') writes through."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
