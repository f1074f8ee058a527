"""Versioned schema of the provider store, written once for both dialects.

A migration is applied at most once, in order, inside one transaction; its
number is recorded in ``schema_migrations``. Add a migration, never edit one.

Privacy by construction (THREATS.md T11): ``messages`` has a ``sender`` column
that is set for handshake messages only (the hub must know who commits);
application messages are stored with ``sender`` NULL, and no table links a
posting key or nonce to a device or an account.
"""

from __future__ import annotations

from accord.storage.binding_sql import BINDING_MIGRATIONS
from accord.storage.consent_sent_sql import CONSENT_SENT_MIGRATIONS
from accord.storage.consent_sql import CONSENT_MIGRATIONS
from accord.storage.engine import Engine
from accord.storage.hub_sql import HUB_MIGRATIONS
from accord.storage.mimi_follow_sql import MIMI_FOLLOW_MIGRATIONS
from accord.storage.privacy_schema import PRIVACY_MIGRATIONS
from accord.storage.rendezvous_sql import RENDEZVOUS_MIGRATIONS

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
CREATE TABLE accounts (
    account TEXT PRIMARY KEY,
    created_at {BIGINT} NOT NULL
);
CREATE TABLE devices (
    device_id TEXT PRIMARY KEY,
    account TEXT NOT NULL REFERENCES accounts(account) ON DELETE CASCADE,
    signature_key {BLOB} NOT NULL UNIQUE,
    created_at {BIGINT} NOT NULL,
    next_seq {BIGINT} NOT NULL DEFAULT 0
);
CREATE INDEX devices_by_account ON devices(account);
CREATE TABLE challenges (
    nonce {BLOB} PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
    expires_at {BIGINT} NOT NULL
);
CREATE TABLE sessions (
    token_hash {BLOB} PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
    expires_at {BIGINT} NOT NULL
);
CREATE TABLE key_packages (
    id {AUTO_PK},
    device_id TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
    data {BLOB} NOT NULL,
    kp_ref {BLOB}
);
CREATE INDEX key_packages_by_device ON key_packages(device_id, id);
CREATE TABLE last_resort_key_packages (
    device_id TEXT PRIMARY KEY REFERENCES devices(device_id) ON DELETE CASCADE,
    data {BLOB} NOT NULL
);
CREATE TABLE mls_groups (
    group_id {BLOB} PRIMARY KEY,
    hub TEXT NOT NULL,
    epoch {BIGINT} NOT NULL,
    created_at {BIGINT} NOT NULL,
    updated_at {BIGINT} NOT NULL
);
CREATE TABLE group_members (
    group_id {BLOB} NOT NULL REFERENCES mls_groups(group_id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    PRIMARY KEY (group_id, device_id)
);
CREATE TABLE posting_keys (
    group_id {BLOB} NOT NULL REFERENCES mls_groups(group_id) ON DELETE CASCADE,
    epoch {BIGINT} NOT NULL,
    public_key {BLOB} NOT NULL,
    PRIMARY KEY (group_id, epoch)
);
CREATE TABLE post_nonces (
    group_id {BLOB} NOT NULL,
    nonce {BLOB} NOT NULL,
    expires_at {BIGINT} NOT NULL,
    PRIMARY KEY (group_id, nonce)
);
CREATE TABLE messages (
    msg_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    group_id {BLOB},
    epoch {BIGINT},
    sender TEXT,
    body {BLOB} NOT NULL,
    created_at {BIGINT} NOT NULL
);
CREATE INDEX messages_by_time ON messages(created_at);
CREATE TABLE queue (
    device_id TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
    seq {BIGINT} NOT NULL,
    msg_id TEXT NOT NULL REFERENCES messages(msg_id) ON DELETE CASCADE,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX queue_by_msg ON queue(msg_id);
CREATE TABLE blobs (
    cap_hash {BLOB} PRIMARY KEY,
    sha256 {BLOB} NOT NULL,
    size {BIGINT} NOT NULL,
    created_at {BIGINT} NOT NULL
);
CREATE INDEX blobs_by_sha ON blobs(sha256);
CREATE TABLE blob_data (
    sha256 {BLOB} PRIMARY KEY,
    data {BLOB} NOT NULL
);
""",
    ),
    (
        2,
        # Federation (issue 6): see accord.storage.federation_sql.
        """
CREATE TABLE fed_nonces (
    peer TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires_at {BIGINT} NOT NULL,
    PRIMARY KEY (peer, nonce)
);
CREATE INDEX fed_nonces_by_expiry ON fed_nonces(expires_at);
CREATE TABLE fed_remote_devices (
    device_id TEXT PRIMARY KEY,
    domain TEXT NOT NULL
);
CREATE TABLE fed_outbox (
    id {AUTO_PK},
    peer TEXT NOT NULL,
    item {BLOB} NOT NULL,
    created_at {BIGINT} NOT NULL
);
CREATE INDEX fed_outbox_by_peer ON fed_outbox(peer, id);
CREATE TABLE fed_peers (
    peer TEXT PRIMARY KEY,
    failures {BIGINT} NOT NULL,
    next_attempt_at {BIGINT} NOT NULL
);
CREATE TABLE fed_blocks (
    account TEXT NOT NULL REFERENCES accounts(account) ON DELETE CASCADE,
    target TEXT NOT NULL,
    created_at {BIGINT} NOT NULL,
    PRIMARY KEY (account, target)
);
CREATE TABLE fed_contacts (
    account TEXT NOT NULL REFERENCES accounts(account) ON DELETE CASCADE,
    contact TEXT NOT NULL,
    PRIMARY KEY (account, contact)
);
CREATE TABLE fed_requests (
    account TEXT NOT NULL REFERENCES accounts(account) ON DELETE CASCADE,
    group_id {BLOB} NOT NULL,
    from_account TEXT NOT NULL,
    msg_id TEXT NOT NULL,
    created_at {BIGINT} NOT NULL,
    PRIMARY KEY (account, group_id)
);
""",
    ),
    (
        3,
        # The hub follows each member's MLS leaf index (RFC 9420 7.8) to check
        # commit senders and Remove proposals; NULL where it cannot know it.
        """
ALTER TABLE group_members ADD COLUMN leaf_index {BIGINT};
""",
    ),
    (
        100,
        # Key transparency (issue 7): see accord.storage.transparency_sql.
        """
CREATE TABLE kt_entries (
    position {BIGINT} PRIMARY KEY,
    data {BLOB} NOT NULL
);
CREATE TABLE kt_nodes (
    level {BIGINT} NOT NULL,
    idx {BIGINT} NOT NULL,
    hash {BLOB} NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TABLE kt_peer_heads (
    peer TEXT NOT NULL,
    size {BIGINT} NOT NULL,
    head {BLOB} NOT NULL,
    cosignature {BLOB} NOT NULL,
    seen_at {BIGINT} NOT NULL,
    PRIMARY KEY (peer, size)
);
""",
    ),
    (
        4,
        # Federation (issue 6): a device whose owner blocked the inviter of a
        # group never gets that group's messages (accord.federation.consent).
        """
CREATE TABLE fed_refused (
    group_id {BLOB} NOT NULL,
    device_id TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, device_id)
);
""",
    ),
    (
        1701,
        # Issue 17 (T14): the owner learns that its last-resort KeyPackage was
        # handed out (and rotates it), and how often a claim limit caused that.
        """
ALTER TABLE last_resort_key_packages ADD COLUMN used_at {BIGINT};
ALTER TABLE last_resort_key_packages ADD COLUMN withheld {BIGINT} NOT NULL DEFAULT 0;
""",
    ),
)


async def migrate(engine: Engine) -> int:
    """Bring the schema up to date; return the version now in force."""
    async with engine.transaction() as tx:
        if engine.dialect.name == "postgresql":
            # Several nodes may start together on one database: one migrates.
            await tx.execute("SELECT pg_advisory_xact_lock(7305019)")
        await tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (version {BIGINT} PRIMARY KEY, applied_at {BIGINT} NOT NULL)"
        )
        rows = await tx.fetchall("SELECT version FROM schema_migrations")
        applied = {int(r[0]) for r in rows}
        # Every missing migration is applied, not only those above the highest:
        # migrations written in parallel branches may land out of order.
        for version, script in sorted(MIGRATIONS):
            if version in applied:
                continue
            for statement in script.split(";"):
                if statement.strip():
                    await tx.execute(statement)
            await tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)", version
            )
            applied.add(version)
    return max(applied)


# Issue 11 (privacy and abuse resistance) numbers its migrations from 200.
MIGRATIONS = MIGRATIONS + PRIVACY_MIGRATIONS
# Device linking's rendezvous slots (accord.server.rendezvous) number from 300.
MIGRATIONS = MIGRATIONS + RENDEZVOUS_MIGRATIONS
# KeyPackages per cipher suite (post-quantum by default, T10) number from 400.
MIGRATIONS = MIGRATIONS + (
    (
        400,
        # A device offers KeyPackages in several cipher suites (RFC 9420 10: a
        # KeyPackage is for one suite); a claim asks for one suite, and each
        # device keeps one last-resort KeyPackage per suite (16.8).
        """
ALTER TABLE key_packages ADD COLUMN cipher_suite {BIGINT} NOT NULL DEFAULT 1;
CREATE INDEX key_packages_by_device_suite ON key_packages(device_id, cipher_suite, id);
CREATE TABLE last_resort_key_packages_by_suite (
    device_id TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
    cipher_suite {BIGINT} NOT NULL,
    data {BLOB} NOT NULL,
    PRIMARY KEY (device_id, cipher_suite)
);
INSERT INTO last_resort_key_packages_by_suite (device_id, cipher_suite, data)
    SELECT device_id, 1, data FROM last_resort_key_packages;
DROP TABLE last_resort_key_packages;
ALTER TABLE last_resort_key_packages_by_suite RENAME TO last_resort_key_packages;
""",
    ),
)
# Issue 17 (the hub's acceptance path) numbers its migrations from 1700.
MIGRATIONS = MIGRATIONS + HUB_MIGRATIONS
# Issue 17: device bindings confirmed by their owner's provider, group admission (1750).
MIGRATIONS = MIGRATIONS + BINDING_MIGRATIONS
# Issue 18: sealed first-contact requests (1800).
MIGRATIONS = MIGRATIONS + CONSENT_MIGRATIONS
# Issue 22: what a follower keeps to take a MIMI hub's fan-out (2250).
MIGRATIONS = MIGRATIONS + MIMI_FOLLOW_MIGRATIONS
# Issue 22: the MIMI consent requests a provider sent for its users (2291).
MIGRATIONS = MIGRATIONS + CONSENT_SENT_MIGRATIONS
