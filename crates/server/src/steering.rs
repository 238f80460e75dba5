//! Multi-CDN content steering: the origin offers each manifest through the configured
//! pathways (`openvod_media::steering`) and answers players' steering requests
//! (`GET /steer/{id}/hls.json` and `/steer/{id}/dash.json`) with the pathways in order of
//! preference: a pathway whose health check fails, or whose viewers' requests show
//! errors or stalls, goes last.
//!
//! A pathway's health is this origin's own view: its probe of `{base}{health_path}`,
//! and the requests that reached it through that pathway (matched by their `Host`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use openvod_media::steering::{PathwayBase, PathwayId};
use openvod_media::{Object, ObjectPath};
use openvod_store::AssetStatus;

use crate::api::check_id;
use crate::{openapi, ApiError, AppState};

/// One CDN in front of the origin.
#[derive(Debug, Clone)]
pub struct Pathway {
    pub id: PathwayId,
    /// `https://cdn-a.example.com` (scheme and authority, no trailing `/`).
    pub base: String,
    /// Share of new sessions sent to it first, among healthy pathways.
    pub weight: u32,
}

/// `[steering]`: no pathways, no steering.
#[derive(Debug, Clone)]
pub struct SteeringConfig {
    pub pathways: Vec<Pathway>,
    /// How long players keep a steering answer.
    pub ttl: Duration,
    /// Probed on each pathway's base.
    pub health_path: String,
    pub health_every: Duration,
}

impl Default for SteeringConfig {
    fn default() -> Self {
        SteeringConfig {
            pathways: Vec::new(),
            ttl: Duration::from_secs(60),
            health_path: "/healthz".into(),
            health_every: Duration::from_secs(10),
        }
    }
}

/// Viewers' requests through one pathway in a window.
#[derive(Debug, Clone, Copy, Default)]
struct Traffic {
    requests: u32,
    errors: u32,
    starved: u32,
}

/// Requests of the current and the previous minute through a pathway.
#[derive(Debug, Clone, Copy, Default)]
struct PathwayHealth {
    probe_failed: bool,
    minute: u64,
    current: Traffic,
    previous: Traffic,
}

/// Fewest requests in two minutes before a pathway's error and stall ratios count.
const MIN_REQUESTS: u32 = 20;
/// Ratio of errors (or of stalled requests) that demotes a pathway.
const BAD_RATIO: f64 = 0.2;

impl PathwayHealth {
    fn roll(&mut self, minute: u64) {
        if minute != self.minute {
            self.previous = if minute == self.minute + 1 {
                self.current
            } else {
                Traffic::default()
            };
            self.current = Traffic::default();
            self.minute = minute;
        }
    }

    fn healthy(&self, minute: u64) -> bool {
        if self.probe_failed {
            return false;
        }
        let mut h = *self;
        h.roll(minute);
        let requests = h.current.requests + h.previous.requests;
        if requests < MIN_REQUESTS {
            return true;
        }
        let ratio = |n: u32| f64::from(n) / f64::from(requests);
        ratio(h.current.errors + h.previous.errors) < BAD_RATIO
            && ratio(h.current.starved + h.previous.starved) < BAD_RATIO
    }
}

/// The pathways' health as this origin sees it.
#[derive(Clone, Default)]
pub struct SteeringHealth(Arc<Mutex<HashMap<PathwayId, PathwayHealth>>>);

impl SteeringHealth {
    fn with(&self, id: &PathwayId, f: impl FnOnce(&mut PathwayHealth)) {
        if let Ok(mut map) = self.0.lock() {
            f(map.entry(id.clone()).or_default());
        }
    }

    fn healthy(&self, id: &PathwayId, minute: u64) -> bool {
        self.0
            .lock()
            .ok()
            .and_then(|m| m.get(id).map(|h| h.healthy(minute)))
            .unwrap_or(true)
    }

    /// Probes every pathway every `health_every` until `stop` resolves.
    pub async fn run(&self, config: SteeringConfig, stop: impl std::future::Future<Output = ()>) {
        if config.pathways.is_empty() {
            return;
        }
        // The pathways are the operator's own configuration, not a user's URL: a plain
        // client, bounded in time, that follows no redirect.
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .redirect(reqwest::redirect::Policy::none())
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "steering: no health checks");
                return;
            }
        };
        tokio::pin!(stop);
        loop {
            for p in &config.pathways {
                let url = format!("{}{}", p.base, config.health_path);
                let ok = matches!(client.get(&url).send().await, Ok(r) if r.status().is_success());
                self.with(&p.id, |h| {
                    if h.probe_failed == ok {
                        tracing::info!(pathway = %p.id, healthy = ok, "steering: pathway health changed");
                    }
                    h.probe_failed = !ok;
                });
                metrics::gauge!("openvod_steering_pathway_up", "pathway" => p.id.to_string())
                    .set(if ok { 1.0 } else { 0.0 });
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(config.health_every) => {}
            }
        }
    }
}

