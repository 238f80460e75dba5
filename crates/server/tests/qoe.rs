//! Viewers' quality of experience in-process: CMCD on origin requests (query and headers)
//! counted per session without changing a byte, ETag or cache entry of what is served;
//! players' reports; an asset's figures from the API; and refusals of bad reports.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use openvod_server::ServerConfig;

/// CMCD as hls.js sends it in a query (CTA-5004 5.1: one percent-encoded parameter).
fn cmcd_query(dict: &str) -> String {
    let mut out = String::from("CMCD=");
    for b in dict.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn report(s: &Server, content_type: &str, body: &str) -> Answer {
    s.send(
        Request::post("/v1/qoe")
            .header("content-type", content_type)
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn cmcd_is_counted_per_session_and_changes_nothing_that_is_served() {
    let metrics = LocalMetrics::install();
    let mut config = ServerConfig::default();
    config.origin.max_object_bytes = 64 << 20;
    let s = Server::new(config).await;
    let id = s.ready_asset(&media().packaged).await;
    let play = |path: &str| format!("/play/{id}/{path}");

    let plain_master = s.get(&play("master.m3u8")).await;
    let plain_segment = s.get(&play("90p/1.m4s")).await;
    assert_eq!(plain_segment.status, StatusCode::OK);

    // Startup: the manifest and a first segment, both flagged `su`.
    let master = s
        .get(&format!(
            "{}?{}",
            play("master.m3u8"),
            cmcd_query("ot=m,sf=h,sid=\"s1\",su")
        ))
        .await;
    assert_eq!(master.body, plain_master.body);
    assert_eq!(master.header("etag"), plain_master.header("etag"));
    let first = s
        .get(&format!(
            "{}?{}",
            play("90p/1.m4s"),
            cmcd_query("bl=0,br=800,d=2000,mtp=5000,ot=v,sid=\"s1\",su")
        ))
        .await;
    assert_eq!(first.body, plain_segment.body);
    assert_eq!(first.header("etag"), plain_segment.header("etag"));
    // The CMCD parameter is not part of the shield's key: another viewer's CMCD hits.
    assert_eq!(first.header("x-cache"), Some("HIT"));

    // Header mode after the first frame, with a stall reported; an error in the session.
    let second = s
        .get_with(
            &play("90p/2.m4s"),
            &[
                ("cmcd-object", "br=800,d=2000,ot=v"),
                ("cmcd-request", "bl=4000,mtp=7000"),
                ("cmcd-session", "sid=\"s1\",sf=h"),
                ("cmcd-status", "bs"),
            ],
        )
        .await;
    assert_eq!(second.status, StatusCode::OK);
    let missing = s
        .get(&format!(
            "{}?{}",
            play("90p/999.m4s"),
            cmcd_query("ot=v,sid=\"s1\"")
        ))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    // Malformed CMCD is not counted and the object is still served.
    let malformed = s
        .get(&format!("{}?CMCD=br%3D%22x", play("90p/1.m4s")))
        .await;
    assert_eq!(malformed.status, StatusCode::OK);
    assert_eq!(
        metrics.value("openvod_cmcd_requests_total{result=\"malformed\"}"),
        1.0
    );
    // An error alone never opens a session.
    let stranger = s
        .get(&format!(
            "{}?{}",
            play("90p/999.m4s"),
            cmcd_query("sid=\"s2\"")
        ))
        .await;
    assert_eq!(stranger.status, StatusCode::NOT_FOUND);

    // The player's own report, as navigator.sendBeacon sends it.
    let r = report(
        &s,
        "text/plain;charset=UTF-8",
        &format!(
            r#"{{"asset":"{id}","session":"s1","startup_ms":700,"played_ms":4000,"rebuffers":1,"rebuffer_ms":500}}"#
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));

    assert_eq!(s.state.qoe.flush(&s.state.db, now_ms()).await.unwrap(), 1);
    let q = s.get(&format!("/v1/assets/{id}/qoe")).await;
    assert_eq!(q.status, StatusCode::OK, "{}", q.text());
    let q = q.json();
    let sum = &q["summary"];
    assert_eq!(sum["sessions"], 1, "{q}");
    assert_eq!(sum["started"], 1, "{q}");
    // The player's startup figure wins over CMCD's upper bound.
    assert_eq!(sum["startup_ms"]["p50"], 700, "{q}");
    assert_eq!(sum["bitrate_kbps"], 800, "{q}");
    assert_eq!(sum["rebuffers"], 1, "{q}: one stall, told both ways");
    assert_eq!(sum["rebuffer_ratio"], 500.0 / 4500.0, "{q}");
    assert_eq!(sum["origin_errors"], 1, "{q}");
    assert_eq!(sum["throughput_kbps"], 6000, "{q}");
    assert_eq!(sum["buffer_ms"], 2000, "{q}");
    let one = &q["sessions"][0];
    assert_eq!(one["session"], "s1");
    assert_eq!(one["outcome"], "started");
    assert_eq!(one["requests"], 4, "{one}");
    assert_eq!(q["series"].as_array().unwrap().len(), 1, "{q}");
    assert_eq!(metrics.sum("openvod_qoe_sessions_total"), 1.0);
    assert_eq!(metrics.sum("openvod_qoe_startup_seconds_count"), 1.0);
    assert_eq!(metrics.sum("openvod_qoe_rebuffers_total"), 1.0);

    // Written whole: a second flush of the same session replaces its row.
    report(
        &s,
        "application/json",
        &format!(r#"{{"asset":"{id}","session":"s1","played_ms":9000}}"#),
    )
    .await;
    s.state.qoe.flush(&s.state.db, now_ms()).await.unwrap();
    let q = s.get(&format!("/v1/assets/{id}/qoe")).await.json();
    assert_eq!(q["summary"]["sessions"], 1, "{q}");
    assert_eq!(q["sessions"][0]["played_ms"], 9000, "{q}");
}

#[tokio::test]
async fn bad_reports_are_refused_with_a_reason() {
    let s = Server::new(ServerConfig::default()).await;
    let id = s.ready_asset(&media().packaged).await;
    let queued = s.queued_asset().await;
    let cases: &[(&str, String, StatusCode, &str)] = &[
        (
            "application/json",
            "[]".into(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "application/json",
            format!(r#"{{"asset":"{id}","session":"s","startup_ms":600001}}"#),
            StatusCode::BAD_REQUEST,
            "invalid_report",
        ),
        (
            "application/json",
            format!(r#"{{"asset":"{id}","session":"s","startup_ms":5,"exit_before_start":true}}"#),
            StatusCode::BAD_REQUEST,
            "invalid_report",
        ),
        (
            "application/json",
            format!(r#"{{"asset":"{id}","session":"s","colour":"red"}}"#),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "application/json",
            format!(r#"{{"asset":"{id}","session":"{}"}}"#, "x".repeat(65)),
            StatusCode::BAD_REQUEST,
            "invalid_session",
        ),
        (
            "application/json",
            format!(r#"{{"asset":"{queued}","session":"s"}}"#),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "application/xml",
            format!(r#"{{"asset":"{id}","session":"s"}}"#),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "application/json",
            format!(r#"{{"asset":"{id}","session":"{}"}}"#, " ".repeat(5000)),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
    ];
    for (content_type, body, status, code) in cases {
        let r = report(&s, content_type, body).await;
        assert_eq!(r.status, *status, "{body}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], *code, "{body}");
    }
    assert_eq!(s.state.qoe.flush(&s.state.db, now_ms()).await.unwrap(), 0);
    let q = s.get(&format!("/v1/assets/{id}/qoe?hours=0")).await;
    assert_eq!(q.status, StatusCode::BAD_REQUEST);
}

fn now_ms() -> u64 {
    openvod_store::now_ms() as u64
}

#[tokio::test]
async fn a_flood_of_reports_is_refused_with_a_retry_hint() {
    let metrics = LocalMetrics::install();
    let s = Server::new(ServerConfig::default()).await;
    let id = s.ready_asset(&media().packaged).await;
    let mut statuses = Vec::new();
    for n in 0..40 {
        let r = report(
            &s,
            "application/json",
            &format!(r#"{{"asset":"{id}","session":"flood-{n}","startup_ms":10}}"#),
        )
        .await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(r.json()["error"]["code"], "rate_limited");
            assert_eq!(r.header("retry-after"), Some("1"));
        }
        statuses.push(r.status);
    }
    let counted = statuses
        .iter()
        .filter(|s| **s == StatusCode::NO_CONTENT)
        .count();
    // A burst of 20, and perhaps one more earned while the others ran.
    assert!((20..=22).contains(&counted), "{statuses:?}");
    assert_eq!(
        metrics.sum("openvod_qoe_reports_limited_total"),
        (40 - counted) as f64
    );
    s.state.qoe.flush(&s.state.db, now_ms()).await.unwrap();
    let q = s.get(&format!("/v1/assets/{id}/qoe")).await.json();
    assert_eq!(
        q["summary"]["sessions"], counted,
        "only the counted reports opened sessions"
    );
}
