"""The posting key component of a commit's GroupInfo (``accord.wire.posting_component``):
what a committer writes the hub reads back, through the GroupInfo's own encoding, and
malformed content is a typed error (422), never a crash."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import CryptoError, ValidationError
from accord.mls import group as g
from accord.mls.structs import Credential, GroupInfo
from accord.mls.structs.credential import Extension
from accord.mls.structs.enums import ExtensionType
from accord.mls.suites import get_suite
from accord.wire.posting_component import (
    POSTING_KEY,
    app_data_extension,
    posting_key_component,
    posting_key_of,
)

SUITE = get_suite(1)
NOW = 1_700_000_000


def _info(*extra: Extension) -> GroupInfo:
    priv, _ = SUITE.generate_signature_key_pair()
    state = g.create_group(SUITE, b"room", Credential.basic(b"a@alpha.test/d1"), priv, NOW)
    info = g.group_info(state, extra=extra).message
    assert isinstance(info, GroupInfo)
    return info


INFO = _info()
components = st.dictionaries(st.integers(0, 0xFFFF).filter(lambda c: c != POSTING_KEY),
                             st.binary(max_size=40), max_size=4)


@settings(max_examples=60, deadline=None)
@given(key=st.binary(min_size=32, max_size=32), others=components)
def test_the_posting_key_round_trips_beside_other_components(
    key: bytes, others: dict[int, bytes]
) -> None:
    ext = app_data_extension([posting_key_component(key), *others.items()])
    info = dataclasses.replace(INFO, extensions=(*INFO.extensions, ext))
    assert posting_key_of(GroupInfo.from_bytes(info.to_bytes())) == key


@settings(max_examples=30, deadline=None)
@given(others=components)
def test_no_posting_key_is_none(others: dict[int, bytes]) -> None:
    assert posting_key_of(INFO) is None
    info = dataclasses.replace(INFO, extensions=(*INFO.extensions,
                                                 app_data_extension(list(others.items()))))
    assert posting_key_of(info) is None


def test_the_committers_signature_covers_the_component() -> None:
    from accord.mls.group.welcome_crypto import verify_group_info

    priv, pub = SUITE.generate_signature_key_pair()
    state = g.create_group(SUITE, b"room", Credential.basic(b"a@alpha.test/d1"), priv, NOW)
    info = g.group_info(state, extra=(app_data_extension([posting_key_component(b"k" * 32)]),))
    signed = info.message
    assert isinstance(signed, GroupInfo)
    verify_group_info(SUITE, signed, pub)
    forged = dataclasses.replace(signed, extensions=tuple(
        app_data_extension([(POSTING_KEY, b"x" * 32)])
        if e.extension_type == ExtensionType.APP_DATA_DICTIONARY else e
        for e in signed.extensions))
    with pytest.raises(CryptoError):
        verify_group_info(SUITE, forged, pub)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=64))
def test_malformed_content_is_a_validation_error(data: bytes) -> None:
    """Any bytes as the dictionary, or as the key's data: a key, None or a ValidationError."""
    for ext in (Extension(ExtensionType.APP_DATA_DICTIONARY, data),
                app_data_extension([(POSTING_KEY, data)])):
        info = dataclasses.replace(INFO, extensions=(*INFO.extensions, ext))
        try:
            found = posting_key_of(info)
        except ValidationError:
            continue
        assert found is None or len(found) == 32


@pytest.mark.parametrize(("extensions", "words"), [
    ((app_data_extension([(POSTING_KEY, b"k" * 31)]),), "not 32 octets"),
    ((app_data_extension([(POSTING_KEY, b"k" * 33)]),), "not 32 octets"),
    ((app_data_extension([(POSTING_KEY, b"")]),), "not 32 octets"),
    ((Extension(ExtensionType.APP_DATA_DICTIONARY, b"\x05\x00"),), "does not decode"),
    # entries out of order (draft-ietf-mls-extensions 4.6)
    ((Extension(ExtensionType.APP_DATA_DICTIONARY,
                bytes.fromhex("08") + bytes.fromhex("ac01") + b"\x01k"
                + bytes.fromhex("0001") + b"\x01k"),), "does not decode"),
    ((app_data_extension([]), app_data_extension([])), "one app_data_dictionary"),
])
def test_bad_input_is_refused(extensions: tuple[Extension, ...], words: str) -> None:
    info = dataclasses.replace(INFO, extensions=(*INFO.extensions, *extensions))
    with pytest.raises(ValidationError, match=words):
        posting_key_of(info)


def test_a_committer_writes_only_32_octet_keys() -> None:
    with pytest.raises(ValidationError):
        posting_key_component(b"short")
