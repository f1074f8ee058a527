"""Scenario scripts that ts-mls 1.6.4 fails even against itself, and why.

Measured by `accord interop run` with two ts-mls peers (tests/interop/tsmls) on
SUITE (and OTHER_SUITES for three configs), both handshake modes, sampled role
assignments; test_tsmls_self.py re-runs
that measurement and checks that each script listed here fails, for the reason
given by `evidence` (a fragment of the failing RPC's status), and that every other
script passes. When Accord plays a role these scripts are still run: Accord against
Accord must pass them all.
"""

from __future__ import annotations

from dataclasses import dataclass

SUITE = 1  # MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519
# welcome_join, application and commit are also measured on these: the same scripts
# fail for the same reasons, every other script passes. 83 is ts-mls's
# MLS_256_XWING_AES256GCM_SHA512_Ed25519.
OTHER_SUITES = (2, 3, 4, 5, 6, 7, 83)


@dataclass(frozen=True, slots=True)
class Limitation:
    reason: str
    evidence: str  # appears in the error of every failing ts-mls-vs-ts-mls run


EMPTY_EXTERNAL_SENDERS = Limitation(
    "the script sets an external_senders extension with an empty list (type 5, data 0x00); "
    "ts-mls decodes that extension as one ExternalSender, not the vector of RFC 9420 "
    "12.1.8.1, so it cannot decode the empty list",
    "Could not decode external_senders",
)

EXTERNAL_SENDERS_VECTOR = Limitation(
    "addExternalSigner puts the signer into the group's external_senders extension, a "
    "vector of ExternalSender (RFC 9420 12.1.8.1); ts-mls decodes the extension as a "
    "single ExternalSender, so it rejects the extension and no external-sender proposal "
    "can follow",
    # ts-mls says "external_senders" or "external_sender extension" depending on
    # the RPC that meets the extension first.
    "Could not decode external_sender",
)

LIMITATIONS: dict[str, Limitation] = {
    "commit.json:group_context_extensions": EMPTY_EXTERNAL_SENDERS,
    "commit.json:all_together_alice_proposes": EMPTY_EXTERNAL_SENDERS,
    "commit.json:all_together_bob_proposes": EMPTY_EXTERNAL_SENDERS,
    "branch.json:with_extensions": EMPTY_EXTERNAL_SENDERS,
    "reinit.json:change_extensions": EMPTY_EXTERNAL_SENDERS,
    "external_proposals.json:external_add": EXTERNAL_SENDERS_VECTOR,
    "external_proposals.json:external_remove": EXTERNAL_SENDERS_VECTOR,
    "external_proposals.json:external_psk": EXTERNAL_SENDERS_VECTOR,
    "external_proposals.json:resumption_psk": EXTERNAL_SENDERS_VECTOR,
    "external_proposals.json:group_context_extensions": EXTERNAL_SENDERS_VECTOR,
    "external_proposals.json:multiple_external": EXTERNAL_SENDERS_VECTOR,
    "external_proposals.json:external_reinit": EXTERNAL_SENDERS_VECTOR,
    "external_join.json:with_psk": Limitation(
        "ts-mls 1.6.4's joinGroupExternal takes no PSKs, so an external commit cannot "
        "inject one; the peer answers ExternalJoin with psks UNIMPLEMENTED",
        "UNIMPLEMENTED: ts-mls 1.6.4 joinGroupExternal cannot inject PSKs",
    ),
    "deep_random.json:random": Limitation(
        "a joiner's ratchet-tree check in ts-mls requires every non-blank ancestor of an "
        "unmerged leaf to carry exactly the same unmerged_leaves list (RFC 9420 7.8 only "
        "requires each to list that leaf), so after commits that add members under "
        "different parents ts-mls rejects the tree it built itself (step 109)",
        "non-blank intermediate node must list leaf node in its unmerged_leaves",
    ),
}


def must_pass(label: str, with_tsmls: bool) -> bool:
    """Whether a run of script `label` has to pass.

    Runs without ts-mls (Accord against Accord) must pass every script; runs with
    ts-mls in some role must pass every script ts-mls passes against itself.
    """
    return not with_tsmls or label not in LIMITATIONS


# ---------------------------------------------------------------------------
# ts-mls deviations that only show when it meets Accord (ts-mls against itself
# agrees with its own encoding), and how the mixed runs get past them without
# Accord giving up RFC 9420 by default:
#
# - ECDSA keys: ts-mls 1.6.4's default keygen encodes ECDSA signature public keys
#   (suites 2, 5, 7) as compressed points; RFC 9420 5.1.1 asks for the uncompressed
#   SEC1 form, which Accord requires. ts-mls signs and verifies with either form and
#   takes the key pair from its caller (generateKeyPackageWithKey), so the peer
#   (tsmls/peer.mjs signatureKeys) hands it RFC-form keys. Nothing to excuse.
# - external_pub: ts-mls 1.6.4 reads the GroupInfo external_pub extension as the
#   bare HPKE key (fixed upstream in ts-mls PR #449, "Update external_pub codec to
#   use nested length prefix"); Accord writes the ExternalPub struct of 12.4.3.2.
#   The GroupInfo is signed, so the peer cannot rewrite it; the mixed runs start
#   Accord with the opt-in `--peer-quirk tsmls-external-pub` (bare key written,
#   both forms read), and test_accord_interop.py shows that without the quirk
#   ts-mls cannot join an Accord group externally, with this evidence:

BARE_EXTERNAL_PUB = Limitation(
    "ts-mls 1.6.4 reads the external_pub GroupInfo extension as the bare HPKE key; "
    "Accord writes the ExternalPub struct of RFC 9420 12.4.3.2 (a length-prefixed "
    "HPKEPublicKey) unless started with --peer-quirk tsmls-external-pub",
    "Invalid public key for the ciphersuite",
)

EXTERNAL_JOIN_SCRIPTS = ("external_join.json:normal", "external_join.json:removing_prior",
                         "external_join.json:with_external_tree", "external_join.json:with_more_members")


def mixed_excuse(label: str) -> Limitation | None:
    """The ts-mls limitation that may make a run of Accord with ts-mls fail, if any:
    only those ts-mls also fails against itself."""
    return LIMITATIONS.get(label)


def explains(limitation: Limitation, error: str | None) -> bool:
    return any(e in (error or "") for e in limitation.evidence.split("|"))
