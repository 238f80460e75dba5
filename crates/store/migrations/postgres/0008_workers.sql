-- The worker fleet: each worker (one claim loop of an `openvod serve` or `worker`
-- process) registers at start and is seen again at every heartbeat; the API shows the
-- fleet from here. `codecs` is a bit set of the video codecs its ffmpeg can encode
-- (1 H.264, 2 HEVC, 4 AV1); `codec_names` the same for people.
CREATE TABLE workers (
    id           TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          BIGINT NOT NULL,
    cores        BIGINT NOT NULL,
    ffmpeg       TEXT NOT NULL,
    codecs       BIGINT NOT NULL,
    codec_names  TEXT NOT NULL,
    listen       TEXT,
    state        TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    seen_at      BIGINT NOT NULL
);
CREATE INDEX workers_seen ON workers (seen_at);

-- The video codecs a task's worker must be able to encode (the same bit set): a worker
-- claims only tasks whose codecs its ffmpeg has. 0: any worker.
ALTER TABLE tasks ADD COLUMN codecs BIGINT NOT NULL DEFAULT 0;
