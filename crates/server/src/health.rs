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
