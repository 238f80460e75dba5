//! Object storage, the same suite on a local folder and on S3 (Garage).
//!
//! S3 comes from `OPENVOD_TEST_S3_ENDPOINT`, `_BUCKET`, `_KEY_ID`, `_SECRET` and `_REGION`
//! (`scripts/test` starts a Garage server and sets them). Without them the S3 half is
//! skipped with a loud message, except under `CI=true`, where it fails.

use bytes::Bytes;
use futures::StreamExt;
use std::time::Duration;

use openvod_store::{Db, Objects, ObjectsConfig, StorageState, TierMover, TierSettings};

mod common;

fn stores(dir: &std::path::Path) -> Vec<(&'static str, Objects)> {
    let local = Objects::open(&ObjectsConfig::Local {
        root: dir.to_path_buf(),
    })
    .unwrap();
    let mut out = vec![("local", local)];
    match std::env::var("OPENVOD_TEST_S3_ENDPOINT") {
        Ok(endpoint) => {
            let env = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} must be set with OPENVOD_TEST_S3_ENDPOINT"));
            let bucket = env("OPENVOD_TEST_S3_BUCKET");
            let config = ObjectsConfig::S3 {
                endpoint: Some(endpoint),
                source_bucket: bucket.clone(),
                output_bucket: bucket,
                region: env("OPENVOD_TEST_S3_REGION"),
                access_key_id: env("OPENVOD_TEST_S3_KEY_ID"),
                secret_access_key: env("OPENVOD_TEST_S3_SECRET"),
                path_style: true,
                allow_http: true,
            };
            out.push(("s3", Objects::open(&config).unwrap()));
        }
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("an S3 server is required in CI: run the tests through scripts/test, which starts Garage")
        }
        Err(_) => eprintln!("\n*** SKIPPED: S3 half of this test: OPENVOD_TEST_S3_ENDPOINT is not set (scripts/test starts Garage). ***\n"),
    }
    out
}

/// A unique prefix, so runs against a shared bucket do not meet.
fn run_prefix() -> String {
    format!("t{}-{}", std::process::id(), openvod_store::now_ms())
}

/// `n` chunks of 1 MiB of a known pattern.
fn chunks(
    n: usize,
) -> (
    Vec<u8>,
    impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Unpin,
) {
    let data: Vec<u8> = (0..n * (1 << 20)).map(|i| (i * 31 % 251) as u8).collect();
    let parts: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(1 << 20)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    (data, futures::stream::iter(parts))
}

