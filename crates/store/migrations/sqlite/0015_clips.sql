-- A clip: an asset made from a range of another one, as JSON ({"of", "start", "end",
-- "mode"}); NULL for an asset made from an upload. Its pipeline starts at the transcode
-- stage, which cuts the parent's renditions instead of encoding a source.
ALTER TABLE assets ADD COLUMN clip TEXT;
