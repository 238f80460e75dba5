-- Where an asset's objects are kept: 'hot' (the store's own class), 'archiving' (being
-- copied to the cold class, still served hot), 'cold' (answered 202 until restored) or
-- 'restoring' (being copied back). A mover holds the asset it moves by owner and until
-- a time (ms); a hold past its time is free for another mover.
ALTER TABLE assets ADD COLUMN storage TEXT NOT NULL DEFAULT 'hot';
ALTER TABLE assets ADD COLUMN storage_owner TEXT;
ALTER TABLE assets ADD COLUMN storage_until BIGINT;
-- What the archive copied (objects and bytes), checked against the cold copies before a
-- restore says the asset is hot again.
ALTER TABLE assets ADD COLUMN cold_objects BIGINT;
ALTER TABLE assets ADD COLUMN cold_bytes BIGINT;
-- When the asset last changed class (ms); NULL: never.
ALTER TABLE assets ADD COLUMN storage_changed_at BIGINT;
CREATE INDEX assets_by_storage ON assets (storage, status);
