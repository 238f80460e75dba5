-- Chunked encoding: a stage may run as several tasks of one asset, numbered by `part`
-- (0 for a stage that runs as one task), and each reports its own progress, of which
-- the asset's is the mean. SQLite cannot change a UNIQUE constraint in place, so the
-- table is made again.
CREATE TABLE tasks_new (
    id                TEXT PRIMARY KEY,
    asset_id          TEXT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    stage             TEXT NOT NULL,
    part              BIGINT NOT NULL DEFAULT 0,
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
    codecs            BIGINT NOT NULL DEFAULT 0,
    progress          DOUBLE PRECISION NOT NULL DEFAULT 0,
    UNIQUE (asset_id, stage, part)
);
INSERT INTO tasks_new (id, asset_id, stage, status, attempts, max_attempts, run_after, lease_owner,
                       lease_expires_at, last_error, output, created_at, updated_at, codecs)
SELECT id, asset_id, stage, status, attempts, max_attempts, run_after, lease_owner,
       lease_expires_at, last_error, output, created_at, updated_at, codecs FROM tasks;
DROP TABLE tasks;
ALTER TABLE tasks_new RENAME TO tasks;
CREATE INDEX tasks_ready ON tasks (status, run_after);
