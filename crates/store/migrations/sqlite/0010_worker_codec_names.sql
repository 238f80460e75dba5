-- A worker's codec names are derived from its codec bit set where they are shown; the
-- copy kept beside it goes.
ALTER TABLE workers DROP COLUMN codec_names;
