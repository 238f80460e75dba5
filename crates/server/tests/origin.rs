//! The origin in-process: what a viewer and a CDN see of files packaged ahead of time
//! (cache headers, single byte ranges, validators, HEAD, whether held in the shield or
//! streamed from the store), paths that leave an asset, and packaging on request: every
//! object of every copy byte-equal to packaging ahead of time, segment lengths chosen by
//! the request, one store read for many viewers, and store failures answered with a
//! generic 502 or 504 while the log keeps the detail.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use openvod_drm::packaging::{copy_keys, KeyedRendition};
use openvod_drm::KeyProvider;
use openvod_media::TrackKind;
use openvod_server::ServerConfig;

/// A server whose shield holds files up to `max_object_bytes` (0: every file streams).
fn config(max_object_bytes: u64) -> ServerConfig {
    let mut c = ServerConfig::default();
    c.origin.max_object_bytes = max_object_bytes;
    c
}

/// The headers, ranges and validators of a ready asset packaged ahead of time.
async fn check_static_answers(s: &Server, id: &str) {
    let play = |p: &str| format!("/play/{id}/{p}");
    let master = s.get(&play("master.m3u8")).await;
    assert_eq!(master.status, StatusCode::OK);
    assert_eq!(
        master.header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    assert_eq!(master.header("cache-control"), Some("public, max-age=30"));
    assert_eq!(master.header("access-control-allow-origin"), Some("*"));
    assert!(master.body.starts_with(b"#EXTM3U"));

    let whole = s.get(&play("90p/1.m4s")).await;
    assert_eq!(whole.status, StatusCode::OK);
    let want = std::fs::read(media().packaged.join("90p/1.m4s")).unwrap();
    assert!(whole.body == want, "the segment as packaged");
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    let len = want.len();

    let part = s
        .get_with(&play("90p/1.m4s"), &[("range", "bytes=0-99")])
        .await;
    assert_eq!(
        (part.status, part.body.len()),
        (StatusCode::PARTIAL_CONTENT, 100)
    );
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 0-99/{len}").as_str())
    );
    assert_eq!(part.header("content-length"), Some("100"));
    assert!(part.header("cache-control").unwrap().contains("immutable"));
    assert_eq!(&part.body[4..8], b"styp");
    assert!(part.body == want[..100]);
    let tail = s
        .get_with(&play("90p/1.m4s"), &[("range", "bytes=-10")])
        .await;
    assert_eq!(tail.status, StatusCode::PARTIAL_CONTENT);
    assert!(tail.body == want[len - 10..]);

    let etag = part.header("etag").expect("an ETag").to_string();
    let again = s
        .get_with(&play("90p/1.m4s"), &[("if-none-match", &etag)])
        .await;
    assert_eq!(
        (again.status, again.body.len()),
        (StatusCode::NOT_MODIFIED, 0)
    );
    // Another validator: the range is served.
    let other = s
        .get_with(
            &play("90p/1.m4s"),
            &[("if-none-match", "\"nope\""), ("range", "bytes=0-0")],
        )
        .await;
    assert_eq!(
        (other.status, other.body.len()),
        (StatusCode::PARTIAL_CONTENT, 1)
    );

    let head = s
        .send(
            Request::head(play("manifest.mpd"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.header("content-type"), Some("application/dash+xml"));
    assert!(head.body.is_empty());
    let mpd_len = std::fs::metadata(media().packaged.join("manifest.mpd"))
        .unwrap()
        .len();
    assert_eq!(
        head.header("content-length"),
        Some(mpd_len.to_string().as_str())
    );

    let unsatisfiable = s
        .get_with(&play("90p/1.m4s"), &[("range", "bytes=999999999-")])
        .await;
    assert_eq!(unsatisfiable.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        unsatisfiable.header("content-range"),
        Some(format!("bytes */{len}").as_str())
    );

    // Concurrent ranges of one segment get exactly their bytes.
    let ranges: Vec<(usize, usize)> = (0..40usize)
        .map(|k| {
            let a = (k * 7919) % len;
            (a, (a + 1 + (k * 104_729) % 5000).min(len - 1))
        })
        .collect();
    let answers = futures::future::join_all(ranges.iter().map(|(a, b)| {
        let range = format!("bytes={a}-{b}");
        let uri = play("90p/1.m4s");
        async move { s.get_with(&uri, &[("range", &range)]).await }
    }))
    .await;
    for ((a, b), r) in ranges.iter().zip(answers) {
        assert_eq!(r.status, StatusCode::PARTIAL_CONTENT, "range {a}-{b}");
        assert!(r.body == want[*a..=*b], "range {a}-{b}");
    }
}

#[tokio::test]
async fn files_packaged_ahead_are_served_with_ranges_validators_and_cache_headers() {
    // Held in the shield (the default), then streamed from the store (over the limit).
    for limit in [64 << 20, 0] {
        let metrics = LocalMetrics::install();
        let s = Server::new(config(limit)).await;
        let id = s.ready_asset(&media().packaged).await;
        check_static_answers(&s, &id).await;
        assert!(
            metrics.value("openvod_origin_requests_total{status=\"206\"}") >= 43.0,
            "limit {limit}"
        );
        assert!(metrics.value("openvod_origin_bytes_total{status=\"206\"}") >= 100.0);
        assert!(metrics.value("openvod_origin_requests_total{status=\"416\"}") >= 1.0);
    }
}

#[tokio::test]
async fn what_the_origin_serves_is_counted_per_asset_and_priced_on_the_asset() {
    let s = Server::new(config(64 << 20)).await;
    let id = s.ready_asset(&media().packaged).await;
    let other = s.ready_asset(&media().packaged).await;
    let mut bytes = 0;
    for (path, range) in [
        ("master.m3u8", None),
        ("90p/1.m4s", None),
        ("90p/1.m4s", Some("bytes=0-99")),
    ] {
        let uri = format!("/play/{id}/{path}");
        let r = match range {
            Some(r) => s.get_with(&uri, &[("range", r)]).await,
            None => s.get(&uri).await,
        };
        assert!(r.status.is_success(), "{path}: {}", r.status);
        bytes += r.body.len() as u64;
    }
    // Not served: HEAD, a 404, another asset's bytes.
    let head = Request::head(format!("/play/{id}/90p/1.m4s"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(s.send(head).await.status, StatusCode::OK);
    assert_eq!(
        s.get(&format!("/play/{id}/90p/999.m4s")).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(s
        .get(&format!("/play/{other}/master.m3u8"))
        .await
        .status
        .is_success());
    assert_eq!(s.state.served.flush(&s.state.db).await.unwrap(), 2);
    let a = s.get(&format!("/v1/assets/{id}")).await.json();
    let usage = &a["usage"];
    assert_eq!(usage["served_bytes"], bytes, "{a}");
    assert_eq!(usage["served_requests"], 3, "{a}");
    // The segment's second request came from the shield.
    assert!(usage["shield_hits"].as_u64().unwrap() >= 1, "{a}");
    assert_eq!(usage["encode_cpu_seconds"], 7200.0);
    // Priced both ways: 2.01 vCPU-hours and 3 GB at the default rates; MediaConvert for
    // one HD and one SD rung of 10 minutes.
    let cost = &a["cost"];
    let near = |v: &serde_json::Value, want: f64| (v.as_f64().unwrap() - want).abs() < 1e-6;
    assert!(
        near(&cost["openvod"]["compute_usd"], 7236.0 / 3600.0 * 0.02),
        "{cost}"
    );
    assert!(
        near(&cost["openvod"]["storage_usd_per_month"], 3.0 * 0.01),
        "{cost}"
    );
    assert!(
        near(&cost["aws"]["mediaconvert"]["usd"], 10.0 * (0.015 + 0.0075)),
        "{cost}"
    );
    assert!(
        near(&cost["aws"]["s3_usd_per_month"], 3.0 * 0.023),
        "{cost}"
    );
    assert!(
        near(&cost["aws"]["cloudfront_usd"], bytes as f64 / 1e9 * 0.085),
        "{cost}"
    );
    // Counting goes on: a flush adds, never replaces.
    s.get(&format!("/play/{id}/master.m3u8")).await;
    s.state.served.flush(&s.state.db).await.unwrap();
    let a = s.get(&format!("/v1/assets/{id}")).await.json();
    assert_eq!(a["usage"]["served_requests"], 4, "{a}");
    // A list shows neither: usage is per asset.
    let list = s.get("/v1/assets").await.json();
    assert!(list["assets"][0].get("usage").is_none(), "{list}");
}

#[tokio::test]
async fn nothing_is_served_before_ready_or_outside_an_asset() {
    let s = Server::new(ServerConfig::default()).await;
    let queued = s.queued_asset().await;
    let early = s.get(&format!("/play/{queued}/master.m3u8")).await;
    assert_eq!(early.status, StatusCode::NOT_FOUND, "no partial manifest");

    let id = s.ready_asset(&media().packaged).await;
    // A file beside the outputs that a path might reach.
    std::fs::write(s.dir.path().join("objects/outputs/secret.txt"), "no").unwrap();
    for path in [
        format!("/v1/assets/{}", "0".repeat(32)),
        "/v1/assets/..%2f..%2fetc".into(),
        format!("/play/{id}/..%2f..%2fsources%2fuploads"),
        format!("/play/{id}/%2e%2e/%2e%2e/openvod.db"),
        format!("/play/{id}/../secret.txt"),
        format!("/play/{id}/..%2fsecret.txt"),
        "/play/../../etc/passwd".into(),
        format!("/play/{id}/notes.txt"),
        format!("/play/{id}/90p/../../secret.txt"),
    ] {
        let r = s.get(&path).await;
        assert!(r.status.is_client_error(), "{path}: {}", r.status);
        assert!(r.json()["error"]["message"].is_string(), "{path}");
    }
}

#[tokio::test]
async fn unknown_paths_are_404_without_a_store_read() {
    let metrics = LocalMetrics::install();
    let s = Server::new(ServerConfig::default()).await;
    let id = s.ready_asset(&media().stored).await;
    for path in [
        "notes.txt",
        "90p/x.m4s",
        "media/90p.mp4",
        "presentation.json",
        "cenc/keys/abab",
        "s31/90p/1.m4s",
    ] {
        let r = s.get(&format!("/play/{id}/{path}")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(metrics.sum("openvod_store_reads_total"), 0.0);
    // The first known path loads the stored asset: its description, both indexes, the
    // text track and the storyboard's sprite.
    assert_eq!(
        s.get(&format!("/play/{id}/master.m3u8")).await.status,
        StatusCode::OK
    );
    assert_eq!(metrics.sum("openvod_store_reads_total"), 5.0);
}

/// The keys the origin uses for `id`, from the same key store.
async fn keys_of(s: &Server, id: &str) -> Vec<openvod_media::CopyKeys> {
    let (_, renditions) = renditions();
    let keyed: Vec<KeyedRendition> = renditions
        .iter()
        .map(|r| match r.track.kind {
            TrackKind::Video => {
                KeyedRendition::video(r.name.as_str(), r.track.width, r.track.height)
            }
            TrackKind::Audio => KeyedRendition::audio(r.name.as_str()),
        })
        .collect();
    let store = s.state.keys.clone().expect("a key store");
    copy_keys(&KeyProvider::Builtin(store), id, &protection(), &keyed)
        .await
        .expect("keys")
}

#[tokio::test]
async fn packaging_on_request_gives_the_bytes_of_packaging_ahead_of_time() {
    let metrics = LocalMetrics::install();
    // The stored form: one MP4 and one index per rendition, no packaged files.
    let stored = files(&media().stored);
    assert!(
        stored.iter().all(|p| {
            let p = p.to_string_lossy();
            // The pictures beside them are served under /image/.
            ["presentation.json", "images.json", "poster.jpg"].contains(&p.as_ref())
                || p.starts_with("media/")
        }),
        "{stored:?}"
    );
    let s = Server::new(ServerConfig::default()).await;
    let id = s.ready_asset(&media().stored).await;
    let play = |p: &str| format!("/play/{id}/{p}");

    // Packaging ahead of time of the same renditions, with the keys the origin has.
    let copies = keys_of(&s, &id).await;
    let ahead = tempfile::tempdir().unwrap();
    let (sources, renditions) = renditions();
    openvod_transcode::package::package_copies(
        &sources,
        renditions,
        texts(),
        &images(),
        &packaging(protection().copies),
        &copies,
        ahead.path(),
    )
    .unwrap();

    let mut compared = 0;
    for rel in files(ahead.path()) {
        let name = rel.to_string_lossy().to_string();
        // The image index and the poster are served under /image/.
        if name == openvod_media::images::IMAGE_INDEX || name == openvod_media::images::POSTER {
            continue;
        }
        let r = s.get(&play(&name)).await;
        assert_eq!(r.status, StatusCode::OK, "{name}");
        let want = std::fs::read(ahead.path().join(&rel)).unwrap();
        assert!(
            r.body == want,
            "{name}: {} bytes on request, {} packaged ahead:\n{}\n---\n{}",
            r.body.len(),
            want.len(),
            String::from_utf8_lossy(&r.body[..r.body.len().min(3000)]),
            String::from_utf8_lossy(&want[..want.len().min(3000)])
        );
        assert_eq!(r.header("x-cache"), Some("MISS"), "{name}");
        compared += 1;
    }
    assert!(compared > 30, "{compared} files compared");
    for folder in ["cenc/", "cbcs/", "aes128/", "90p/", "audio/"] {
        let all = files(ahead.path());
        assert!(
            all.iter().any(|p| p.to_string_lossy().starts_with(folder)),
            "no {folder} in {all:?}"
        );
    }

    // The licence server and the AES-128 key answer hold the key both packagings used.
    let key = &copies[1].renditions[0].key;
    let mpd = s.get(&play("cenc/manifest.mpd")).await.text();
    let at = mpd.find("cenc:default_KID=\"").unwrap() + 18;
    assert_eq!(mpd[at..at + 36].replace('-', ""), key.kid.to_hex());
    let licence = s
        .json(
            "POST",
            "/v1/drm/clearkey",
            &format!(
                r#"{{"kids":["{}"],"type":"temporary"}}"#,
                key.kid.to_base64url()
            ),
            &[],
        )
        .await;
    assert_eq!(licence.status, StatusCode::OK, "{}", licence.text());
    let k = licence.json()["keys"][0]["k"].as_str().unwrap().to_string();
    use base64::Engine as _;
    let k = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(k)
        .unwrap();
    assert_eq!(k, key.key);
    let aes = s.get(&play(&format!("keys/{}", key.kid.to_hex()))).await;
    assert_eq!((aes.status, &aes.body[..]), (StatusCode::OK, &key.key[..]));

    // Asked again: from the shield, with its age; validators and ranges work on
    // generated objects.
    let want = std::fs::read(ahead.path().join("cbcs/90p/2.m4s")).unwrap();
    let hit = s.get(&play("cbcs/90p/2.m4s")).await;
    assert_eq!(hit.status, StatusCode::OK);
    assert_eq!(hit.header("x-cache"), Some("HIT"));
    assert!(hit.header("age").is_some());
    let etag = hit.header("etag").expect("an ETag").to_string();
    let part = s
        .get_with(&play("cbcs/90p/2.m4s"), &[("range", "bytes=10-19")])
        .await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert!(part.body == want[10..20]);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 10-19/{}", want.len()).as_str())
    );
    let unchanged = s
        .get_with(&play("cbcs/90p/2.m4s"), &[("if-none-match", &etag)])
        .await;
    assert_eq!(unchanged.status, StatusCode::NOT_MODIFIED);
    assert!(unchanged.body.is_empty());
    let past = s
        .get_with(&play("cbcs/90p/2.m4s"), &[("range", "bytes=999999-")])
        .await;
    assert_eq!(past.status, StatusCode::RANGE_NOT_SATISFIABLE);

    // 200 viewers ask at once for a segment nobody asked for: one store read.
    let before = metrics.sum("openvod_store_reads_total");
    let uri = play("cenc/s2/90p/1.m4s");
    let answers = futures::future::join_all((0..200).map(|_| s.get(&uri))).await;
    assert!(answers.iter().all(|a| a.status == StatusCode::OK));
    assert!(answers.iter().all(|a| a.body == answers[0].body));
    assert_eq!(
        metrics.sum("openvod_store_reads_total") - before,
        1.0,
        "store reads for 200 concurrent requests"
    );
}

#[tokio::test]
async fn segment_lengths_are_chosen_by_the_request() {
    let s = Server::new(ServerConfig::default()).await;
    let id = s.ready_asset(&media().stored).await;
    let play = |p: &str| format!("/play/{id}/{p}");
    let segments = |text: &str| text.lines().filter(|l| l.ends_with(".m4s")).count();

    let template = s.get(&play("90p/index.m3u8")).await.text();
    assert!(template.contains("#EXT-X-TARGETDURATION:1\n"), "{template}");
    assert_eq!(segments(&template), 2, "{template}");
    let two = s.get(&play("s2/90p/index.m3u8")).await;
    assert_eq!(two.status, StatusCode::OK);
    let two = two.text();
    assert!(two.contains("#EXT-X-TARGETDURATION:2\n"), "{two}");
    assert_eq!(segments(&two), 1, "{two}");
    let long = s.get(&play("s2/90p/1.m4s")).await;
    assert_eq!(long.status, StatusCode::OK);
    let short = s.get(&play("90p/1.m4s")).await;
    assert!(long.body.len() > short.body.len());
    for copy in [
        "s2/master.m3u8",
        "cbcs/s2/manifest.mpd",
        "aes128/s2/master.m3u8",
        "aes128/s2/90p/index.m3u8",
        "aes128/s2/90p/1.m4s",
    ] {
        let r = s.get(&play(copy)).await;
        assert_eq!(r.status, StatusCode::OK, "{copy}: {}", r.text());
    }
    assert_eq!(
        s.get(&play("s2/90p/2.m4s")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.get(&play("s31/90p/1.m4s")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.get(&play("s0/90p/1.m4s")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.get(&play("cenc/90p/99.m4s")).await.status,
        StatusCode::NOT_FOUND
    );
}

/// The viewer sees a request id and none of `internal`; the log has that id and `detail`.
fn check_generic(r: &Answer, log: &Log, internal: &[&str], detail: &str) {
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    let (_, request_id) = message
        .split_once("request id ")
        .unwrap_or_else(|| panic!("no request id in {message}"));
    let request_id = request_id.trim_end_matches(')');
    for word in internal {
        assert!(!message.contains(word), "{word:?} in {message}");
    }
    let logged = log.text();
    let line = logged
        .lines()
        .find(|l| l.contains(request_id))
        .unwrap_or_else(|| panic!("request id {request_id} not in the log:\n{logged}"));
    assert!(line.contains(detail), "{detail:?} not in {line}");
}

#[tokio::test]
async fn a_store_that_lost_the_media_gives_a_generic_502_and_the_log_the_detail() {
    let (log, _guard) = Log::install();
    let s = Server::new(ServerConfig::default()).await;
    let id = s.ready_asset(&media().stored).await;
    let play = |p: &str| format!("/play/{id}/{p}");
    let cached = s.get(&play("90p/1.m4s")).await;
    assert_eq!(cached.status, StatusCode::OK);
    std::fs::remove_file(s.outputs().join(format!("{id}/out/media/90p.mp4"))).unwrap();
    // What is cached is still served; what is not is a 502, never a 200.
    assert_eq!(s.get(&play("90p/1.m4s")).await.status, StatusCode::OK);
    let r = s.get(&play("s2/90p/1.m4s")).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "storage");
    let root = s.dir.path().to_string_lossy().to_string();
    check_generic(
        &r,
        &log,
        &["media/", "90p.mp4", "/tmp", &root, "No such file", &id],
        "media/90p.mp4",
    );
}

#[tokio::test]
async fn a_store_that_does_not_answer_gives_a_generic_504() {
    let (log, _guard) = Log::install();
    // An S3 endpoint that takes connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let objects = openvod_store::Objects::open(&openvod_store::ObjectsConfig::S3 {
        endpoint: Some(endpoint.clone()),
        source_bucket: "sources".into(),
        output_bucket: "outputs".into(),
        region: "us-east-1".into(),
        access_key_id: "test".into(),
        secret_access_key: "test-secret".into(),
        path_style: true,
        allow_http: true,
    })
    .unwrap();
    let mut config = ServerConfig::default();
    config.origin.store_timeout = Duration::from_millis(300);
    let s = Server::with_objects(tempfile::tempdir().unwrap(), objects, config).await;
    let id = s.queued_asset().await;
    s.commit_ready(&id, &format!("{id}/out")).await;
    let started = std::time::Instant::now();
    let r = s.get(&format!("/play/{id}/master.m3u8")).await;
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT, "{}", r.text());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(r.json()["error"]["code"], "storage_timeout");
    assert!(r.text().contains("did not answer in time"));
    check_generic(
        &r,
        &log,
        &["presentation.json", &id, "127.0.0.1", &endpoint],
        &format!("{id}/out/presentation.json"),
    );
    drop(silent);
}
