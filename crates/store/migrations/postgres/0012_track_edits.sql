-- Until when (ms) one change to an asset's tracks holds the asset: a second change waits
-- for it to end (or for this time to pass, when its server stopped). NULL: none.
ALTER TABLE assets ADD COLUMN tracks_edit_until_ms BIGINT;
