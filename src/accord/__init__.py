"""Accord: an open, interoperable, end-to-end encrypted messenger on MLS (RFC 9420)."""

__version__ = "0.1.0"
