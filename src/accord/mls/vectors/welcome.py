"""welcome.json: open a Welcome, verify its GroupInfo signature and confirmation tag.

RFC 9420 12.4.3.1; the verification steps are those of the test-vector
specification's "Welcome" section.
"""

from __future__ import annotations

from typing import Any

from accord.mls.codec import decode
from accord.mls.group.welcome_crypto import (
    open_group_info,
    open_group_secrets,
    verify_group_info,
    welcome_secret_of,
)
from accord.mls.key_schedule import epoch_from_joiner
from accord.mls.structs import KeyPackage, MLSMessage, Welcome
from accord.mls.suites import get_suite
from accord.mls.transcript import verify_confirmation_tag
from accord.mls.vectors import VectorMismatch, expect, h


def check(entry: dict[str, Any]) -> None:
    suite = get_suite(int(entry["cipher_suite"]))
    kp_msg: MLSMessage = decode(MLSMessage, h(entry["key_package"]))
    w_msg: MLSMessage = decode(MLSMessage, h(entry["welcome"]))
    if not isinstance(kp_msg.message, KeyPackage) or not isinstance(w_msg.message, Welcome):
        raise VectorMismatch("key_package / welcome: wrong wire formats")
    kp, welcome = kp_msg.message, w_msg.message
    expect("welcome.cipher_suite", welcome.cipher_suite, suite.id)
    ref = suite.key_package_ref(kp.to_bytes())
    secrets = open_group_secrets(suite, welcome, ref, h(entry["init_priv"]))
    # The vector uses no PSKs: psk_secret is the zero vector.
    welcome_secret = welcome_secret_of(suite, secrets.joiner_secret, None)
    info = open_group_info(suite, welcome_secret, welcome.encrypted_group_info)
    verify_group_info(suite, info, h(entry["signer_pub"]))
    context = info.group_context
    epoch = epoch_from_joiner(suite, secrets.joiner_secret, None, context.to_bytes())
    verify_confirmation_tag(
        suite, epoch.confirmation_key, context.confirmed_transcript_hash, info.confirmation_tag
    )
