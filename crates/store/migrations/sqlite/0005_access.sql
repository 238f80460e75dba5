-- Playback access per asset: 'public', 'signed', or NULL for the configured default.
ALTER TABLE assets ADD COLUMN playback TEXT;

-- Upload tokens are single use: the first request that presents one records it here,
-- with the upload it created.
CREATE TABLE upload_token_uses (
    token_id TEXT PRIMARY KEY,
    upload_id TEXT,
    used_at BIGINT NOT NULL
);
