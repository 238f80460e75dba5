//! HTTP for openvod: the control API (`/v1/...`), the origin (`/play/...`), server-sent
//! events, health and Prometheus metrics. Handlers are thin: state lives in the database
//! and the object store (`openvod_store`), so any number of these servers can run side by
//! side.

pub mod access;
mod api;
mod buffers;
mod clips;
mod downloads;
mod drm;
mod error;
mod events;
mod fleet;
mod health;
mod images;
pub mod jit;
mod json;
mod openapi;
mod origin;
mod preview;
pub mod qoe;
pub mod shield;
pub mod steering;
pub mod tiers;
mod tracks;
pub mod tus;
mod ui;
pub mod usage;
pub mod webhooks;

use std::sync::{Arc, OnceLock};

use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use openvod_store::{Db, Objects};

pub use error::{ApiError, ErrorBody, ErrorDetail};

/// Settings of the HTTP side.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest accepted upload; a larger body is answered with 413.
    pub max_upload_bytes: u64,
    /// `DELETE /v1/assets/{id}` also deletes the source object.
    pub delete_sources: bool,
    /// Template for uploads that name none.
    pub default_template: String,
    /// Templates an upload may name.
    pub templates: Vec<String>,
    /// Runs of each stage before an asset fails.
    pub max_attempts: u32,
    /// The workers' lease: a worker not seen for this long is lost.
    pub worker_lease: std::time::Duration,
    /// Admin and upload tokens, signed playback.
    pub access: access::AccessConfig,
    /// Whether this server terminates TLS itself (then viewer URLs are `https`).
    pub tls: bool,
    /// Packaging on request and the origin shield.
    pub origin: jit::OriginConfig,
    /// Where webhooks may point (`[outbound] allow`).
    pub outbound: openvod_net::OutboundPolicy,
    /// The operator's rates and the price book an asset's cost is shown at.
    pub cost: CostSettings,
    /// Multi-CDN content steering (`[steering]`).
    pub steering: steering::SteeringConfig,
    /// Storage tiers (`[tiers]`).
    pub tiers: tiers::TiersConfig,
}

/// What an asset's recorded work and bytes are priced at (`[cost]`).
#[derive(Debug, Clone)]
pub struct CostSettings {
    pub rates: openvod_cost::OwnRates,
    pub book: openvod_cost::PriceBook,
}

impl Default for CostSettings {
    fn default() -> Self {
        CostSettings {
            rates: openvod_cost::OwnRates::default(),
            book: openvod_cost::PriceBook::built_in(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_upload_bytes: 20 << 30,
            delete_sources: false,
            default_template: "default".into(),
            templates: vec!["default".into()],
            max_attempts: 3,
            worker_lease: std::time::Duration::from_secs(60),
            access: access::AccessConfig::default(),
            tls: false,
            origin: jit::OriginConfig::default(),
            outbound: openvod_net::OutboundPolicy::default(),
            cost: CostSettings::default(),
            steering: steering::SteeringConfig::default(),
            tiers: tiers::TiersConfig::default(),
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub objects: Objects,
    pub config: Arc<ServerConfig>,
    /// The key store, for licences, AES-128 keys and SPEKE; `None` without a master key.
    pub keys: Option<openvod_drm::KeyStore>,
    /// Generated objects (the origin shield).
    pub shield: shield::Shield,
    /// Assets packaged on request, as loaded from the store.
    pub(crate) jit: jit::JitAssets,
    /// What the origin served of each asset, until it is flushed to the database.
    pub served: usage::ServedMeter,
    /// Viewers' sessions this origin follows, until they are flushed to the database.
    pub qoe: qoe::QoeMeter,
    /// The pathways' health as this origin sees it (content steering).
    pub steering: steering::SteeringHealth,
    /// Moves assets between the hot and the cold class for the API.
    pub mover: Arc<openvod_store::TierMover>,
}

impl AppState {
    pub fn new(
        db: Db,
        objects: Objects,
        config: ServerConfig,
        keys: Option<openvod_drm::KeyStore>,
    ) -> AppState {
        AppState {
            shield: shield::Shield::new(config.origin.cache_bytes),
            jit: jit::JitAssets::new(&config.origin),
            served: usage::ServedMeter::default(),
            qoe: qoe::QoeMeter::default(),
            steering: steering::SteeringHealth::default(),
            mover: Arc::new(openvod_store::TierMover::new(
                db.clone(),
                objects.clone(),
                format!("server-{}-{}", std::process::id(), openvod_store::now_ms()),
                config.tiers.settings.clone(),
            )),
            db,
            objects,
            config: Arc::new(config),
            keys,
        }
    }
}

/// Which parts a process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    pub api: bool,
    pub origin: bool,
}

/// The process-wide Prometheus recorder (installed once).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let seconds = [
                0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
            ];
            let speed = [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0];
            let startup = [0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 60.0];
            let kbps = [
                200.0, 400.0, 800.0, 1500.0, 3000.0, 6000.0, 12000.0, 25000.0, 50000.0, 100000.0,
            ];
            let buffer = [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0];
            let builder = || {
                PrometheusBuilder::new()
                    .set_buckets_for_metric(Matcher::Full("openvod_task_seconds".into()), &seconds)
                    .and_then(|b| {
                        b.set_buckets_for_metric(
                            Matcher::Full("openvod_encode_speed".into()),
                            &speed,
                        )
                    })
                    .and_then(|b| {
                        b.set_buckets_for_metric(
                            Matcher::Full("openvod_qoe_startup_seconds".into()),
                            &startup,
                        )
                    })
                    .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_kbps".into()), &kbps))
                    .and_then(|b| {
                        b.set_buckets_for_metric(
                            Matcher::Full("openvod_qoe_buffer_seconds".into()),
                            &buffer,
                        )
                    })
            };
            match builder() {
                Ok(b) => b
                    .install_recorder()
                    .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder().handle()),
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

/// The routes of the given roles; health and metrics are always served.
pub fn router(state: AppState, roles: Roles) -> Router {
    let _ = metrics_handle();
    let mut app = health::routes(&state.config);
    if roles.api {
        let control = api::routes()
            .merge(access::routes())
            .merge(events::routes())
            .merge(webhooks::routes())
            .merge(fleet::routes())
            .merge(tus::routes())
            .merge(images::control_routes())
            .merge(tracks::routes())
            .merge(clips::routes())
            .merge(tiers::routes())
            .merge(qoe::routes())
            .route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                access::control_auth,
            ));
        app = app
            .merge(control)
            .merge(drm::speke_routes())
            .merge(ui::routes());
    }
    if roles.api || roles.origin {
        app = app.merge(qoe::report_routes());
    }
    if roles.origin {
        app = app
            .merge(origin::routes())
            .merge(images::routes())
            .merge(steering::routes())
            .merge(downloads::routes())
            .merge(drm::licence_routes());
    }
    app.fallback(|| async { ApiError::not_found("no such route") })
        .with_state(state)
}
