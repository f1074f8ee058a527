"""Field hints of message content: the shared bounded codecs and the message id."""

from __future__ import annotations

from typing import Annotated

from accord.bounded import BoundedBytes, BoundedText, BoundedTuple, Flag, no_controls
from accord.mls.codec import Fixed

__all__ = ["BoundedBytes", "BoundedText", "BoundedTuple", "Flag", "MessageId", "no_controls"]

MessageId = Annotated[bytes, Fixed(16)]
