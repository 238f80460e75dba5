//! `/healthz` (the process runs), `/readyz` (database and store answer) and `/metrics`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{AppState, ServerConfig};

pub(crate) fn routes(config: &ServerConfig) -> Router<AppState> {
    // The document depends on the configuration only: made once, served as bytes.
    let document = Bytes::from(crate::openapi::document(config).to_string());
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics_text))
        .route("/v1/openapi.json", get(move || openapi(document.clone())))
}

/// `/healthz`.
#[derive(Serialize, ToSchema)]
pub(crate) struct Health {
    #[schema(schema_with = ok)]
    status: &'static str,
}

fn ok() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["ok"]))
        .build()
}

#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    summary = "The process runs",
    responses((status = 200, description = "ok", body = Health)),
)]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// `/v1/openapi.json` (this document).
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    summary = "This document",
    responses((status = 200, description = "OpenAPI 3.1", body = Object, content_type = "application/json")),
)]
pub(crate) async fn openapi(document: Bytes) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document)
}

/// `/readyz`: whether the database and the store answer, and if not, what they said.
#[derive(Serialize, ToSchema)]
pub(crate) struct Readiness {
    #[schema(schema_with = readiness)]
    status: &'static str,
    /// `ok` or the error.
    database: String,
    /// `ok` or the error.
    store: String,
}

fn readiness() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["ready", "unavailable"]))
        .build()
}

#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    summary = "The database and the store answer",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Unavailable", body = Readiness),
    ),
)]
pub(crate) async fn ready(State(state): State<AppState>) -> impl IntoResponse {
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
    let body = Readiness {
        status: if ok { "ready" } else { "unavailable" },
        database: db.unwrap_or_else(|| "ok".into()),
        store: store.unwrap_or_else(|| "ok".into()),
    };
    (status, Json(body))
}

#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    summary = "Prometheus metrics",
    responses((status = 200, description = "Text exposition format 0.0.4", content_type = "text/plain", body = String)),
)]
/// Prometheus text: gauges read from the database at scrape time, counters and
/// histograms recorded as things happen.
pub(crate) async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    if let Ok(counts) = state.db.count_assets_by_status().await {
        for status in openvod_store::AssetStatus::ALL.map(openvod_store::AssetStatus::as_str) {
            let n = counts
                .iter()
                .find(|(s, _)| s.as_str() == status)
                .map_or(0, |(_, n)| *n);
            metrics::gauge!("openvod_assets", "status" => status).set(n as f64);
        }
    }
    if let Ok(counts) = state.db.count_assets_by_storage().await {
        for storage in openvod_store::StorageState::ALL {
            let n = counts
                .iter()
                .find(|(s, _)| *s == storage)
                .map_or(0, |(_, n)| *n);
            metrics::gauge!("openvod_ready_assets", "storage" => storage.as_str()).set(n as f64);
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
        let doc = crate::openapi::document(&crate::ServerConfig::default());
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
            include_str!("fleet.rs"),
            include_str!("images/mod.rs"),
            include_str!("images/poster.rs"),
            include_str!("downloads.rs"),
            include_str!("tracks/mod.rs"),
            include_str!("clips.rs"),
            include_str!("qoe/mod.rs"),
            include_str!("steering.rs"),
            include_str!("tiers.rs"),
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
