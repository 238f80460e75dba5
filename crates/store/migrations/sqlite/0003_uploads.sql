-- tus resumable uploads: received bytes are stored as parts, joined when complete.
CREATE TABLE uploads (
    id          TEXT PRIMARY KEY,
    length      BIGINT NOT NULL,
    received    BIGINT NOT NULL,
    -- JSON array of the part keys, in order.
    parts       TEXT NOT NULL,
    name        TEXT,
    template    TEXT NOT NULL,
    asset_id    TEXT,
    expires_at  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX uploads_by_expiry ON uploads (expires_at);
