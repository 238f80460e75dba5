//! The preview in-process: a `playable` asset serves its preview's objects and, at its
//! one playback URL, the preview's multivariant playlist, never cached; nothing of the
//! ladder or the MPD is served before `ready`; once ready, the same URL is the ladder's
//! and the preview stays for the players still on it.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use bytes::Bytes;
use common::*;
use openvod_media::preview::{media_playlist, multivariant, PreviewVariant};
use openvod_server::ServerConfig;
use openvod_store::{Previews, Stage, StageOutcome};

#[tokio::test]
async fn a_playable_asset_serves_its_preview_and_then_its_ladder_at_the_same_url() {
    let s = Server::new(ServerConfig::default()).await;
    let db = &s.state.db;
    let id = s.queued_asset().await;
    let lease = Duration::from_secs(60);
    for (stage, preview) in [(Stage::Probe, None), (Stage::Validate, Some(1))] {
        let task = db
            .claim_task("w", lease, -1, Previews::First)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(task.stage, stage);
        let outcome = StageOutcome {
            preview_codecs: preview,
            ..StageOutcome::default()
        };
        db.complete_task(&task, outcome).await.unwrap();
    }
    let preview = db
        .claim_task("w", lease, -1, Previews::First)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(preview.stage, Stage::Preview);
    let play = |p: &str| format!("/play/{id}/{p}");
    // Processing, nothing published: nothing is served.
    for p in ["master.m3u8", "preview/index.m3u8", "preview/master.m3u8"] {
        assert_eq!(s.get(&play(p)).await.status, StatusCode::NOT_FOUND, "{p}");
    }

    // The preview's first segment is stored, then its playlists, then counted.
    let prefix = format!("{id}/out/preview");
    let outputs = &s.state.objects.outputs;
    let segment = Bytes::from_static(b"a CMAF segment's bytes");
    for (file, body) in [
        ("init.mp4", Bytes::from_static(b"a CMAF header")),
        ("1.m4s", segment.clone()),
        (
            "master.m3u8",
            Bytes::from(multivariant(
                &PreviewVariant {
                    bandwidth: 1_328_000,
                    codecs: vec!["avc1.64001e".into(), "mp4a.40.2".into()],
                    width: 640,
                    height: 360,
                },
                "index.m3u8",
            )),
        ),
        ("index.m3u8", Bytes::from(media_playlist(&[2.0], false))),
    ] {
        outputs
            .put_bytes(&format!("{prefix}/{file}"), body)
            .await
            .unwrap();
    }
    assert!(db.set_preview(&preview, 2.0, 10.0).await.unwrap());

    let asset = s.get(&format!("/v1/assets/{id}")).await.json();
    assert_eq!(asset["status"], "playable");
    assert_eq!(asset["preview_seconds"], 2.0);
    assert_eq!(asset["playback"]["hls"], play("master.m3u8"));
    assert!(asset["playback"]["dash"].is_null());

    let master = s.get(&play("master.m3u8")).await;
    assert_eq!(master.status, StatusCode::OK);
    assert_eq!(master.header("cache-control"), Some("no-cache"));
    assert!(
        master
            .text()
            .contains("CODECS=\"avc1.64001e,mp4a.40.2\",RESOLUTION=640x360\npreview/index.m3u8\n"),
        "{}",
        master.text()
    );
    let own = s.get(&play("preview/master.m3u8")).await;
    assert!(own.text().contains("\nindex.m3u8\n"), "{}", own.text());
    let playlist = s.get(&play("preview/index.m3u8")).await;
    assert_eq!(playlist.status, StatusCode::OK);
    assert_eq!(playlist.header("cache-control"), Some("no-cache"));
    assert!(playlist.text().contains("#EXT-X-PLAYLIST-TYPE:EVENT"));
    let first = s.get(&play("preview/1.m4s")).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body, segment);
    assert_eq!(first.header("content-type"), Some("video/iso.segment"));
    let ranged = s
        .get_with(&play("preview/1.m4s"), &[("range", "bytes=2-6")])
        .await;
    assert_eq!(ranged.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(&ranged.body[..], &segment[2..7]);
    // Not listed, not stored, not the preview's, or the ladder's: none is there.
    for p in [
        "preview/2.m4s",
        "preview/0.m4s",
        "preview/../master.m3u8",
        "manifest.mpd",
        "360p/index.m3u8",
        "cenc/master.m3u8",
    ] {
        assert_eq!(s.get(&play(p)).await.status, StatusCode::NOT_FOUND, "{p}");
    }

    // Ready: the ladder at the same URL; the preview, closed, for players still on it.
    outputs
        .put_bytes(
            &format!("{prefix}/index.m3u8"),
            Bytes::from(media_playlist(&[2.0], true)),
        )
        .await
        .unwrap();
    db.complete_task(&preview, StageOutcome::default())
        .await
        .unwrap();
    outputs
        .put_dir(&format!("{id}/out"), &media().packaged)
        .await
        .unwrap();
    s.commit_ready(&id, &format!("{id}/out")).await;
    let ladder = s.get(&play("master.m3u8")).await;
    assert_eq!(ladder.status, StatusCode::OK);
    assert!(!ladder.text().contains("preview/"), "{}", ladder.text());
    assert_ne!(ladder.header("cache-control"), Some("no-cache"));
    let closed = s.get(&play("preview/index.m3u8")).await;
    assert!(
        closed.text().ends_with("#EXT-X-ENDLIST\n"),
        "{}",
        closed.text()
    );
    assert_eq!(s.get(&play("preview/1.m4s")).await.body, segment);
    let asset = s.get(&format!("/v1/assets/{id}")).await.json();
    assert_eq!(asset["status"], "ready");
    assert_eq!(asset["playback"]["dash"], play("manifest.mpd"));
}
