-- DRM content keys, sealed with the master key (AES-256-GCM) before they get here.
CREATE TABLE content_keys (
    -- 32 lowercase hex digits.
    kid         TEXT PRIMARY KEY,
    content_id  TEXT NOT NULL,
    -- "AUDIO", "SD", "HD" or "UHD".
    track_type  TEXT NOT NULL,
    -- "openvod" (one key per content id and track type) or "client" (a SPEKE client's KID).
    chosen_by   TEXT NOT NULL,
    -- nonce || ciphertext || tag
    sealed      BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX content_keys_by_content ON content_keys (content_id);
CREATE UNIQUE INDEX content_keys_one_per_track ON content_keys (content_id, track_type)
    WHERE chosen_by = 'openvod';