fn minute_now() -> u64 {
    u64::try_from(openvod_store::now_ms()).unwrap_or(0) / 60_000
}

/// Counts a viewer's request that reached the origin through a pathway (its `Host` is
/// the pathway's): an error answer (5xx, or 404 on an object of a ready asset) and a
/// CMCD `bs` count against it.
pub(crate) fn observe(state: &AppState, headers: &HeaderMap, status: StatusCode, starved: bool) {
    let steering = &state.config.steering;
    if steering.pathways.is_empty() {
        return;
    }
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return;
    };
    let Some(p) = steering
        .pathways
        .iter()
        .find(|p| p.base.split_once("://").map(|(_, a)| a) == Some(host))
    else {
        return;
    };
    let minute = minute_now();
    state.steering.with(&p.id, |h| {
        h.roll(minute);
        h.current.requests += 1;
        h.current.errors += u32::from(status.is_server_error() || status == StatusCode::NOT_FOUND);
        h.current.starved += u32::from(starved);
    });
}

/// The steered form of a multivariant playlist or an MPD; `None` for other objects or
/// without pathways.
pub(crate) fn steer(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    path: &ObjectPath,
    body: &[u8],
) -> Option<String> {
    let steering = &state.config.steering;
    if steering.pathways.is_empty() {
        return None;
    }
    let format = match path.object {
        Object::MultivariantPlaylist => "hls",
        Object::Mpd => "dash",
        _ => return None,
    };
    let text = std::str::from_utf8(body).ok()?;
    // The manifest's folder: its path without its file name (`cenc/`, `s4/`, or none).
    let shown = path.to_string();
    let folder = shown.rsplit_once('/').map_or("", |(dir, _)| dir);
    let folder = if folder.is_empty() {
        String::new()
    } else {
        format!("{folder}/")
    };
    let bases: Vec<PathwayBase<'_>> = steering
        .pathways
        .iter()
        .map(|p| PathwayBase {
            id: &p.id,
            folder_url: format!("{}/play/{id}/{folder}", p.base),
        })
        .collect();
    let server = format!(
        "{}/steer/{id}/{format}.json",
        crate::access::public_base(state, headers)
    );
    Some(match format {
        "hls" => openvod_media::steering::steer_multivariant(text, &bases, &server),
        _ => openvod_media::steering::steer_mpd(text, &bases, &server),
    })
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/steer/{id}/{format}", get(steering_answer))
}

/// A steering request.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct SteeringParams {
    /// The asset (32 lowercase hex digits).
    #[param(pattern = "^[0-9a-f]{32}$")]
    id: String,
    /// hls.json (RFC 8216bis 7.2) or dash.json (DASH-IF Content Steering).
    #[param(pattern = "^(hls|dash)\\.json$")]
    format: String,
}

