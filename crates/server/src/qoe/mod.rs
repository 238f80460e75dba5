//! Viewers' quality of experience: CMCD read on every origin request (`observe`), players'
//! own reports (`POST /v1/qoe`), and an asset's figures (`GET /v1/assets/{id}/qoe`).
//!
//! CMCD never reaches a cache identity: the shield is keyed by asset version and object
//! path, manifests signed for a viewer carry only the signing parameters to their
//! children, and signatures are checked on the query without its `CMCD` parameter.

mod limit;
mod meter;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use openvod_media::{Object, ObjectPath};
use openvod_qoe::{Cmcd, PlayerReport, QoePoint, QoeSummary, Requested, SessionFigures, SessionId};
use openvod_store::AssetStatus;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub use meter::QoeMeter;

use crate::access::{self, Playback};
use crate::api::{check_id, is_id, AssetId};
use crate::{openapi, ApiError, AppState};

/// The headers CMCD may come in (CTA-5004 5.2).
pub(crate) const CMCD_HEADERS: [&str; 4] =
    ["cmcd-object", "cmcd-request", "cmcd-session", "cmcd-status"];

/// Largest player report.
const MAX_REPORT_BYTES: usize = 4096;
/// Most session rows one asset's figures are made from (the newest).
const MAX_ROWS: u32 = 20_000;
/// Sessions listed one by one in an asset's figures.
const RECENT: usize = 20;

/// The player report, open to players (like the origin).
pub(crate) fn report_routes() -> Router<AppState> {
    Router::new().route("/v1/qoe", post(report).options(report_preflight))
}

/// An asset's figures, on the control API.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/v1/assets/{id}/qoe", get(asset_qoe))
}

/// Counts what a request of `/play/{asset}/{path}` said through CMCD, once the origin
/// answered it with `status`; true when it said its buffer ran dry (`bs`).
pub(crate) fn observe(
    state: &AppState,
    asset: &str,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    status: StatusCode,
) -> bool {
    if !is_id(asset) {
        return false;
    }
    let read = match query.map(Cmcd::from_query) {
        Some(Ok(Some(c))) => Ok(Some(c)),
        Some(Err(e)) => Err(e),
        _ => Cmcd::from_headers(
            CMCD_HEADERS
                .iter()
                .filter_map(|h| headers.get(*h))
                .map(|v| v.as_bytes()),
        ),
    };
    let cmcd = match read {
        Ok(Some(c)) => c,
        Ok(None) => {
            metrics::counter!("openvod_cmcd_requests_total", "result" => "absent").increment(1);
            return false;
        }
        Err(e) => {
            tracing::debug!(asset, error = %e, "CMCD not read");
            metrics::counter!("openvod_cmcd_requests_total", "result" => "malformed").increment(1);
            return false;
        }
    };
    // A refused request says nothing of the viewer's playback (and must not let anyone
    // without access write sessions of the asset).
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
        return false;
    }
    let requested = match ObjectPath::parse(path).map(|p| p.object) {
        Ok(Object::MediaSegment(..)) => Requested::Media,
        Ok(Object::InitSegment(_)) => Requested::Init,
        Ok(o) if o.is_manifest() => Requested::Manifest,
        _ => Requested::Other,
    };
    let answered = status.is_success() || status.is_redirection();
    state
        .qoe
        .record_request(asset, requested, answered, &cmcd, meter::now_ms());
    cmcd.starved
}

/// A player's report on its session: every figure is the session's total so far, so
/// sending it again (on each state change, and when the page goes) changes nothing.
/// Each client address may send 20 at once, then one a second (429 past that).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct QoeReport {
    /// The asset played.
    #[schema(pattern = "^[0-9a-f]{32}$")]
    asset: String,
    /// The player's session id: the same as its CMCD `sid`, when it sends CMCD too.
    #[schema(min_length = 1, max_length = 64, pattern = "^[ -~]+$")]
    session: String,
    /// From the play request to the first frame.
    #[schema(maximum = 600000)]
    #[serde(default, deserialize_with = "crate::json::optional_whole_number")]
    startup_ms: Option<u64>,
    /// Stalls after the first frame.
    #[schema(maximum = 100000)]
    #[serde(default, deserialize_with = "crate::json::whole_number")]
    rebuffers: u64,
    /// Time spent stalled after the first frame.
    #[schema(maximum = 172800000)]
    #[serde(default, deserialize_with = "crate::json::whole_number")]
    rebuffer_ms: u64,
    /// Time spent playing.
    #[schema(maximum = 172800000)]
    #[serde(default, deserialize_with = "crate::json::whole_number")]
    played_ms: u64,
    /// Errors the player met (fatal or not).
    #[schema(maximum = 100000)]
    #[serde(default, deserialize_with = "crate::json::whole_number")]
    errors: u64,
    /// The viewer left, or the player gave up, before the first frame.
    #[serde(default)]
    exit_before_start: bool,
}

