"""How people are named on this device: display names learned from conversations,
the user's nicknames for contacts, and the labels every face shows.

A display name (issue 19) is a claim by its owner, announced end to end
encrypted in a ``Notice(PROFILE_NAME)`` (``on_profile_name``), so it is always
shown next to the address (``label``), never instead of it; a nickname is the
user's own word for a contact and may stand alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.errors import ValidationError

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore

MAX_NAME = 64  # characters of a display name or nickname


def clean_name(name: str) -> str:
    """A display name or nickname as kept: spaces collapsed, not empty, bounded."""
    name = " ".join(name.split())
    if not name:
        raise ValidationError("a name cannot be empty", "name")
    if len(name) > MAX_NAME:
        raise ValidationError(f"a name has at most {MAX_NAME} characters", "name")
    return name


def set_nickname(dev: DeviceCore, account: str, nick: str | None) -> None:
    """The user's own name for ``account`` (None or "" removes it)."""
    contact = dev.store.contact(account)
    if contact is None:
        raise ValidationError(f"{account} is not one of your contacts", "contact")
    meta = dict(dev.store.contact_meta(account))
    if nick:
        meta["nick"] = clean_name(nick)
    else:
        meta.pop("nick", None)
    dev.store.set_contact_meta(account, meta)


def display_name(dev: DeviceCore) -> str | None:
    value = dev.store.get_json("display_name")
    return None if value is None else str(value)


def on_profile_name(dev: DeviceCore, account: str, name: str) -> None:
    """A member announced its display name (only for its own account)."""
    if account == dev.identity.account:
        return  # ours is set with set_display_name, never learned from the group
    try:
        name = clean_name(name)
    except ValidationError:
        return
    dev.store.upsert_contact(account, display_name=name)


def label(dev: DeviceCore, account: str) -> str:
    """How ``account`` is named to the user: nickname, else ``name (address)``,
    else the address."""
    if account == dev.identity.account:
        return "you"
    contact = dev.store.contact(account)
    if contact is None:
        return account
    nick = dev.store.contact_meta(account).get("nick")
    if nick:
        return f"{nick} ({account})"
    if contact["display_name"]:
        return f"{contact['display_name']} ({account})"
    return account


def resolve_person(dev: DeviceCore, who: str) -> list[str]:
    """The accounts ``who`` may mean: an address, or a nickname or display name
    (case-insensitive, several people may share one)."""
    who_l = who.strip().lower()
    hits = []
    for c in dev.store.contacts():
        names = {c["identity"].lower(), c["display_name"].lower(),
                 str(dev.store.contact_meta(c["identity"]).get("nick", "")).lower()}
        if who_l in names - {""}:
            hits.append(c["identity"])
    if who_l == dev.identity.account.lower() or who_l == (display_name(dev) or "").lower():
        hits.append(dev.identity.account)
    return sorted(set(hits)) or [who.strip()]
