-- The preview: a fast single rendition published while the ladder encodes. The
-- seconds of it published so far (NULL before its first segment); an asset with some
-- is 'playable' until it is 'ready'.
ALTER TABLE assets ADD COLUMN preview_seconds DOUBLE PRECISION;
