"""MIMI identifier URIs (draft-ietf-mimi-protocol-06 section 3): provider, user,
client, room and MLS group, each made and read back by one parser, and every other
shape a DecodeError."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.errors import DecodeError
from accord.wire import mimi_uri as u

GID = bytes(range(16))


def test_each_kind_has_the_drafts_shape() -> None:
    assert u.mimi_provider_uri("a.example") == "mimi://a.example"
    assert u.mimi_user_uri("alice@a.example") == "mimi://a.example/u/alice"
    assert u.mimi_client_uri("a.example", "ClientA1") == "mimi://a.example/d/ClientA1"
    assert u.mimi_room_uri("a.example", GID) == "mimi://a.example/r/AAECAwQFBgcICQoLDA0ODw"
    assert u.mimi_group_uri("a.example", GID) == "mimi://a.example/g/AAECAwQFBgcICQoLDA0ODw"


@given(st.binary(min_size=1, max_size=64))
def test_rooms_and_groups_read_back(group_id: bytes) -> None:
    assert u.room_of_uri(u.mimi_room_uri("hub.example", group_id)) == ("hub.example", group_id)
    assert u.group_of_uri(u.mimi_group_uri("hub.example", group_id)) == ("hub.example",
                                                                          group_id)


def test_users_and_clients_read_back() -> None:
    assert u.account_of_user_uri("mimi://b.example/u/bob") == "bob@b.example"
    assert u.client_of_uri("mimi://b.example/d/dev1", "b.example") == "dev1"


@pytest.mark.parametrize("uri", [
    "mimi://a.example/g/AAEC",          # a group is no room
    "mimi://a.example/r/",              # no room id
    "mimi://a.example/r/AAEC/extra",
    "https://a.example/r/AAEC",
    "mimi:///r/AAEC",
])
def test_a_room_uri_of_another_shape_is_refused(uri: str) -> None:
    with pytest.raises(DecodeError):
        u.room_of_uri(uri)


@pytest.mark.parametrize("uri", ["mimi://a.example/r/AAEC", "mimi://a.example/g/",
                                 "mimi://a.example/g/AAEC/x"])
def test_a_group_uri_of_another_shape_is_refused(uri: str) -> None:
    with pytest.raises(DecodeError):
        u.group_of_uri(uri)


def test_a_client_of_another_provider_is_refused() -> None:
    with pytest.raises(DecodeError):
        u.client_of_uri("mimi://c.example/d/dev1", "b.example")
    with pytest.raises(DecodeError):
        u.client_of_uri("mimi://b.example/u/dev1", "b.example")
    with pytest.raises(DecodeError):
        u.account_of_user_uri("mimi://b.example/d/bob")
