-- What is wrong with an asset's source but did not stop it (a JSON array of
-- {"code", "message"}, set by the transcode stage); NULL before that stage has run.
ALTER TABLE assets ADD COLUMN warnings TEXT;