#[utoipa::path(
    post,
    path = "/v1/qoe",
    operation_id = "reportQoe",
    tag = "origin",
    summary = "A player's report on its session (startup time, stalls, errors, exit before start), for players that cannot send CMCD or to add what CMCD cannot say",
    description = "Open to players, like the origin. For an asset whose playback is signed, the report carries the playback signature (in its query or cookies) with a policy covering /play/{id}/qoe. Sent as application/json or as text/plain (navigator.sendBeacon).",
    request_body(content = QoeReport, content_type = "application/json"),
    responses(
        (status = 204, description = "Counted", headers(("Access-Control-Allow-Origin" = String))),
        (status = 400, response = openapi::BadRequest),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 413, response = openapi::TooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 429, response = openapi::TooManyRequests),
    ),
)]
async fn report(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Result<Response, ApiError> {
    let client = access::client_addr(&request);
    let (headers, body) = crate::drm::bounded_body(
        request,
        &["application/json", "text/plain"],
        false,
        MAX_REPORT_BYTES,
    )
    .await?;
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?;
    let r: QoeReport = crate::json::object(value)?;
    check_id(&r.asset)?;
    let sid = SessionId::parse(&r.session).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_session",
            "session must be 1 to 64 printable ASCII characters",
        )
    })?;
    let not_found = || ApiError::not_found(format!("no ready asset {}", r.asset));
    let asset = state.db.asset(&r.asset).await?.ok_or_else(not_found)?;
    if asset.status != AssetStatus::Ready {
        return Err(not_found());
    }
    if access::playback_of(&state, &asset) == Playback::Signed {
        access::check_viewer(
            &state,
            &headers,
            &format!("/play/{}/qoe", asset.id),
            query.as_deref(),
            client,
        )?;
    }
    let figures = PlayerReport {
        startup_ms: r.startup_ms,
        rebuffers: u32::try_from(r.rebuffers).unwrap_or(u32::MAX),
        rebuffer_ms: r.rebuffer_ms,
        played_ms: r.played_ms,
        errors: u32::try_from(r.errors).unwrap_or(u32::MAX),
        exited_before_start: r.exit_before_start,
    };
    figures
        .check()
        .map_err(|e| ApiError::bad_request("invalid_report", e.to_string()))?;
    if let Err(wait) = state
        .qoe
        .reports
        .take(client.map(|c| c.ip()), std::time::Instant::now())
    {
        metrics::counter!("openvod_qoe_reports_limited_total").increment(1);
        let mut answer = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many reports from this address",
        )
        .into_response();
        let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
        if let Ok(v) = axum::http::HeaderValue::from_str(&seconds.to_string()) {
            answer
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        crate::origin::cors(answer.headers_mut());
        return Ok(answer);
    }
    state
        .qoe
        .record_report(&asset.id, &sid, &figures, meter::now_ms());
    let mut answer = StatusCode::NO_CONTENT.into_response();
    crate::origin::cors(answer.headers_mut());
    Ok(answer)
}

#[utoipa::path(
    options,
    path = "/v1/qoe",
    operation_id = "reportQoePreflight",
    tag = "origin",
    summary = "CORS preflight of the player report",
    responses((status = 204, description = "POST from any origin", headers(
        ("Access-Control-Allow-Origin" = String),
        ("Access-Control-Allow-Methods" = String),
        ("Access-Control-Allow-Headers" = String),
        ("Access-Control-Max-Age" = String),
    ))),
)]
async fn report_preflight() -> Response {
    crate::origin::preflight_post()
}

/// The window an asset's figures cover.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct QoeWindow {
    /// Sessions that began in the last this many hours (default 168: a week).
    #[param(minimum = 1, maximum = 2160)]
    hours: Option<u32>,
    /// Width of each point of the series, in minutes (widened to at most 200 points;
    /// default 60).
    #[param(minimum = 1, maximum = 1440)]
    bucket_minutes: Option<u32>,
}