#[tokio::test]
async fn large_objects_stream_in_and_out() {
    let dir = tempfile::tempdir().unwrap();
    for (name, objects) in stores(dir.path()) {
        let key = format!("{}/big.mov", run_prefix());
        let (data, body) = chunks(12);
        let size = objects
            .sources
            .put_stream(&key, body, 1 << 30)
            .await
            .unwrap();
        assert_eq!(size, data.len() as u64, "{name}");
        let meta = objects.sources.head(&key).await.unwrap().expect("stored");
        assert_eq!(meta.size, data.len() as u64, "{name}");
        let mid = objects
            .sources
            .get_range(&key, 5_000_000..5_000_100)
            .await
            .unwrap();
        assert_eq!(&mid[..], &data[5_000_000..5_000_100], "{name}");
        let mut streamed = Vec::new();
        let mut s = Box::pin(
            objects
                .sources
                .get_stream(&key, Some(100..3_000_000))
                .await
                .unwrap(),
        );
        while let Some(c) = s.next().await {
            streamed.extend_from_slice(&c.unwrap());
        }
        assert_eq!(&streamed[..], &data[100..3_000_000], "{name}");
        let file = dir.path().join(format!("{name}.copy"));
        objects.sources.download(&key, &file).await.unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), data, "{name}");
        assert!(
            objects.outputs.head(&key).await.unwrap().is_none(),
            "{name}: outputs are a separate location"
        );
        objects.sources.delete(&key).await.unwrap();
        assert!(
            objects.sources.head(&key).await.unwrap().is_none(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn an_upload_over_the_limit_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (name, objects) in stores(dir.path()) {
        let key = format!("{}/too-big.mov", run_prefix());
        let (_, body) = chunks(3);
        let err = objects
            .sources
            .put_stream(&key, body, 2 << 20)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("larger than the limit"),
            "{name}: {err}"
        );
        assert!(
            objects.sources.head(&key).await.unwrap().is_none(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn folders_upload_list_and_delete_by_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("out");
    std::fs::create_dir_all(folder.join("720p")).unwrap();
    std::fs::write(folder.join("master.m3u8"), "#EXTM3U\n").unwrap();
    std::fs::write(folder.join("720p/1.m4s"), vec![7u8; 1000]).unwrap();
    for (name, objects) in stores(dir.path()) {
        let prefix = run_prefix();
        let total = objects.outputs.put_dir(&prefix, &folder).await.unwrap();
        assert_eq!(total, 1008, "{name}");
        let mut keys: Vec<String> = objects
            .outputs
            .list(&prefix)
            .await
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            vec![
                format!("{prefix}/720p/1.m4s"),
                format!("{prefix}/master.m3u8")
            ],
            "{name}"
        );
        assert_eq!(
            objects.outputs.delete_prefix(&prefix).await.unwrap(),
            2,
            "{name}"
        );
        assert!(
            objects.outputs.list(&prefix).await.unwrap().is_empty(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn keys_that_escape_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (name, objects) in stores(dir.path()) {
        for key in ["../outside", "a/../../b", "/abs", "a\\..\\b"] {
            assert!(
                objects
                    .sources
                    .put_bytes(key, Bytes::from_static(b"x"))
                    .await
                    .is_err(),
                "{name}: {key}"
            );
        }
    }
    assert!(!dir.path().join("outside").exists());
}

/// The whole object `key` of `bucket`.
async fn read_all(bucket: &openvod_store::Bucket, key: &str) -> Vec<u8> {
    let mut stream = Box::pin(bucket.get_stream(key, None).await.unwrap());
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

#[tokio::test]
async fn an_asset_moves_cold_and_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    for (name, objects) in stores(dir.path()) {
        let db = Db::connect(&format!("sqlite://{}/{name}.db", dir.path().display()))
            .await
            .unwrap();
        let source = format!("{}/movie.mov", run_prefix());
        let asset = common::ready_asset(&db, &source).await;
        // A source past the multipart threshold, and two published objects.
        let (data, body) = chunks(12);
        objects
            .sources
            .put_stream(&source, body, u64::MAX)
            .await
            .unwrap();
        let outputs: Vec<(String, Vec<u8>)> = ["master.m3u8", "720p/1.m4s"]
            .iter()
            .enumerate()
            .map(|(i, f)| (format!("{}/{f}", asset.id), vec![i as u8 + 1; 1000 + i]))
            .collect();
        for (key, bytes) in &outputs {
            objects
                .outputs
                .put_bytes(key, Bytes::from(bytes.clone()))
                .await
                .unwrap();
        }
        let settings = TierSettings {
            grace: Duration::ZERO,
            ..TierSettings::default()
        };
        let mover = TierMover::new(db.clone(), objects.clone(), "mover-1".into(), settings);
        let cold = &objects.cold;

        for round in 0..2 {
            // Round 0 archives on request, round 1 because it was not served since.
            if round == 0 {
                assert_eq!(
                    mover.archive(&asset.id).await.unwrap(),
                    StorageState::Cold,
                    "{name}"
                );
            } else {
                // Restored just now: not unused until a moment has passed.
                tokio::time::sleep(Duration::from_millis(5)).await;
                assert_eq!(mover.archive_unused(Duration::ZERO).await.unwrap(), 1);
                // Its hot copies go in a task of their own, `grace` (0 here) later.
                for _ in 0..100 {
                    let last = &outputs[outputs.len() - 1].0;
                    if cold.in_place || objects.outputs.head(last).await.unwrap().is_none() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            let a = db.asset(&asset.id).await.unwrap().unwrap();
            assert_eq!(a.storage, StorageState::Cold, "{name}");
            // Every byte is in the cold class; locally the hot copies are gone.
            assert_eq!(read_all(&cold.sources, &source).await, data, "{name}");
            for (key, bytes) in &outputs {
                assert_eq!(&read_all(&cold.outputs, key).await, bytes, "{name}");
                if !cold.in_place {
                    assert!(objects.outputs.head(key).await.unwrap().is_none(), "{name}");
                }
            }
            if !cold.in_place {
                assert!(objects.sources.head(&source).await.unwrap().is_none());
            }
            // A cold asset is not archived again; nothing waits to be restored yet.
            assert_eq!(mover.archive_unused(Duration::ZERO).await.unwrap(), 0);
            assert_eq!(mover.restore_next().await.unwrap(), None);

            assert_eq!(
                db.request_restore(&asset.id).await.unwrap(),
                Some(StorageState::Restoring)
            );
            // Taken once the archive's hold is released (its clean-up may still run).
            let mut restored = None;
            for _ in 0..100 {
                restored = mover.restore_next().await.unwrap();
                if restored.is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert_eq!(restored, Some(asset.id.clone()), "{name}");
            let a = db.asset(&asset.id).await.unwrap().unwrap();
            assert_eq!(a.storage, StorageState::Hot, "{name}");
            assert_eq!(read_all(&objects.sources, &source).await, data, "{name}");
            for (key, bytes) in &outputs {
                assert_eq!(&read_all(&objects.outputs, key).await, bytes, "{name}");
                if !cold.in_place {
                    assert!(cold.outputs.head(key).await.unwrap().is_none(), "{name}");
                }
            }
        }
        objects.sources.delete(&source).await.unwrap();
        objects.outputs.delete_prefix(&asset.id).await.unwrap();
    }
}

#[tokio::test]
async fn a_restore_missing_a_cold_copy_fails_and_is_tried_again_later() {
    let dir = tempfile::tempdir().unwrap();
    let objects = Objects::open(&ObjectsConfig::Local {
        root: dir.path().join("objects"),
    })
    .unwrap();
    let db = Db::connect(&format!("sqlite://{}/meta.db", dir.path().display()))
        .await
        .unwrap();
    let asset = common::ready_asset(&db, "gone/movie.mov").await;
    let key = format!("{}/master.m3u8", asset.id);
    objects
        .outputs
        .put_bytes(&key, Bytes::from_static(b"#EXTM3U\n"))
        .await
        .unwrap();
    let settings = TierSettings {
        grace: Duration::ZERO,
        ..TierSettings::default()
    };
    let mover = TierMover::new(db.clone(), objects.clone(), "m".into(), settings);
    assert_eq!(mover.archive(&asset.id).await.unwrap(), StorageState::Cold);
    // The cold copy is lost behind openvod's back.
    let path = dir
        .path()
        .join("objects/cold/outputs")
        .join(&asset.id)
        .join("master.m3u8");
    std::fs::remove_file(&path).unwrap();
    db.request_restore(&asset.id).await.unwrap();
    let e = mover.restore_next().await.unwrap_err().to_string();
    assert!(
        e.contains("holds 0 objects of 0 bytes, the archive copied 1 of 8"),
        "{e}"
    );
    // Still restoring, held back a while; the hot class was not touched.
    let a = db.asset(&asset.id).await.unwrap().unwrap();
    assert_eq!(a.storage, StorageState::Restoring);
    assert_eq!(mover.restore_next().await.unwrap(), None);
    assert!(objects.outputs.head(&key).await.unwrap().is_none());
}
