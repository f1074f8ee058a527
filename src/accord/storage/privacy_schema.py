"""Schema of issue 11's provider tables (migrations 200 and up), see privacy_sql.

Appended to :data:`accord.storage.schema.MIGRATIONS`. Nothing here names the
sender of an application message: franking tags are keyed by message id
only, and the hub's hash chain covers handshake messages.
"""

from __future__ import annotations

PRIVACY_MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        200,
        # T13: franking tags, the hub's franking key, reports, moderation.
        """
CREATE TABLE provider_secrets (
    name TEXT PRIMARY KEY,
    value {BLOB} NOT NULL
);
CREATE TABLE franking_tags (
    msg_id TEXT PRIMARY KEY,
    tag {BLOB} NOT NULL,
    expires_at {BIGINT} NOT NULL
);
CREATE INDEX franking_tags_by_expiry ON franking_tags(expires_at);
CREATE TABLE abuse_reports (
    id {AUTO_PK},
    group_id {BLOB} NOT NULL,
    reporter TEXT NOT NULL,
    alleged_sender TEXT,
    content {BLOB} NOT NULL,
    message_time {BIGINT} NOT NULL,
    created_at {BIGINT} NOT NULL,
    status TEXT NOT NULL
);
CREATE TABLE account_actions (
    account TEXT PRIMARY KEY REFERENCES accounts(account) ON DELETE CASCADE,
    action TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at {BIGINT} NOT NULL
);
CREATE TABLE refused_peers (
    peer TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    created_at {BIGINT} NOT NULL
);
""",
    ),
    (
        201,
        # T17: one encrypted backup per account (opaque to the provider).
        """
CREATE TABLE account_backups (
    account TEXT PRIMARY KEY REFERENCES accounts(account) ON DELETE CASCADE,
    data {BLOB} NOT NULL,
    updated_at {BIGINT} NOT NULL
);
""",
    ),
    (
        202,
        # T07: the hub's hash chain over each group's commits (seq = the epoch).
        """
CREATE TABLE fork_chain (
    msg_id TEXT PRIMARY KEY,
    group_id {BLOB} NOT NULL,
    seq {BIGINT} NOT NULL,
    chain {BLOB} NOT NULL
);
CREATE INDEX fork_chain_by_group ON fork_chain(group_id, seq);
""",
    ),
    (
        203,
        # T17: the provider's copy is also fetched by a capability that only
        # the recovery key derives (a person with no device left).
        """
ALTER TABLE account_backups ADD COLUMN fetch_hash {BLOB};
CREATE INDEX account_backups_by_fetch ON account_backups(fetch_hash);
""",
    ),
    (
        204,
        # T13, MIMI 5.9 (issue 22): the reporter's reasonCode and note, kept with the report.
        """
ALTER TABLE abuse_reports ADD COLUMN reason_code {BIGINT} NOT NULL DEFAULT 0;
ALTER TABLE abuse_reports ADD COLUMN note TEXT NOT NULL DEFAULT '';
""",
    ),
)
