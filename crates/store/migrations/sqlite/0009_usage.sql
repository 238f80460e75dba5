-- What the origin served of each asset: bytes answered (Content-Length of 200 and 206
-- answers to GET, shield hits included), requests, and how many of them the shield
-- answered. Added to in batches by each origin process.
CREATE TABLE asset_usage (
    asset_id         TEXT PRIMARY KEY REFERENCES assets (id) ON DELETE CASCADE,
    served_bytes     BIGINT NOT NULL DEFAULT 0,
    served_requests  BIGINT NOT NULL DEFAULT 0,
    shield_hits      BIGINT NOT NULL DEFAULT 0,
    updated_at       BIGINT NOT NULL
);
