-- Times are milliseconds since the Unix epoch; JSON documents are TEXT.

CREATE TABLE assets (
    id             TEXT PRIMARY KEY,
    status         TEXT NOT NULL,
    stage          TEXT,
    progress       DOUBLE PRECISION NOT NULL DEFAULT 0,
    source_key     TEXT NOT NULL,
    source_name    TEXT,
    source_size    BIGINT,
    template       TEXT NOT NULL,
    probe          TEXT,
    renditions     TEXT,
    output_prefix  TEXT,
    error_code     TEXT,
    error_message  TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    started_at     BIGINT,
    finished_at    BIGINT
);
CREATE INDEX assets_by_status ON assets (status, created_at);

CREATE TABLE tasks (
    id                TEXT PRIMARY KEY,
    asset_id          TEXT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    stage             TEXT NOT NULL,
    status            TEXT NOT NULL,
    attempts          BIGINT NOT NULL DEFAULT 0,
    max_attempts      BIGINT NOT NULL,
    run_after         BIGINT NOT NULL,
    lease_owner       TEXT,
    lease_expires_at  BIGINT,
    last_error        TEXT,
    output            TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    UNIQUE (asset_id, stage)
);
CREATE INDEX tasks_ready ON tasks (status, run_after);

-- The outbox every process appends to and the event stream and webhooks read.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    asset_id    TEXT,
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Source objects already imported by the watch, so each becomes an asset once.
CREATE TABLE imports (
    source_key  TEXT PRIMARY KEY,
    asset_id    TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
