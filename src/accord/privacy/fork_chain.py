"""Fork detection for one group (T07), sans-I/O: the hub's chain and the epoch tags.

The hub links the commit it accepts for epoch ``e`` into a hash chain,

    link(e) = SHA-256("accord/v1/handshake-chain" || link(e-1) || e (8) || SHA-256(commit)),

(``link(-1)`` = 32 zero octets) and sends ``(e, link(e))`` with the commit and
with the Welcome of the devices it adds. A member keeps the last link it saw
and checks every new one. Members also put an 8-octet hash of their epoch
authenticator in the clear authenticated data of every application message
(``accord.client.messaging``), so two members that a hub led into different
epochs notice at the next message.

:class:`ForkMonitor` turns those observations into alerts:

- ``chain_mismatch``: a commit's link is not ``link(prev, e, commit)``;
- ``two_commits``: a second, different link for an epoch we already have;
- ``withheld_commit``: a link or an application message for an epoch past
  the next one we expect (the hub kept a commit from us);
- ``epoch_tag_mismatch``: a member's message for our own epoch carries
  another epoch authenticator (the hub showed us different commits);
- ``chain_missing``: a commit or Welcome without the hub's link;
- ``epoch_tag_missing``: an application message without Accord's
  epoch tag (no epoch tag to compare), in a room whose members all support it.

Missing evidence fails closed (issue 17): a hub that leaves the chain out,
or a message that carries no epoch tag, would otherwise switch the check
off for everyone it serves, so each absence is an alert of its own. Only a
room with a member whose leaf does not list Accord's epoch tag among its Safe
AAD components (a MIMI client, draft-ietf-mls-extensions 5) takes untagged
messages without an alert: its leaf is signed by that member and every
member sees it, and each tagged message is still compared.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

CHAIN_LABEL = b"accord/v1/handshake-chain"
ZERO = bytes(32)


def chain_next(previous: bytes, epoch: int, commit: bytes) -> bytes:
    h = hashlib.sha256(CHAIN_LABEL)
    h.update(previous)
    h.update(epoch.to_bytes(8, "big"))
    h.update(hashlib.sha256(commit).digest())
    return h.digest()


@dataclass(frozen=True, slots=True)
class ForkAlert:
    kind: str
    epoch: int | None
    detail: str


@dataclass
class ForkMonitor:
    """What one member knows of one group's chain: the last link (epoch, value)."""

    epoch: int | None = None
    link: bytes | None = None
    alerts: list[ForkAlert] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "link": self.link.hex() if self.link else None}

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> ForkMonitor:
        if not d:
            return cls()
        return cls(d.get("epoch"), bytes.fromhex(d["link"]) if d.get("link") else None)

    def _alert(self, kind: str, epoch: int | None, detail: str) -> None:
        self.alerts.append(ForkAlert(kind, epoch, detail))

    def joined(self, epoch: int | None, link: bytes | None, group_epoch: int) -> None:
        """A Welcome that took us to ``group_epoch``: start from the link of the
        commit that added us, which is the commit of ``group_epoch - 1``."""
        if epoch is None or link is None:
            self._alert("chain_missing", epoch,
                        "the hub sent an invitation without its chain link")
            return
        if epoch != group_epoch - 1:
            self._alert("chain_mismatch", epoch,
                        f"the invitation's link is not for epoch {group_epoch - 1}")
            return
        self.epoch, self.link = epoch, link

    def own_commit(self, epoch: int, commit: bytes) -> None:
        """Our own commit for ``epoch``, accepted by the hub. The hub never
        queues a commit back to its sender, so the sender extends its chain
        itself (an honest hub computes the same link); without the link of
        ``epoch - 1`` it cannot, and the next link the hub shows is adopted."""
        if self.epoch is None and epoch == 0:
            previous = ZERO
        elif self.epoch == epoch - 1 and self.link is not None:
            previous = self.link
        else:
            return
        self.epoch, self.link = epoch, chain_next(previous, epoch, commit)

    def commit(self, epoch: int | None, link: bytes | None, commit: bytes,
               link_epoch: int | None) -> None:
        """A commit the hub ordered for ``epoch`` (our current epoch when honest),
        with its chain link ``(link_epoch, link)``."""
        if epoch is None or link is None or link_epoch is None:
            # Fail closed: without the link nothing shows that others got this commit.
            self._alert("chain_missing", epoch, "the hub sent a commit without its chain link")
            return
        if link_epoch != epoch:
            self._alert("chain_mismatch", epoch, "the hub's link is for another epoch")
            return
        if self.epoch is None or self.link is None:
            self.epoch, self.link = epoch, link
            return
        if epoch == self.epoch:
            if not hmac.compare_digest(link, self.link):
                self._alert("two_commits", epoch, "the hub showed two commits for one epoch")
            return
        if epoch < self.epoch:
            return  # a redelivery of an older commit
        if epoch > self.epoch + 1:
            self._alert("withheld_commit", epoch,
                        f"commits of epochs {self.epoch + 1}..{epoch - 1} never reached us")
        elif not hmac.compare_digest(link, chain_next(self.link, epoch, commit)):
            self._alert("chain_mismatch", epoch, "the hub's chain does not extend ours")
        self.epoch, self.link = epoch, link

    def application(self, msg_epoch: int | None, tag: bytes | None, own_epoch: int,
                    own_tag: bytes, *, tag_expected: bool = True) -> None:
        """An application message's epoch and epoch tag (``None``: the message
        carries none, not even a readable header), against our own state.

        ``tag_expected`` is False in a room where some member does not support
        Accord's epoch tag (a MIMI client): an untagged message is then no evidence
        either way, and only its epoch is compared; a tagged one is checked as ever.
        """
        if msg_epoch is None or (tag is None and tag_expected):
            self._alert("epoch_tag_missing", msg_epoch,
                        "a message carries no epoch tag to compare (not Accord's layout)")
            return
        if msg_epoch > own_epoch:
            self._alert("withheld_commit", msg_epoch,
                        f"a member writes in epoch {msg_epoch}; we are at {own_epoch}")
        elif (msg_epoch == own_epoch and tag is not None
              and not hmac.compare_digest(tag, own_tag)):
            self._alert("epoch_tag_mismatch", msg_epoch,
                        "a member sees a different group state for this epoch")

    def take_alerts(self) -> list[ForkAlert]:
        out, self.alerts = self.alerts, []
        return out
