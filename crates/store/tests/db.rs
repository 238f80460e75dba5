//! The metadata and job database, the same suite on SQLite and on PostgreSQL.
//!
//! PostgreSQL comes from `OPENVOD_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); each test works in a schema of its own.
//! Without a reachable server the PostgreSQL half is skipped with a loud message, except
//! under `CI=true`, where it fails.

use std::collections::HashSet;
use std::time::Duration;

use openvod_store::{
    AssetStatus, Db, NewAsset, PartTask, Previews, QoeSessionRow, ServedUsage, Stage, StageOutcome,
    StorageState, TaskFailure, TaskStatus, WorkerInfo, WorkerState,
};

mod common;

static SCHEMA_SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Both databases, fresh.
async fn databases() -> (Vec<(&'static str, Db)>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Db::connect(&format!("sqlite://{}/meta.db", dir.path().display()))
        .await
        .unwrap();
    let mut dbs = vec![("sqlite", sqlite)];
    if let Some(pg) = postgres().await {
        dbs.push(("postgres", pg));
    }
    (dbs, dir)
}

async fn postgres() -> Option<Db> {
    let base = std::env::var("OPENVOD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!(
        "t_{}_{}_{}",
        std::process::id(),
        openvod_store::now_ms(),
        SCHEMA_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let admin = match Db::connect_admin(&base).await {
        Ok(db) => db,
        Err(e) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("PostgreSQL is required in CI and is not reachable at {base}: {e}");
            }
            eprintln!("\n*** SKIPPED: PostgreSQL half of this test: {base} is not reachable ({e}). Set OPENVOD_TEST_POSTGRES_URL. ***\n");
            return None;
        }
    };
    drop_old_schemas(&admin).await;
    admin
        .execute_raw(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(
        Db::connect(&format!("{base}{sep}options=-c%20search_path%3D{schema}"))
            .await
            .unwrap(),
    )
}

/// Drops the schemas of test runs more than an hour old, so the database does not fill up.
async fn drop_old_schemas(admin: &Db) {
    let hour_ago = openvod_store::now_ms() - 3_600_000;
    for schema in admin.schemas_like("t_%").await.unwrap() {
        let started: i64 = schema
            .split('_')
            .nth(2)
            .and_then(|t| t.parse().ok())
            .unwrap_or(i64::MAX);
        if started < hour_ago {
            let _ = admin
                .execute_raw(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await;
        }
    }
}

fn new_asset(key: &str) -> NewAsset {
    NewAsset {
        source_key: key.into(),
        source_name: Some("movie.mov".into()),
        source_size: Some(1234),
        template: "default".into(),
    }
}

const LEASE: Duration = Duration::from_secs(30);

/// A worker whose ffmpeg encodes every codec: every bit of the set.
const EVERY_CODEC: i64 = -1;
/// The codec bits tasks and workers carry (1 H.264, 2 HEVC, 4 AV1).
const H264: i64 = 1;
const AV1: i64 = 4;

fn worker(id: &str, codecs: i64) -> WorkerInfo {
    WorkerInfo {
        id: id.into(),
        host: "host-a".into(),
        pid: 42,
        cores: 2,
        ffmpeg: "ffmpeg version 7.1".into(),
        codecs,
        listen: Some("127.0.0.1:9100".into()),
    }
}

#[tokio::test]
async fn one_tracks_edit_at_a_time_and_each_change_is_a_new_version() {
    let (dbs, _dir) = databases().await;
    for (name, db) in dbs {
        let asset = db.create_asset(new_asset("a/tracks.mov"), 3).await.unwrap();
        let later = openvod_store::now_ms() + 60_000;
        assert!(
            db.begin_tracks_edit(&asset.id, later).await.unwrap(),
            "{name}"
        );
        assert!(
            !db.begin_tracks_edit(&asset.id, later).await.unwrap(),
            "{name}: a second change waits"
        );
        db.end_tracks_edit(&asset.id).await.unwrap();
        // A claim whose holder stopped lapses.
        let past = openvod_store::now_ms() - 1;
        assert!(
            db.begin_tracks_edit(&asset.id, past).await.unwrap(),
            "{name}"
        );
        assert!(
            db.begin_tracks_edit(&asset.id, later).await.unwrap(),
            "{name}: taken over"
        );
        db.end_tracks_edit(&asset.id).await.unwrap();
        assert!(
            !db.begin_tracks_edit("0123456789abcdef0123456789abcdef", later)
                .await
                .unwrap(),
            "{name}: no such asset"
        );

        // Two changes within one millisecond are still two versions.
        let renditions = serde_json::json!([{"name": "subs-es", "kind": "subtitles"}]);
        let warning = serde_json::json!({"code": "cues_past_end", "message": "1 cue"});
        let first = db
            .set_tracks(&asset.id, &renditions, std::slice::from_ref(&warning))
            .await
            .unwrap();
        let second = db.set_tracks(&asset.id, &renditions, &[]).await.unwrap();
        assert!(first.updated_at > asset.updated_at, "{name}");
        assert!(second.updated_at > first.updated_at, "{name}");
        assert_eq!(first.renditions, Some(renditions.clone()), "{name}");
        assert_eq!(first.warnings, vec![warning], "{name}");
        assert!(second.warnings.is_empty(), "{name}");
        assert!(db
            .set_tracks("0123456789abcdef0123456789abcdef", &renditions, &[])
            .await
            .is_err());
    }
}

#[tokio::test]
async fn assets_move_between_classes_under_one_holder_at_a_time() {
    let (dbs, _dir) = databases().await;
    for (name, db) in dbs {
        let old = common::ready_asset(&db, "a/old.mov").await;
        // Another asset of the same source: a shared source stays hot.
        let twin = common::ready_asset(&db, "a/old.mov").await;
        let queued = db.create_asset(new_asset("a/queued.mov"), 3).await.unwrap();
        assert_eq!(
            db.other_assets_of_source("a/old.mov", &twin.id)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            db.other_assets_of_source("a/queued.mov", &queued.id)
                .await
                .unwrap(),
            0
        );
        assert_eq!(old.storage, StorageState::Hot, "{name}");
        let later = openvod_store::now_ms() + 60_000;
        // Only ready assets are archived, least recently used first, and never one
        // served since the cutoff.
        assert!(!db.begin_archive(&queued.id, "m1", later).await.unwrap());
        db.add_served(&[(twin.id.clone(), ServedUsage::default())])
            .await
            .unwrap();
        assert_eq!(
            db.assets_unused_since(later, 10).await.unwrap(),
            vec![old.id.clone(), twin.id.clone()],
            "{name}"
        );
        assert!(db
            .assets_unused_since(old.finished_at.unwrap(), 10)
            .await
            .unwrap()
            .is_empty());

        // One mover at a time; the asset is served while it is archived.
        assert!(
            db.begin_archive(&old.id, "m1", later).await.unwrap(),
            "{name}"
        );
        assert!(
            !db.begin_archive(&old.id, "m2", later).await.unwrap(),
            "{name}"
        );
        let a = db.asset(&old.id).await.unwrap().unwrap();
        assert_eq!(a.storage, StorageState::Archiving);
        assert!(a.storage.is_served());
        assert!(!db.renew_storage_hold(&old.id, "m2", later).await.unwrap());
        assert!(db.renew_storage_hold(&old.id, "m1", later).await.unwrap());
        // Served during the copy: it stays hot.
        let since = openvod_store::now_ms();
        let served = ServedUsage {
            bytes: 10,
            requests: 1,
            shield_hits: 0,
        };
        db.add_served(&[(old.id.clone(), served)]).await.unwrap();
        assert_eq!(
            db.finish_archive(&old.id, "m1", since, (3, 30), later)
                .await
                .unwrap(),
            Some(StorageState::Hot),
            "{name}"
        );
        // Not served since: it goes cold, and only its holder commits; the hold stays
        // while the hot copies are removed.
        assert!(db.begin_archive(&old.id, "m1", later).await.unwrap());
        assert_eq!(
            db.finish_archive(&old.id, "m2", 0, (3, 30), later)
                .await
                .unwrap(),
            None
        );
        let since = openvod_store::now_ms() + 1;
        assert_eq!(
            db.finish_archive(&old.id, "m1", since, (3, 30), later)
                .await
                .unwrap(),
            Some(StorageState::Cold),
            "{name}"
        );
        let a = db.asset(&old.id).await.unwrap().unwrap();
        assert_eq!(a.storage, StorageState::Cold);
        assert_eq!(db.cold_copied(&old.id).await.unwrap(), Some((3, 30)));
        assert!(!a.storage.is_served());
        // A cold asset's tracks do not change.
        assert!(!db.begin_tracks_edit(&old.id, later).await.unwrap());

        // A request makes it `restoring` once; no mover takes it while the archive still
        // holds it; then one does, and only its holder commits.
        for _ in 0..2 {
            assert_eq!(
                db.request_restore(&old.id).await.unwrap(),
                Some(StorageState::Restoring)
            );
        }
        assert_eq!(
            db.request_restore("0123456789abcdef0123456789abcdef")
                .await
                .unwrap(),
            None
        );
        assert_eq!(db.claim_restore("r1", later).await.unwrap(), None, "{name}");
        assert!(db.renew_storage_hold(&old.id, "m1", later).await.unwrap());
        db.release_storage_hold(&old.id, "m1").await.unwrap();
        assert_eq!(
            db.claim_restore("r1", later).await.unwrap(),
            Some(old.id.clone())
        );
        assert_eq!(db.claim_restore("r2", later).await.unwrap(), None, "{name}");
        // A restore given back is taken again once its time comes.
        db.postpone_restore(&old.id, "r1", openvod_store::now_ms() - 1)
            .await
            .unwrap();
        assert_eq!(
            db.claim_restore("r2", later).await.unwrap(),
            Some(old.id.clone())
        );
        assert!(
            !db.finish_restore(&old.id, "r1", later).await.unwrap(),
            "{name}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
        let before_restore = openvod_store::now_ms();
        assert!(
            db.finish_restore(&old.id, "r2", later).await.unwrap(),
            "{name}"
        );
        assert_eq!(
            db.asset(&old.id).await.unwrap().unwrap().storage,
            StorageState::Hot
        );
        assert_eq!(
            db.request_restore(&old.id).await.unwrap(),
            Some(StorageState::Hot)
        );
        // Hot, but held while the restore removes the cold copies: no archive yet, and
        // a restored asset is not "unused" whatever its viewers did before.
        assert!(
            !db.begin_archive(&old.id, "m1", later).await.unwrap(),
            "{name}"
        );
        db.release_storage_hold(&old.id, "r2").await.unwrap();
        assert!(!db
            .assets_unused_since(before_restore, 10)
            .await
            .unwrap()
            .contains(&old.id));
        // Nor while its tracks change.
        assert!(db.begin_tracks_edit(&old.id, later).await.unwrap());
        assert!(
            !db.begin_archive(&old.id, "m1", later).await.unwrap(),
            "{name}"
        );
        db.end_tracks_edit(&old.id).await.unwrap();

        // An archive whose mover stopped is taken over, then given back hot.
        let past = openvod_store::now_ms() - 1;
        assert!(db.begin_archive(&old.id, "m3", past).await.unwrap());
        assert_eq!(
            db.take_stale_archives("m4", later).await.unwrap(),
            vec![old.id.clone()]
        );
        assert!(db
            .take_stale_archives("m5", later)
            .await
            .unwrap()
            .is_empty());
        assert!(!db.abandon_archive(&old.id, "m3").await.unwrap());
        assert!(db.abandon_archive(&old.id, "m4").await.unwrap());
        assert_eq!(
            db.asset(&old.id).await.unwrap().unwrap().storage,
            StorageState::Hot,
            "{name}"
        );
        assert!(db
            .count_assets_by_storage()
            .await
            .unwrap()
            .contains(&(StorageState::Hot, 2)));

        // The events say what happened.
        let kinds: Vec<String> = db
            .events_after(0, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.asset_id.as_deref() == Some(old.id.as_str()))
            .map(|e| e.kind)
            .collect();
        for kind in ["asset.archived", "asset.restoring", "asset.restored"] {
            assert_eq!(
                kinds.iter().filter(|k| *k == kind).count(),
                1,
                "{name}: {kinds:?}"
            );
        }
    }
}

#[tokio::test]
async fn served_bytes_add_up_per_asset_and_skip_deleted_assets() {
    let (dbs, _dir) = databases().await;
    for (name, db) in dbs {
        let asset = db.create_asset(new_asset("a/served.mov"), 3).await.unwrap();
        assert_eq!(db.served(&asset.id).await.unwrap(), ServedUsage::default());
        let some = ServedUsage {
            bytes: 1_000,
            requests: 3,
            shield_hits: 1,
        };
        let batch = vec![
            (asset.id.clone(), some),
            ("0123456789abcdef0123456789abcdef".to_string(), some),
        ];
        db.add_served(&batch).await.unwrap();
        db.add_served(&batch[..1]).await.unwrap();
        assert_eq!(
            db.served(&asset.id).await.unwrap(),
            ServedUsage {
                bytes: 2_000,
                requests: 6,
                shield_hits: 2
            },
            "{name}"
        );
        assert_eq!(
            db.served("0123456789abcdef0123456789abcdef").await.unwrap(),
            ServedUsage::default(),
            "{name}: no such asset, nothing kept"
        );
    }
}

#[tokio::test]
async fn qoe_sessions_are_written_whole_per_origin_and_age_out() {
    let (dbs, _dir) = databases().await;
    for (name, db) in dbs {
        let asset = db.create_asset(new_asset("a/qoe.mov"), 3).await.unwrap();
        let row = |session: &str, origin: &str, first_ms: i64, figures: &str| QoeSessionRow {
            asset_id: asset.id.clone(),
            session_id: session.into(),
            origin_id: origin.into(),
            first_ms,
            last_ms: first_ms + 10,
            figures: figures.into(),
        };
        let mut gone = row("s", "o", 1, "{}");
        gone.asset_id = "0123456789abcdef0123456789abcdef".into();
        db.put_qoe_sessions(&[
            row("s1", "o1", 1_000, "a"),
            row("s1", "o2", 1_000, "b"),
            gone,
        ])
        .await
        .unwrap();
        // Written again by the same origin: replaced, not added.
        db.put_qoe_sessions(&[row("s1", "o1", 1_000, "a2"), row("s2", "o1", 2_000, "c")])
            .await
            .unwrap();
        let got = db.qoe_sessions(&asset.id, 0, 100).await.unwrap();
        let mut seen: Vec<_> = got
            .iter()
            .map(|r| {
                (
                    r.session_id.as_str(),
                    r.origin_id.as_str(),
                    r.figures.as_str(),
                )
            })
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [("s1", "o1", "a2"), ("s1", "o2", "b"), ("s2", "o1", "c")],
            "{name}"
        );
        assert_eq!(got[0].session_id, "s2", "{name}: newest first");
        assert_eq!(
            db.qoe_sessions(&asset.id, 1_500, 100).await.unwrap().len(),
            1
        );
        assert_eq!(db.qoe_sessions(&asset.id, 0, 1).await.unwrap().len(), 1);
        assert_eq!(db.drop_qoe_before(1_500).await.unwrap(), 2, "{name}");
        assert_eq!(db.qoe_sessions(&asset.id, 0, 100).await.unwrap().len(), 1);
        db.delete_asset(&asset.id).await.unwrap();
        assert!(
            db.qoe_sessions(&asset.id, 0, 100).await.unwrap().is_empty(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_task_goes_only_to_a_worker_whose_ffmpeg_encodes_its_codecs() {
    let (dbs, _dir) = databases().await;
    for (name, db) in dbs {
        let asset = db.create_asset(new_asset("a/av1.mov"), 3).await.unwrap();
        // Probe and validate need no encoder; validate says the transcode needs AV1.
        for stage in [Stage::Probe, Stage::Validate] {
            let task = db
                .claim_task("h264-only", LEASE, H264, Previews::First)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(task.stage, stage, "{name}");
            let outcome = StageOutcome {
                next_codecs: if stage == Stage::Validate {
                    H264 | AV1
                } else {
                    0
                },
                ..StageOutcome::default()
            };
            db.complete_task(&task, outcome).await.unwrap();
        }
        db.see_worker(&worker("h264-only", H264), WorkerState::Running)
            .await
            .unwrap();
        assert!(
            db.claim_task("h264-only", LEASE, H264, Previews::First)
                .await
                .unwrap()
                .is_none(),
            "{name}: a worker without AV1 leaves the transcode alone"
        );
        let queue = db.queue(LEASE).await.unwrap();
        assert_eq!(queue.waiting_for_codecs, 1, "{name}: {queue:?}");
        let transcode = queue
            .stages
            .iter()
            .find(|s| s.stage == Stage::Transcode)
            .unwrap();
        assert_eq!((transcode.pending, transcode.running), (1, 0), "{name}");
        assert_eq!(db.live_codecs(LEASE).await.unwrap(), H264, "{name}");

        db.see_worker(&worker("all", H264 | 2 | AV1), WorkerState::Running)
            .await
            .unwrap();
        assert_eq!(
            db.queue(LEASE).await.unwrap().waiting_for_codecs,
            0,
            "{name}"
        );
        let task = db
            .claim_task("all", LEASE, H264 | 2 | AV1, Previews::First)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(task.stage, Stage::Transcode, "{name}");

        // The fleet: both workers, the one with the task shows it.
        let fleet = db.fleet(LEASE).await.unwrap();
        assert_eq!(fleet.len(), 2, "{name}: {fleet:?}");
        let all = fleet.iter().find(|w| w.info.id == "all").unwrap();
        assert_eq!(all.state, WorkerState::Running);
        assert_eq!(all.info.codecs, H264 | 2 | AV1);
        let current = all.task.as_ref().expect("its task");
        assert_eq!(
            (current.asset_id.as_str(), current.stage),
            (asset.id.as_str(), Stage::Transcode)
        );
        assert!(fleet
            .iter()
            .find(|w| w.info.id == "h264-only")
            .unwrap()
            .task
            .is_none());

        // Draining, then stopped; a worker not seen for the lost time is lost.
        db.see_worker(&worker("all", H264 | 2 | AV1), WorkerState::Draining)
            .await
            .unwrap();
        assert_eq!(
            db.live_codecs(LEASE).await.unwrap(),
            H264,
            "{name}: a draining worker takes nothing new"
        );
        db.see_worker(&worker("all", H264 | 2 | AV1), WorkerState::Stopped)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let fleet = db.fleet(Duration::from_millis(10)).await.unwrap();
        let state = |id: &str| fleet.iter().find(|w| w.info.id == id).unwrap().state;
        assert_eq!(state("all"), WorkerState::Stopped, "{name}");
        assert_eq!(state("h264-only"), WorkerState::Lost, "{name}");
        assert_eq!(fleet[0].info.host, "host-a");
    }
}

#[tokio::test]
async fn a_clip_starts_at_the_transcode_stage_and_shares_its_parents_source() {
    let (dbs, _dir) = databases().await;
    for (name, db) in dbs {
        let parent = db.create_asset(new_asset("a/movie.mov"), 3).await.unwrap();
        db.set_playback(&parent.id, Some("signed")).await.unwrap();
        let parent = db.asset(&parent.id).await.unwrap().unwrap();
        let range = serde_json::json!({"of": parent.id, "start": 1.5, "end": 4.0, "mode": "frame"});
        let clip = db
            .create_clip(&parent, "movie (clip)", &range, AV1, 3)
            .await
            .unwrap();
        assert_eq!(clip.clip.as_ref(), Some(&range), "{name}");
        assert_eq!(clip.stage, Some(Stage::Transcode), "{name}");
        assert_eq!(
            (
                clip.source_key.as_str(),
                clip.source_size,
                clip.playback.as_deref()
            ),
            (parent.source_key.as_str(), None, Some("signed")),
            "{name}: the parent's source, counted there, and its access"
        );
        assert_eq!(
            db.other_assets_of_source(&parent.source_key, &clip.id)
                .await
                .unwrap(),
            1,
            "{name}"
        );
        // The parent's probe comes first; the clip's transcode waits for an AV1 encoder.
        let task = db
            .claim_task("w", LEASE, H264, Previews::First)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (task.asset_id.as_str(), task.stage),
            (parent.id.as_str(), Stage::Probe),
            "{name}"
        );
        assert!(
            db.claim_task("w", LEASE, H264, Previews::First)
                .await
                .unwrap()
                .is_none(),
            "{name}"
        );
        let task = db
            .claim_task("w2", LEASE, H264 | AV1, Previews::First)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (task.asset_id.as_str(), task.stage),
            (clip.id.as_str(), Stage::Transcode),
            "{name}"
        );
    }
}

#[tokio::test]
async fn an_asset_walks_through_every_stage() {
    let (dbs, _dir) = databases().await;
    for (name, db) in dbs {
        let asset = db.create_asset(new_asset("a/movie.mov"), 3).await.unwrap();
        assert_eq!(asset.status, AssetStatus::Queued, "{name}");
        assert_eq!(asset.stage, Some(Stage::Probe), "{name}");
        assert!(asset.warnings.is_empty(), "{name}");
        // Not chunked, and no preview (see the preview's own tests).
        for stage in Stage::ALL
            .into_iter()
            .filter(|s| !matches!(s, Stage::Encode | Stage::Preview))
        {
            let task = db
                .claim_task("w1", LEASE, EVERY_CODEC, Previews::First)
                .await
                .unwrap()
                .expect("a task");
            assert_eq!((task.stage, task.attempt), (stage, 1), "{name}");
            assert!(
                db.claim_task("w2", LEASE, EVERY_CODEC, Previews::First)
                    .await
                    .unwrap()
                    .is_none(),
                "{name}: one task at a time"
            );
            let a = db.asset(&asset.id).await.unwrap().unwrap();
            assert_eq!(
                (a.status, a.stage),
                (AssetStatus::Processing, Some(stage)),
                "{name}"
            );
            assert!(db.heartbeat(&task, LEASE).await.unwrap());
            db.set_progress(&asset.id, 50.0).await.unwrap();
            let outcome = StageOutcome {
                output: serde_json::json!({ "stage": stage }),
                probe: (stage == Stage::Probe).then(|| serde_json::json!({ "duration": 10.0 })),
                renditions: (stage == Stage::Publish)
                    .then(|| serde_json::json!([{ "name": "720p" }])),
                output_prefix: (stage == Stage::Publish).then(|| asset.id.clone()),
                warnings: (stage == Stage::Transcode).then(
                    || serde_json::json!([{ "code": "overstated_duration", "message": "m" }]),
                ),
                ladder: (stage == Stage::Transcode)
                    .then(|| serde_json::json!({ "codec": "h264", "rungs": [] })),
                next_codecs: 0,
                parts: Vec::new(),
                preview_codecs: None,
            };
            db.complete_task(&task, outcome).await.unwrap();
        }
        let a = db.asset(&asset.id).await.unwrap().unwrap();
        assert_eq!(a.status, AssetStatus::Ready, "{name}");
        assert_eq!(a.probe, Some(serde_json::json!({ "duration": 10.0 })));
        assert_eq!(a.renditions, Some(serde_json::json!([{ "name": "720p" }])));
        assert_eq!(
            a.warnings,
            vec![serde_json::json!({ "code": "overstated_duration", "message": "m" })],
            "{name}: the warnings the transcode recorded stay"
        );
        assert_eq!(
            a.ladder,
            Some(serde_json::json!({ "codec": "h264", "rungs": [] })),
            "{name}: the per-title decision the transcode recorded stays"
        );
        assert!(a.finished_at.unwrap() >= a.started_at.unwrap());
        let kinds: Vec<String> = db
            .events_after(0, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds.first().map(String::as_str),
            Some("asset.created"),
            "{name}"
        );
        assert_eq!(
            kinds.last().map(String::as_str),
            Some("asset.ready"),
            "{name}"
        );
        assert!(db
            .claim_task("w1", LEASE, EVERY_CODEC, Previews::First)
            .await
            .unwrap()
            .is_none());
    }
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_the_old_holder_cannot_commit() {
    let (dbs, _dir) = databases().await;
    for (name, db) in dbs {
        db.create_asset(new_asset("b"), 3).await.unwrap();
        let first = db
            .claim_task(
                "dead-worker",
                Duration::from_millis(1),
                EVERY_CODEC,
                Previews::First,
            )
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let second = db
            .claim_task("live-worker", LEASE, EVERY_CODEC, Previews::First)
            .await
            .unwrap()
            .expect("the expired task");
        assert_eq!(
            (second.id.as_str(), second.attempt),
            (first.id.as_str(), 2),
            "{name}"
        );
        assert!(
            !db.heartbeat(&first, LEASE).await.unwrap(),
            "{name}: the old lease is gone"
        );
        let err = db
            .complete_task(&first, StageOutcome::default())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("lease"), "{name}: {err}");
        db.complete_task(&second, StageOutcome::default())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_task_that_loses_its_worker_every_time_fails_in_the_end() {
    let (dbs, _dir) = databases().await;
    for (name, db) in dbs {
        let asset = db.create_asset(new_asset("c"), 2).await.unwrap();
        for _ in 0..2 {
            db.claim_task(
                "crashy",
                Duration::from_millis(1),
                EVERY_CODEC,
                Previews::First,
            )
            .await
            .unwrap()
            .unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            db.claim_task("w", LEASE, EVERY_CODEC, Previews::First)
                .await
                .unwrap()
                .is_none(),
            "{name}"
        );
        let a = db.asset(&asset.id).await.unwrap().unwrap();
        assert_eq!(
            (a.status, a.error_code.as_deref()),
            (AssetStatus::Failed, Some("worker_lost")),
            "{name}"
        );
    }
}

#[tokio::test]
async fn failures_back_off_then_fail_and_retry_reruns_only_what_failed() {
    let (dbs, _dir) = databases().await;
    for (name, db) in dbs {
        let asset = db.create_asset(new_asset("d"), 2).await.unwrap();
        let probe = db
            .claim_task("w", LEASE, EVERY_CODEC, Previews::First)
            .await
            .unwrap()
            .unwrap();
        db.complete_task(&probe, StageOutcome::default())
            .await
            .unwrap();
        let validate = db
            .claim_task("w", LEASE, EVERY_CODEC, Previews::First)
            .await
            .unwrap()
            .unwrap();
        let transient = TaskFailure {
            code: "store".into(),
            message: "store unreachable".into(),
            retryable: true,
        };
        db.fail_task(&validate, &transient, Duration::from_millis(300))
            .await
            .unwrap();
        assert!(
            db.claim_task("w", LEASE, EVERY_CODEC, Previews::First)
                .await
                .unwrap()
                .is_none(),
            "{name}: backing off"
        );
        tokio::time::sleep(Duration::from_millis(350)).await;
        let again = db
            .claim_task("w", LEASE, EVERY_CODEC, Previews::First)
            .await
            .unwrap()
            .expect("due again");
        assert_eq!((again.stage, again.attempt), (Stage::Validate, 2));
        db.fail_task(&again, &transient, Duration::from_millis(1))
            .await
            .unwrap();
        let a = db.asset(&asset.id).await.unwrap().unwrap();
        assert_eq!(a.status, AssetStatus::Failed, "{name}: out of attempts");
        assert_eq!(a.error_message.as_deref(), Some("store unreachable"));

        db.retry_asset(&asset.id).await.unwrap();
        let a = db.asset(&asset.id).await.unwrap().unwrap();
        assert_eq!(
            (a.status, a.stage, a.error_code),
            (AssetStatus::Queued, Some(Stage::Validate), None),
            "{name}"
        );
        let rerun = db
            .claim_task("w", LEASE, EVERY_CODEC, Previews::First)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (rerun.stage, rerun.attempt),
            (Stage::Validate, 1),
            "{name}: probe is not re-run"
        );
        let permanent = TaskFailure {
            code: "invalid_media".into(),
            message: "no video".into(),
            retryable: false,
        };
        db.fail_task(&rerun, &permanent, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(
            db.asset(&asset.id)
                .await
                .unwrap()
                .unwrap()
                .error_code
                .as_deref(),
            Some("invalid_media")
        );
        assert!(db.retry_asset("no-such-asset").await.is_err());
    }
}

#[tokio::test]
async fn cancel_stops_the_holder_at_its_next_heartbeat() {
    let (dbs, _dir) = databases().await;
    for (name, db) in dbs {
        let asset = db.create_asset(new_asset("e"), 3).await.unwrap();
        let task = db
            .claim_task("w", LEASE, EVERY_CODEC, Previews::First)
            .await
            .unwrap()
            .unwrap();
        assert!(db.cancel_asset(&asset.id).await.unwrap());
        assert!(!db.heartbeat(&task, LEASE).await.unwrap(), "{name}");
        assert!(db
            .complete_task(&task, StageOutcome::default())
            .await
            .is_err());
        assert_eq!(
            db.asset(&asset.id).await.unwrap().unwrap().status,
            AssetStatus::Cancelled
        );
        assert!(
            !db.cancel_asset(&asset.id).await.unwrap(),
            "{name}: already cancelled"
        );
    }
}

#[tokio::test]
async fn concurrent_workers_claim_each_task_once() {
    let (dbs, _dir) = databases().await;
    for (name, db) in dbs {
        for i in 0..30 {
            db.create_asset(new_asset(&format!("f{i}")), 3)
                .await
                .unwrap();
        }
        let mut handles = Vec::new();
        for w in 0..6 {
            let db = db.clone();
            handles.push(tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(t) = db
                    .claim_task(&format!("w{w}"), LEASE, EVERY_CODEC, Previews::First)
                    .await
                    .unwrap()
                {
                    got.push(t.id);
                }
                got
            }));
        }
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.await.unwrap());
        }
        let unique: HashSet<&String> = all.iter().collect();
        assert_eq!((all.len(), unique.len()), (30, 30), "{name}");
    }
}

#[tokio::test]
async fn imports_happen_once_and_listing_pages() {
    let (dbs, _dir) = databases().await;
    for (name, db) in dbs {
        let (a, b) = tokio::join!(
            db.import_source(new_asset("watch/x.mov"), 3),
            db.import_source(new_asset("watch/x.mov"), 3)
        );
        let created = [a.unwrap(), b.unwrap()].into_iter().flatten().count();
        assert_eq!(created, 1, "{name}");
        for i in 0..4 {
            db.create_asset(new_asset(&format!("g{i}")), 3)
                .await
                .unwrap();
        }
        let page1 = db.list_assets(None, None, 3).await.unwrap();
        let page2 = db.list_assets(None, Some(&page1[2].id), 3).await.unwrap();
        assert_eq!((page1.len(), page2.len()), (3, 2), "{name}");
        assert!(page1[0].created_at >= page2[0].created_at);
        assert_eq!(
            db.list_assets(Some(AssetStatus::Ready), None, 10)
                .await
                .unwrap()
                .len(),
            0
        );
        assert_eq!(
            db.list_assets(Some(AssetStatus::Queued), None, 10)
                .await
                .unwrap()
                .len(),
            5
        );
        assert!(db.delete_asset(&page1[0].id).await.unwrap());
        assert!(db.asset(&page1[0].id).await.unwrap().is_none());
        db.ping().await.unwrap();
    }
}

#[tokio::test]
async fn webhook_deliveries_fan_out_once_and_retry() {
    let (dbs, _dir) = databases().await;
    for (name, db) in dbs {
        let hook = db
            .create_webhook(
                "http://127.0.0.1:9/h",
                "s3cret-s3cret-s3cret",
                &["asset.created".into()],
            )
            .await
            .unwrap();
        let other = db
            .create_webhook(
                "http://127.0.0.1:9/all",
                "s3cret-s3cret-s3cret",
                &["*".into()],
            )
            .await
            .unwrap();
        let asset = db.create_asset(new_asset("h"), 3).await.unwrap();
        db.cancel_asset(&asset.id).await.unwrap();
        let (a, b) = tokio::join!(db.fan_out_webhooks(100), db.fan_out_webhooks(100));
        assert_eq!(
            a.unwrap() + b.unwrap(),
            2,
            "{name}: two events, consumed once"
        );
        assert_eq!(db.fan_out_webhooks(100).await.unwrap(), 0);
        assert_eq!(
            db.deliveries(&hook.id, 10).await.unwrap().len(),
            1,
            "{name}: created only"
        );
        assert_eq!(
            db.deliveries(&other.id, 10).await.unwrap().len(),
            2,
            "{name}: everything"
        );
        let mut sent = 0;
        while let Some(due) = db.claim_delivery(Duration::from_secs(60)).await.unwrap() {
            assert_eq!(due.delivery.attempts, 1, "{name}");
            let retry = (due.url.ends_with("/h")).then(|| openvod_store::now_ms() + 300);
            db.record_delivery(
                &due.delivery.id,
                retry.is_none(),
                Some(500),
                Some("HTTP 500"),
                retry,
            )
            .await
            .unwrap();
            sent += 1;
        }
        assert_eq!(sent, 3, "{name}");
        // The failed one is due again after its backoff, on its second attempt.
        tokio::time::sleep(Duration::from_millis(350)).await;
        let again = db
            .claim_delivery(Duration::from_secs(60))
            .await
            .unwrap()
            .expect("due again");
        assert_eq!(
            (again.delivery.attempts, again.delivery.kind.as_str()),
            (2, "asset.created"),
            "{name}"
        );
        assert!(
            db.claim_delivery(Duration::from_secs(60))
                .await
                .unwrap()
                .is_none(),
            "{name}: leased"
        );
        assert!(db.delete_webhook(&hook.id).await.unwrap());
        assert!(db.deliveries(&hook.id, 10).await.unwrap().is_empty());
    }
}

/// Runs the probe and validate stages, and claims the transcode.
async fn claim_transcode(db: &Db, key: &str) -> (openvod_store::Asset, openvod_store::ClaimedTask) {
    let asset = db.create_asset(new_asset(key), 3).await.unwrap();
    for _ in 0..2 {
        let task = db
            .claim_task("w", LEASE, H264, Previews::First)
            .await
            .unwrap()
            .unwrap();
        db.complete_task(&task, StageOutcome::default())
            .await
            .unwrap();
    }
    let task = db
        .claim_task("w", LEASE, H264, Previews::First)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(task.stage, Stage::Transcode);
    (asset, task)
}

fn fan_out(n: u32) -> StageOutcome {
    StageOutcome {
        output: serde_json::json!({ "chunks": n }),
        parts: (0..=n)
            .map(|part| PartTask {
                part,
                codecs: if part == 0 { 0 } else { H264 },
            })
            .collect(),
        ..StageOutcome::default()
    }
}

#[tokio::test]
async fn a_chunked_encode_fans_out_and_its_last_part_queues_the_package() {
    let (dbs, _dir) = databases().await;
    for (name, db) in dbs {
        let (asset, transcode) = claim_transcode(&db, "a/chunked.mov").await;
        db.complete_task(&transcode, fan_out(3)).await.unwrap();
        let a = db.asset(&asset.id).await.unwrap().unwrap();
        assert_eq!(a.stage, Some(Stage::Encode), "{name}");

        // Parts go out in order, to any worker; a worker without the codec takes only
        // the audio part.
        assert_eq!(
            db.unclaimed_parts(&asset.id, Stage::Encode).await.unwrap(),
            4,
            "{name}"
        );
        let audio = db
            .claim_task("no-video", LEASE, 0, Previews::First)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((audio.stage, audio.part), (Stage::Encode, 0), "{name}");
        assert!(
            db.claim_task("no-video", LEASE, 0, Previews::First)
                .await
                .unwrap()
                .is_none(),
            "{name}"
        );
        let one = db
            .claim_task("w1", LEASE, H264, Previews::First)
            .await
            .unwrap()
            .unwrap();
        let two = db
            .claim_task("w2", LEASE, H264, Previews::First)
            .await
            .unwrap()
            .unwrap();
        let three = db
            .claim_task("w3", LEASE, H264, Previews::First)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((one.part, two.part, three.part), (1, 2, 3), "{name}");
        assert!(
            db.claim_task("w4", LEASE, H264, Previews::First)
                .await
                .unwrap()
                .is_none(),
            "{name}"
        );
        assert_eq!(
            db.unclaimed_parts(&asset.id, Stage::Encode).await.unwrap(),
            0,
            "{name}"
        );

        // The asset's progress is the mean of its parts'.
        db.set_part_progress(&one, 100.0).await.unwrap();
        db.set_part_progress(&two, 60.0).await.unwrap();
        let a = db.asset(&asset.id).await.unwrap().unwrap();
        assert!((a.progress - 40.0).abs() < 1e-9, "{name}: {}", a.progress);

        // A part that fails for a while is retried alone; the others keep their work.
        let failure = TaskFailure {
            code: "worker".into(),
            message: "killed".into(),
            retryable: true,
        };
        db.fail_task(&two, &failure, Duration::ZERO).await.unwrap();
        let again = db
            .claim_task("w5", LEASE, H264, Previews::First)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((again.part, again.attempt), (2, 2), "{name}");
        db.complete_task(
            &one,
            StageOutcome {
                output: serde_json::json!({"p": 1}),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        db.complete_task(
            &audio,
            StageOutcome {
                output: serde_json::json!({"p": 0}),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert!(
            db.claim_task("w", LEASE, -1, Previews::First)
                .await
                .unwrap()
                .is_none(),
            "{name}: no package yet"
        );

        // The last two parts finish at once: exactly one of them queues the package.
        let (a, b) = tokio::join!(
            db.complete_task(
                &again,
                StageOutcome {
                    output: serde_json::json!({"p": 2}),
                    ..Default::default()
                }
            ),
            db.complete_task(
                &three,
                StageOutcome {
                    output: serde_json::json!({"p": 3}),
                    ..Default::default()
                }
            ),
        );
        a.unwrap();
        b.unwrap();
        let package = db
            .claim_task("w", LEASE, -1, Previews::First)
            .await
            .unwrap()
            .expect("the package");
        assert_eq!((package.stage, package.part), (Stage::Package, 0), "{name}");
        let outputs = db.part_outputs(&asset.id, Stage::Encode).await.unwrap();
        let parts: Vec<u32> = outputs.iter().map(|(p, _)| *p).collect();
        assert_eq!(parts, vec![0, 1, 2, 3], "{name}");
        assert_eq!(outputs[2].1, serde_json::json!({"p": 2}), "{name}");
        let tasks = db.asset_tasks(&asset.id).await.unwrap();
        let encode: Vec<(u32, TaskStatus, u32)> = tasks
            .iter()
            .filter(|t| t.stage == Stage::Encode)
            .map(|t| (t.part, t.status, t.attempts))
            .collect();
        assert_eq!(
            encode,
            vec![
                (0, TaskStatus::Succeeded, 1),
                (1, TaskStatus::Succeeded, 1),
                (2, TaskStatus::Succeeded, 2),
                (3, TaskStatus::Succeeded, 1),
            ],
            "{name}"
        );
        assert_eq!(
            db.task_output(&asset.id, Stage::Transcode).await.unwrap(),
            Some(serde_json::json!({ "chunks": 3 })),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_part_that_fails_for_good_cancels_the_others_and_a_retry_runs_only_those_and_cancel_stops_all(
) {
    let (dbs, _dir) = databases().await;
    for (name, db) in dbs {
        let (asset, transcode) = claim_transcode(&db, "a/broken.mov").await;
        db.complete_task(&transcode, fan_out(2)).await.unwrap();
        let audio = db
            .claim_task("w0", LEASE, H264, Previews::First)
            .await
            .unwrap()
            .unwrap();
        db.complete_task(&audio, StageOutcome::default())
            .await
            .unwrap();
        let one = db
            .claim_task("w1", LEASE, H264, Previews::First)
            .await
            .unwrap()
            .unwrap();
        let two = db
            .claim_task("w2", LEASE, H264, Previews::First)
            .await
            .unwrap()
            .unwrap();
        let failure = TaskFailure {
            code: "invalid_media".into(),
            message: "the chunk would not decode".into(),
            retryable: false,
        };
        db.fail_task(&one, &failure, Duration::ZERO).await.unwrap();
        let a = db.asset(&asset.id).await.unwrap().unwrap();
        assert_eq!(a.status, AssetStatus::Failed, "{name}");
        let status = |tasks: &[openvod_store::TaskState], part| {
            tasks
                .iter()
                .find(|t| t.stage == Stage::Encode && t.part == part)
                .map(|t| t.status)
        };
        let tasks = db.asset_tasks(&asset.id).await.unwrap();
        assert_eq!(status(&tasks, 2), Some(TaskStatus::Cancelled), "{name}");
        // The cancelled part's worker learns it at its next heartbeat.
        assert!(!db.heartbeat(&two, LEASE).await.unwrap(), "{name}");

        db.retry_asset(&asset.id).await.unwrap();
        let tasks = db.asset_tasks(&asset.id).await.unwrap();
        assert_eq!(
            status(&tasks, 0),
            Some(TaskStatus::Succeeded),
            "{name}: kept"
        );
        let mut again = Vec::new();
        while let Some(t) = db
            .claim_task("w", LEASE, H264, Previews::First)
            .await
            .unwrap()
        {
            if t.stage == Stage::Package {
                break;
            }
            again.push(t.part);
            db.complete_task(&t, StageOutcome::default()).await.unwrap();
        }
        again.sort();
        assert_eq!(again, vec![1, 2], "{name}");

        // Cancelling a chunked asset stops every part at once.
        let (asset, transcode) = claim_transcode(&db, "a/cancelled.mov").await;
        db.complete_task(&transcode, fan_out(2)).await.unwrap();
        let held: Vec<_> = [
            db.claim_task("w1", LEASE, H264, Previews::First)
                .await
                .unwrap()
                .unwrap(),
            db.claim_task("w2", LEASE, H264, Previews::First)
                .await
                .unwrap()
                .unwrap(),
        ]
        .into();
        assert!(db.cancel_asset(&asset.id).await.unwrap(), "{name}");
        for t in &held {
            assert!(
                !db.heartbeat(t, LEASE).await.unwrap(),
                "{name}: part {}",
                t.part
            );
        }
        let tasks = db.asset_tasks(&asset.id).await.unwrap();
        assert!(
            tasks
                .iter()
                .filter(|t| t.stage == Stage::Encode)
                .all(|t| t.status == TaskStatus::Cancelled),
            "{name}: {tasks:?}"
        );
        assert!(
            db.claim_task("w3", LEASE, H264, Previews::First)
                .await
                .unwrap()
                .is_none(),
            "{name}"
        );
    }
}

/// Runs the probe stage and completes the validate stage with a preview, which queues
/// the preview beside the transcode; returns the asset.
async fn validated_with_preview(db: &Db, key: &str) -> openvod_store::Asset {
    let asset = db.create_asset(new_asset(key), 3).await.unwrap();
    for stage in [Stage::Probe, Stage::Validate] {
        let task = db
            .claim_task("w", LEASE, H264, Previews::First)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(task.stage, stage);
        let outcome = StageOutcome {
            preview_codecs: (stage == Stage::Validate).then_some(H264),
            ..StageOutcome::default()
        };
        db.complete_task(&task, outcome).await.unwrap();
    }
    asset
}

#[tokio::test]
async fn a_preview_runs_beside_the_ladder_and_never_decides_the_asset() {
    let (dbs, _dir) = databases().await;
    for (name, db) in dbs {
        let asset = validated_with_preview(&db, "a/preview.mov").await;
        // A worker beside preview workers takes the ladder first; a preview worker takes
        // only previews.
        let transcode = db
            .claim_task("w", LEASE, H264, Previews::Last)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(transcode.stage, Stage::Transcode, "{name}");
        let preview = db
            .claim_task("previewer", LEASE, H264, Previews::Only)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(preview.stage, Stage::Preview, "{name}");
        let a = db.asset(&asset.id).await.unwrap().unwrap();
        assert_eq!(
            (a.status, a.stage, a.preview_seconds),
            (AssetStatus::Processing, Some(Stage::Transcode), None),
            "{name}: the preview does not take the asset's stage"
        );

        // Its first segment makes the asset playable, once; the ladder keeps it so.
        assert!(db.set_preview(&preview, 2.0, 10.0).await.unwrap());
        assert!(db.set_preview(&preview, 4.0, 20.0).await.unwrap());
        let a = db.asset(&asset.id).await.unwrap().unwrap();
        assert_eq!(
            (a.status, a.preview_seconds),
            (AssetStatus::Playable, Some(4.0)),
            "{name}"
        );
        let playable: Vec<_> = db
            .events_after(0, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == "asset.playable" && e.asset_id.as_deref() == Some(&asset.id))
            .collect();
        assert_eq!(playable.len(), 1, "{name}: one asset.playable event");
        db.set_progress(&asset.id, 50.0).await.unwrap();
        assert_eq!(
            db.asset(&asset.id).await.unwrap().unwrap().progress,
            50.0,
            "{name}: a playable asset records the ladder's progress"
        );
        db.complete_task(&transcode, StageOutcome::default())
            .await
            .unwrap();
        assert!(
            db.claim_task("previewer", LEASE, H264, Previews::Only)
                .await
                .unwrap()
                .is_none(),
            "{name}: the package is not a preview worker's"
        );
        let package = db
            .claim_task("w", LEASE, H264, Previews::First)
            .await
            .unwrap()
            .unwrap();
        let a = db.asset(&asset.id).await.unwrap().unwrap();
        assert_eq!(
            (a.status, a.stage),
            (AssetStatus::Playable, Some(Stage::Package)),
            "{name}: claiming a stage keeps the asset playable"
        );

        // The preview completing queues nothing and does not make the asset ready.
        db.complete_task(&preview, StageOutcome::default())
            .await
            .unwrap();
        let a = db.asset(&asset.id).await.unwrap().unwrap();
        assert_eq!(a.status, AssetStatus::Playable, "{name}");
        db.complete_task(&package, StageOutcome::default())
            .await
            .unwrap();
        let publish = db
            .claim_task("w", LEASE, H264, Previews::First)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(publish.stage, Stage::Publish, "{name}");
        db.complete_task(
            &publish,
            StageOutcome {
                output_prefix: Some(format!("{}/out", asset.id)),
                ..StageOutcome::default()
            },
        )
        .await
        .unwrap();
        let ready = db.asset(&asset.id).await.unwrap().unwrap();
        assert_eq!(ready.status, AssetStatus::Ready, "{name}");
        assert!(
            db.claim_task("w", LEASE, EVERY_CODEC, Previews::First)
                .await
                .unwrap()
                .is_none(),
            "{name}: nothing left"
        );
    }
}

#[tokio::test]
async fn a_failed_preview_leaves_the_asset_to_its_ladder_and_a_failed_ladder_stops_the_preview() {
    let (dbs, _dir) = databases().await;
    for (name, db) in dbs {
        // A preview that fails for good: the asset goes on, and is not retried for it.
        let asset = validated_with_preview(&db, "a/preview-fails.mov").await;
        let preview = db
            .claim_task("w", LEASE, H264, Previews::First)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(preview.stage, Stage::Preview, "{name}: previews first");
        let failure = TaskFailure {
            code: "transcode_failed".into(),
            message: "the preview's encode wrote no segment".into(),
            retryable: false,
        };
        db.fail_task(&preview, &failure, Duration::ZERO)
            .await
            .unwrap();
        let a = db.asset(&asset.id).await.unwrap().unwrap();
        assert_eq!(a.status, AssetStatus::Processing, "{name}");
        assert!(
            db.retry_asset(&asset.id).await.is_err(),
            "{name}: a failed preview alone is not a failed asset"
        );
        let transcode = db
            .claim_task("w", LEASE, H264, Previews::First)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(transcode.stage, Stage::Transcode, "{name}");

        // A ladder that fails for good cancels the running preview: its lease is gone,
        // and a retry runs both again.
        let asset = validated_with_preview(&db, "a/ladder-fails.mov").await;
        let preview = db
            .claim_task("w", LEASE, H264, Previews::First)
            .await
            .unwrap()
            .unwrap();
        assert!(db.set_preview(&preview, 2.0, 5.0).await.unwrap());
        let transcode = db
            .claim_task("w", LEASE, H264, Previews::First)
            .await
            .unwrap()
            .unwrap();
        db.fail_task(&transcode, &failure, Duration::ZERO)
            .await
            .unwrap();
        let a = db.asset(&asset.id).await.unwrap().unwrap();
        assert_eq!(
            a.status,
            AssetStatus::Failed,
            "{name}: a playable asset fails"
        );
        assert!(
            !db.set_preview(&preview, 4.0, 10.0).await.unwrap(),
            "{name}: the preview's lease went with the asset"
        );
        assert!(!db.heartbeat(&preview, LEASE).await.unwrap(), "{name}");
        db.retry_asset(&asset.id).await.unwrap();
        let stages: Vec<(Stage, TaskStatus)> = db
            .asset_tasks(&asset.id)
            .await
            .unwrap()
            .into_iter()
            .map(|t| (t.stage, t.status))
            .collect();
        assert!(
            stages.contains(&(Stage::Preview, TaskStatus::Pending))
                && stages.contains(&(Stage::Transcode, TaskStatus::Pending)),
            "{name}: {stages:?}"
        );
        assert_eq!(
            db.asset(&asset.id).await.unwrap().unwrap().stage,
            Some(Stage::Transcode),
            "{name}: the asset's stage is the ladder's"
        );
        assert!(db.cancel_asset(&asset.id).await.unwrap(), "{name}");

        // Cancel stops a playable asset and its preview.
        let asset = validated_with_preview(&db, "a/cancelled.mov").await;
        let preview = db
            .claim_task("w", LEASE, H264, Previews::First)
            .await
            .unwrap()
            .unwrap();
        assert!(db.set_preview(&preview, 2.0, 5.0).await.unwrap());
        assert!(db.cancel_asset(&asset.id).await.unwrap(), "{name}");
        let a = db.asset(&asset.id).await.unwrap().unwrap();
        assert_eq!(a.status, AssetStatus::Cancelled, "{name}");
        assert!(!db.heartbeat(&preview, LEASE).await.unwrap(), "{name}");
    }
}
