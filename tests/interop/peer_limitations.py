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
# agrees with its own encoding). Measured with `accord interop run` against one
# Accord and one ts-mls server (tests/interop/test_accord_interop.py re-measures
# them): a mixed run of such a script may fail only with `evidence` in its error.

ECDSA_SUITES = (2, 5, 7)

COMPRESSED_ECDSA = Limitation(
    "ts-mls 1.6.4 encodes ECDSA signature public keys (suites 2, 5, 7) as compressed "
    "points; RFC 9420 5.1.1 asks for the uncompressed SEC1 form, which Accord requires, "
    "so Accord rejects ts-mls's leaves and GroupInfo signers on those suites",
    # Accord's errors: "... malformed public key (RFC 9420 7.3)" on a ts-mls leaf,
    # "GroupInfo signature does not verify" on a ts-mls-signed Welcome.
    "malformed public key|GroupInfo signature does not verify",
)

BARE_EXTERNAL_PUB = Limitation(
    "ts-mls 1.6.4 reads the external_pub GroupInfo extension as the bare HPKE key; "
    "Accord writes the ExternalPub struct of RFC 9420 12.4.3.2 (a length-prefixed "
    "HPKEPublicKey), so ts-mls cannot join an Accord group externally (Accord reads both "
    "forms, so the other direction works)",
    "Invalid public key for the ciphersuite",
)

# Scripts whose mixed runs may fail, with the evidence, on any suite.
MIXED_LIMITATIONS: dict[str, Limitation] = {
    "external_join.json:normal": BARE_EXTERNAL_PUB,
    "external_join.json:removing_prior": BARE_EXTERNAL_PUB,
    "external_join.json:with_external_tree": BARE_EXTERNAL_PUB,
    "external_join.json:with_more_members": BARE_EXTERNAL_PUB,
    # the runner changes to the lowest other shared suite: 2, an ECDSA suite
    "reinit.json:change_ciphersuite": COMPRESSED_ECDSA,
}


def mixed_excuse(label: str, suite: int) -> Limitation | None:
    """The ts-mls limitation that may make a run of Accord with ts-mls fail, if any."""
    if suite in ECDSA_SUITES:
        return COMPRESSED_ECDSA
    return LIMITATIONS.get(label) or MIXED_LIMITATIONS.get(label)


def explains(limitation: Limitation, error: str | None) -> bool:
    return any(e in (error or "") for e in limitation.evidence.split("|"))
