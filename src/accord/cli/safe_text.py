"""What a peer-controlled string may do on a terminal: be read, nothing more.

Names, message texts, file names, reactions, event details, alerts and
provider error texts come from people and providers the user does not
trust. Printed as Rich markup they could crash a command (``[/x]``), hide
or fake text (``[conceal]``, ``[link=...]``, styles), and raw control
characters could move the cursor, retitle the window or smuggle OSC 8
hyperlinks; bidi overrides reorder what is shown (Trojan Source). Every
command prints every such string through :func:`shown`, and nothing else.
"""

from __future__ import annotations

import re

from rich.markup import escape

# C0 and C1 controls (ESC, CSI U+009B, BEL, CR, ...), DEL, the line and paragraph
# separators, the bidi embeddings/overrides/isolates and marks (Unicode UAX #9),
# and invisible characters that let one name pass for another (BOM, word joiner,
# zero-width space). ZWJ (U+200D) stays: emoji sequences need it.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e"
                     "\u2066-\u2069\u200b\u2060-\u2064\ufeff]")
REPLACEMENT = "\ufffd"
# A message's second and later lines start with this, so that a text cannot
# print a line that looks like another message or an event.
CONTINUATION = "\n    \u2506 "


def plain(value: object, *, multiline: bool = False) -> str:
    """``value`` as one line of inert text (several lines, each marked, with
    ``multiline``): every unsafe character is replaced by U+FFFD, tabs by a space."""
    text = str(value).replace("\t", " ")
    if not multiline:
        return _UNSAFE.sub(REPLACEMENT, text)
    lines = text.replace("\r\n", "\n").split("\n")
    return CONTINUATION.join(_UNSAFE.sub(REPLACEMENT, line) for line in lines)


def shown(value: object, *, multiline: bool = False) -> str:
    """``value`` ready to put into a Rich markup template: inert text, markup escaped."""
    return escape(plain(value, multiline=multiline))