#[utoipa::path(
    get,
    path = "/steer/{id}/{format}",
    operation_id = "steering",
    tag = "origin",
    summary = "Content steering: the pathways (CDNs) in order of preference, healthy ones first",
    params(
        SteeringParams,
        ("_HLS_pathway" = Option<String>, Query, description = "The pathway the HLS player uses now"),
        ("_DASH_pathway" = Option<String>, Query, description = "The service location the DASH player uses now"),
    ),
    responses(
        (status = 200, description = "VERSION, TTL, RELOAD-URI and PATHWAY-PRIORITY (HLS) or SERVICE-LOCATION-PRIORITY (DASH)", content_type = "application/json", body = Object),
        (status = 404, response = openapi::NotFound),
    ),
)]
async fn steering_answer(
    State(state): State<AppState>,
    Path(SteeringParams { id, format }): Path<SteeringParams>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    let (priority_key, current_key) = match format.as_str() {
        "hls.json" => ("PATHWAY-PRIORITY", "_HLS_pathway"),
        "dash.json" => ("SERVICE-LOCATION-PRIORITY", "_DASH_pathway"),
        _ => {
            return Err(ApiError::not_found(format!(
                "no steering format {format:?}"
            )))
        }
    };
    let steering = &state.config.steering;
    let not_found = || ApiError::not_found(format!("no steered asset {id}"));
    if steering.pathways.is_empty() {
        return Err(not_found());
    }
    let asset = state.db.asset(&id).await?.ok_or_else(not_found)?;
    if asset.status != AssetStatus::Ready {
        return Err(not_found());
    }
    let current = query.as_deref().and_then(|q| {
        q.split('&')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| *k == current_key)
            .and_then(|(_, v)| PathwayId::parse(v))
    });
    let order = priority(
        steering,
        &state.steering,
        current.as_ref(),
        minute_now(),
        rand_unit(),
    );
    let body = serde_json::json!({
        "VERSION": 1,
        "TTL": steering.ttl.as_secs().max(1),
        "RELOAD-URI": format!("/steer/{id}/{format}"),
        priority_key: order.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
    });
    let mut r = (StatusCode::OK, axum::Json(body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    crate::origin::cors(r.headers_mut());
    Ok(r)
}

/// The pathways in order: healthy before unhealthy; among the healthy, the one the
/// player uses now first (it keeps what works), else one drawn by weight with `draw`
/// in [0, 1), then the rest by weight.
fn priority(
    config: &SteeringConfig,
    health: &SteeringHealth,
    current: Option<&PathwayId>,
    minute: u64,
    draw: f64,
) -> Vec<PathwayId> {
    let (mut healthy, unhealthy): (Vec<&Pathway>, Vec<&Pathway>) = config
        .pathways
        .iter()
        .partition(|p| health.healthy(&p.id, minute));
    healthy.sort_by_key(|p| std::cmp::Reverse(p.weight));
    let first = match current.and_then(|c| healthy.iter().position(|p| &p.id == c)) {
        Some(i) => Some(i),
        None => {
            let total: u64 = healthy.iter().map(|p| u64::from(p.weight)).sum();
            let mut point = draw * total as f64;
            healthy.iter().position(|p| {
                point -= f64::from(p.weight);
                point < 0.0
            })
        }
    };
    if let Some(i) = first {
        let chosen = healthy.remove(i);
        healthy.insert(0, chosen);
    }
    healthy
        .into_iter()
        .chain(unhealthy)
        .map(|p| p.id.clone())
        .collect()
}

/// A number in [0, 1) that differs between requests (the weighted first choice).
fn rand_unit() -> f64 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let n = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    f64::from(n) / (f64::from(u32::MAX) + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SteeringConfig {
        let p = |id: &str, weight| Pathway {
            id: PathwayId::parse(id).unwrap(),
            base: format!("http://{id}.example"),
            weight,
        };
        SteeringConfig {
            pathways: vec![p("a", 1), p("b", 3)],
            ..SteeringConfig::default()
        }
    }

    fn ids(v: Vec<PathwayId>) -> Vec<String> {
        v.into_iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn healthy_first_current_kept_new_sessions_by_weight() {
        let c = config();
        let h = SteeringHealth::default();
        let a = PathwayId::parse("a").unwrap();
        assert_eq!(ids(priority(&c, &h, Some(&a), 0, 0.9)), ["a", "b"]);
        // b weighs 3 of 4: draws below 0.75 start there.
        assert_eq!(ids(priority(&c, &h, None, 0, 0.1)), ["b", "a"]);
        assert_eq!(ids(priority(&c, &h, None, 0, 0.8)), ["a", "b"]);
        h.with(&a, |x| x.probe_failed = true);
        assert_eq!(ids(priority(&c, &h, Some(&a), 0, 0.9)), ["b", "a"]);
    }

    #[test]
    fn errors_and_stalls_through_a_pathway_demote_it() {
        let c = config();
        let h = SteeringHealth::default();
        let b = PathwayId::parse("b").unwrap();
        let add = |minute, requests, errors, starved| {
            h.with(&b, |x| {
                x.roll(minute);
                x.current.requests += requests;
                x.current.errors += errors;
                x.current.starved += starved;
            })
        };
        add(10, 10, 5, 0);
        assert!(h.healthy(&b, 10), "too few requests to judge");
        add(11, 10, 0, 0);
        assert!(!h.healthy(&b, 11), "5 errors in 20 requests");
        assert_eq!(ids(priority(&c, &h, Some(&b), 11, 0.0)), ["a", "b"]);
        assert!(h.healthy(&b, 13), "forgotten after two minutes");
        add(20, 30, 0, 10);
        assert!(!h.healthy(&b, 20), "a third of the requests stalled");
    }
}