/// An asset's quality of experience.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AssetQoeView {
    asset: String,
    /// The window: sessions that began from `from_ms` to `now_ms` (epoch milliseconds).
    from_ms: u64,
    now_ms: u64,
    /// Width of each point of `series`.
    bucket_ms: u64,
    /// Every session of the window (the newest 20 000 at most).
    #[schema(value_type = Object)]
    summary: QoeSummary,
    /// The same figures per bucket of session start, oldest first; empty buckets are
    /// left out.
    #[schema(value_type = Vec<Object>)]
    series: Vec<QoePoint>,
    /// The newest sessions, one by one.
    sessions: Vec<SessionView>,
}

/// One session, merged across the origins that served it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionView {
    session: String,
    first_ms: u64,
    last_ms: u64,
    /// started, starting, never_started or unconfirmed (fetched media, then went quiet
    /// without a sign of playing).
    #[schema(value_type = String)]
    outcome: openvod_qoe::Outcome,
    startup_ms: Option<u64>,
    rebuffers: u32,
    rebuffer_ms: u64,
    played_ms: u64,
    bitrate_kbps: Option<u32>,
    throughput_kbps: Option<u32>,
    buffer_ms: Option<u32>,
    requests: u32,
    origin_errors: u32,
    player_errors: u32,
}

#[utoipa::path(
    get,
    path = "/v1/assets/{id}/qoe",
    operation_id = "assetQoe",
    tag = "assets",
    summary = "An asset's quality of experience: sessions, startup time, rebuffering, bit rate played, throughput and buffer, overall and over time",
    params(AssetId, QoeWindow),
    responses(
        (status = 200, body = AssetQoeView),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 404, response = openapi::NotFound),
    ),
)]
async fn asset_qoe(
    State(state): State<AppState>,
    Path(AssetId { id }): Path<AssetId>,
    window: Result<Query<QoeWindow>, QueryRejection>,
) -> Result<Json<AssetQoeView>, ApiError> {
    check_id(&id)?;
    let Query(window) = window?;
    let hours = window.hours.unwrap_or(168);
    let bucket_minutes = window.bucket_minutes.unwrap_or(60);
    if !(1..=2160).contains(&hours) || !(1..=1440).contains(&bucket_minutes) {
        return Err(ApiError::bad_request(
            "invalid_window",
            "hours must be 1 to 2160 and bucket_minutes 1 to 1440",
        ));
    }
    state
        .db
        .asset(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no asset {id}")))?;
    let now_ms = meter::now_ms();
    let from_ms = now_ms.saturating_sub(u64::from(hours) * 3_600_000);
    let rows = state
        .db
        .qoe_sessions(&id, i64::try_from(from_ms).unwrap_or(i64::MAX), MAX_ROWS)
        .await?;
    // One session per id, merged across the origins that wrote a row of it.
    let mut merged: std::collections::BTreeMap<String, SessionFigures> = Default::default();
    for row in rows {
        let Ok(f) = serde_json::from_str::<SessionFigures>(&row.figures) else {
            tracing::warn!(asset = %id, session = %row.session_id, "unreadable session row");
            continue;
        };
        merged.entry(row.session_id).or_default().merge(&f);
    }
    let sessions: Vec<(String, SessionFigures)> = merged.into_iter().collect();
    let figures: Vec<SessionFigures> = sessions.iter().map(|(_, f)| f.clone()).collect();
    let summary = openvod_qoe::summarise(&figures, now_ms);
    let (bucket_ms, series) = openvod_qoe::series(
        &figures,
        from_ms,
        now_ms,
        u64::from(bucket_minutes) * 60_000,
    );
    let mut recent: Vec<&(String, SessionFigures)> = sessions.iter().collect();
    recent.sort_by_key(|(_, f)| std::cmp::Reverse(f.first_ms));
    let sessions = recent
        .into_iter()
        .take(RECENT)
        .map(|(sid, f)| SessionView {
            session: sid.clone(),
            first_ms: f.first_ms,
            last_ms: f.last_ms,
            outcome: f.outcome(now_ms, openvod_qoe::IDLE_MS),
            startup_ms: f.startup(),
            rebuffers: f.rebuffers(),
            rebuffer_ms: f.rebuffer_ms,
            played_ms: f.played_ms,
            bitrate_kbps: f.bitrate_kbps(),
            throughput_kbps: f.throughput_kbps(),
            buffer_ms: f.buffer_ms(),
            requests: f.requests,
            origin_errors: f.origin_errors,
            player_errors: f.player_errors,
        })
        .collect();
    Ok(Json(AssetQoeView {
        asset: id,
        from_ms,
        now_ms,
        bucket_ms,
        summary,
        series,
        sessions,
    }))
}
