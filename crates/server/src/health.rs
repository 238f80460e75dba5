//! `/healthz` (the process runs), `/readyz` (database and store answer) and `/metrics`.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics_text))
        .route("/v1/openapi.json", get(openapi))
}

/// The OpenAPI 3.0 document of every route (`crates/server/openapi.json`).
pub(crate) const OPENAPI: &str = include_str!("../openapi.json");

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let db = state.db.ping().await.err().map(|e| e.to_string());
    let store = state
        .objects
        .outputs
        .head("readyz-probe")
        .await
        .err()
        .map(|e| e.to_string());
    let ok = db.is_none() && store.is_none();
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ok { "ready" } else { "unavailable" },
        "database": db.unwrap_or_else(|| "ok".into()),
        "store": store.unwrap_or_else(|| "ok".into()),
    });
    (status, Json(body))
}

/// Prometheus text: gauges read from the database at scrape time, counters and
/// histograms recorded as things happen.
async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    if let Ok(counts) = state.db.count_assets_by_status().await {
        for status in ["queued", "processing", "ready", "failed", "cancelled"] {
            let n = counts
                .iter()
                .find(|(s, _)| s.as_str() == status)
                .map_or(0, |(_, n)| *n);
            metrics::gauge!("openvod_assets", "status" => status).set(n as f64);
        }
    }
    if let Ok(n) = state.db.pending_tasks().await {
        metrics::gauge!("openvod_queue_depth").set(n as f64);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics_handle().render(),
    )
}

#[cfg(test)]
mod tests {
    /// Every route the server has is in the document, and nothing else.
    #[test]
    fn openapi_lists_every_route() {
        let doc: serde_json::Value = serde_json::from_str(super::OPENAPI).unwrap();
        let mut documented: Vec<String> =
            doc["paths"].as_object().unwrap().keys().cloned().collect();
        documented.sort();
        let sources = [
            include_str!("api.rs"),
            include_str!("origin.rs"),
            include_str!("events.rs"),
            include_str!("health.rs"),
            include_str!("webhooks.rs"),
            include_str!("tus.rs"),
            include_str!("access.rs"),
            include_str!("drm.rs"),
        ];
        let mut routed: Vec<String> = sources
            .iter()
            .flat_map(|s| s.match_indices(".route(").map(move |(i, _)| &s[i + 7..]))
            .filter_map(|rest| rest.trim_start().strip_prefix('"')?.split('"').next())
            .filter(|p| p.starts_with('/'))
            .map(|p| p.replace("{*path}", "{path}"))
            .collect();
        routed.sort();
        routed.dedup();
        assert_eq!(documented, routed);
    }
}
