-- Viewers' sessions as each origin saw them: CMCD on requests and players' own reports,
-- folded by the origin and written whole (so a retried write changes nothing). An asset's
-- quality of experience merges the rows of each session across origins.
CREATE TABLE qoe_sessions (
    asset_id    TEXT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    session_id  TEXT NOT NULL,
    origin_id   TEXT NOT NULL,
    first_ms    BIGINT NOT NULL,
    last_ms     BIGINT NOT NULL,
    -- The folded figures (openvod_qoe::SessionFigures as JSON).
    figures     TEXT NOT NULL,
    PRIMARY KEY (asset_id, session_id, origin_id)
);
CREATE INDEX qoe_sessions_by_start ON qoe_sessions (asset_id, first_ms);
CREATE INDEX qoe_sessions_by_age ON qoe_sessions (last_ms);
