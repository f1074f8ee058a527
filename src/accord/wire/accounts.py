"""Account names ``user@domain`` (``messages.ACCOUNT_RE``): the one reading of an
account's provider domain, for every layer above the wire."""

from __future__ import annotations

__all__ = ["domain_of"]


def domain_of(account: str) -> str:
    """The domain of ``account`` (``user@domain``): what follows its last ``@`` (the
    whole string when it has none)."""
    return account.rsplit("@", 1)[-1]
