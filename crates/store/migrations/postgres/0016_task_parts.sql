-- Chunked encoding: a stage may run as several tasks of one asset, numbered by `part`
-- (0 for a stage that runs as one task), and each reports its own progress, of which
-- the asset's is the mean.
ALTER TABLE tasks ADD COLUMN part BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN progress DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE tasks DROP CONSTRAINT tasks_asset_id_stage_key;
ALTER TABLE tasks ADD CONSTRAINT tasks_asset_id_stage_part_key UNIQUE (asset_id, stage, part);
