-- The time of an asset's poster frame, ms, set through the API; NULL: the frame chosen
-- with the encode.
ALTER TABLE assets ADD COLUMN poster_time_ms BIGINT;
