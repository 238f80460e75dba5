-- The per-title analysis of an asset (sample points, hull and chosen rungs, as JSON), set
-- by the transcode stage of a per-title template; NULL for a fixed ladder.
ALTER TABLE assets ADD COLUMN ladder TEXT;
