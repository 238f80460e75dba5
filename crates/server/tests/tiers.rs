//! Storage tiers in-process: an asset moved to the cold class answers 202 with a retry
//! hint (never cached) and asks for itself back; once the mover restores it, every
//! object is served again byte for byte, and deleting it removes its cold copies too.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::*;
use openvod_server::tiers::TiersConfig;
use openvod_server::ServerConfig;
use openvod_store::TierSettings;

fn config() -> ServerConfig {
    ServerConfig {
        tiers: TiersConfig {
            settings: TierSettings {
                grace: Duration::ZERO,
                ..TierSettings::default()
            },
            retry_after: Duration::from_secs(7),
        },
        ..ServerConfig::default()
    }
}

/// The files under `dir`, none when it is gone.
fn files_in(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    if dir.exists() {
        files(dir)
    } else {
        Vec::new()
    }
}

async fn storage(s: &Server, id: &str) -> String {
    let r = s.get(&format!("/v1/assets/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    r.json()["storage"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_cold_asset_is_restored_on_request_and_plays_again_whole() {
    let s = Server::new(config()).await;
    let id = s.ready_asset(&media().packaged).await;
    let other = s.ready_asset(&media().packaged).await;
    assert_eq!(storage(&s, &id).await, "hot");
    let play = |p: &str| format!("/play/{id}/{p}");
    // Every file the asset serves, as served while hot.
    let folder = &media().packaged;
    let mut served = Vec::new();
    for file in files(folder) {
        let rel = file.to_string_lossy().to_string();
        let r = s.get(&play(&rel)).await;
        // Files for the origin itself (images.json) are not served.
        if r.status == StatusCode::NOT_FOUND {
            continue;
        }
        assert_eq!(r.status, StatusCode::OK, "{rel}");
        served.push((rel, r.body));
    }
    assert!(served.len() > 5);

    // Archived on request: 202 while it moves, then cold.
    let r = s
        .json("POST", &format!("/v1/assets/{id}/archive"), "", &[])
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    assert_eq!(r.json()["storage"], "archiving");
    for _ in 0..200 {
        if storage(&s, &id).await == "cold" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(storage(&s, &id).await, "cold");
    // The hot copies go once the asset is cold (`grace`, 0 here, later).
    let mut hot_left = files_in(&s.outputs().join(&id));
    for _ in 0..100 {
        if hot_left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        hot_left = files_in(&s.outputs().join(&id));
    }
    assert!(hot_left.is_empty(), "{hot_left:?}");
    // Asked again: nothing to do.
    let r = s
        .json("POST", &format!("/v1/assets/{id}/archive"), "", &[])
        .await;
    assert_eq!(
        (r.status, r.json()["storage"].as_str()),
        (StatusCode::OK, Some("cold"))
    );
    // Its cost counts the cold class.
    let asset = s.get(&format!("/v1/assets/{id}")).await.json();
    assert_eq!(
        asset["cost"]["openvod"]["storage_class"], "archive",
        "{asset}"
    );
    assert!(asset["downloads"].is_null() || asset["downloads"] == serde_json::json!([]));

    // A path the asset cannot have is 404 and restores nothing.
    assert_eq!(
        s.get(&play("notes.txt")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(storage(&s, &id).await, "cold");
    // Changes that need its objects wait for a restore.
    let r = s
        .json(
            "PUT",
            &format!("/v1/assets/{id}/poster"),
            r#"{"time": 1}"#,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "asset_cold");

    // A viewer's request: 202, a retry hint, never cached; the asset is being restored.
    let r = s.get(&play("master.m3u8")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.json()["storage"], "restoring");
    assert_eq!(r.json()["retry_after_seconds"], 7);
    assert_eq!(storage(&s, &id).await, "restoring");
    let r = s.get(&format!("/image/{id}/poster.jpg")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    // The other asset was never touched.
    assert_eq!(
        s.get(&format!("/play/{other}/master.m3u8")).await.status,
        StatusCode::OK
    );

    // The mover restores it; every object is back, byte for byte.
    // Taken once the archive's hold is released (after its clean-up).
    let mut restored = None;
    for _ in 0..100 {
        restored = s.state.mover.restore_next().await.unwrap();
        if restored.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(restored, Some(id.clone()));
    assert_eq!(storage(&s, &id).await, "hot");
    for (rel, body) in &served {
        let r = s.get(&play(rel)).await;
        assert_eq!(r.status, StatusCode::OK, "{rel}");
        assert!(r.body == *body, "{rel} differs after the restore");
    }
    let cold_left = files_in(&s.dir.path().join("objects/cold/outputs").join(&id));
    assert!(cold_left.is_empty(), "{cold_left:?}");
    let r = s
        .json("POST", &format!("/v1/assets/{id}/restore"), "", &[])
        .await;
    assert_eq!(
        (r.status, r.json()["storage"].as_str()),
        (StatusCode::OK, Some("hot"))
    );

    // Deleting a cold asset removes its cold copies too.
    let r = s
        .json("POST", &format!("/v1/assets/{id}/archive"), "", &[])
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    for _ in 0..200 {
        if storage(&s, &id).await == "cold" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cold_dir = s.dir.path().join("objects/cold/outputs").join(&id);
    assert!(!files_in(&cold_dir).is_empty());
    let r = s
        .send(
            axum::http::Request::delete(format!("/v1/assets/{id}"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(files_in(&cold_dir).is_empty());
}

#[tokio::test]
async fn only_a_ready_asset_is_archived() {
    let s = Server::new(config()).await;
    let queued = s.queued_asset().await;
    let r = s
        .json("POST", &format!("/v1/assets/{queued}/archive"), "", &[])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.json()["error"]["code"], "not_ready");
    let r = s
        .json(
            "POST",
            &format!("/v1/assets/{}/archive", "0".repeat(32)),
            "",
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
