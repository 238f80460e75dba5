//! Webhooks: the API to register them, and the sender that delivers events to them.
//!
//! Every delivery is a POST of JSON with the header
//! `openvod-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`;
//! a receiver recomputes the HMAC over the timestamp, a dot and the raw body, compares
//! in constant time, and rejects old timestamps to stop replays.
//!
//! A webhook's URL is checked against the outbound policy when it is registered and
//! before every delivery, and the addresses its host resolves to when the delivery
//! connects (`openvod_net`). A refused delivery fails at once, with the reason in the
//! delivery log: the policy would refuse every retry too.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use openvod_net::{OutboundClient, OutboundPolicy};
use openvod_store::{Db, Delivery, DueDelivery, Webhook};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;
use utoipa::{IntoParams, ToSchema};

use crate::json::JsonBody;
use crate::{openapi, ApiError, AppState};

/// The events a webhook can subscribe to.
pub const EVENT_KINDS: [&str; 12] = [
    "asset.created",
    "asset.progress",
    "asset.playable",
    "asset.ready",
    "asset.failed",
    "asset.retrying",
    "asset.retried",
    "asset.cancelled",
    "asset.deleted",
    "asset.archived",
    "asset.restoring",
    "asset.restored",
];
/// Attempts before a delivery is given up.
const MAX_ATTEMPTS: i64 = 8;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/webhooks", get(list).post(create))
        .route("/v1/webhooks/{id}", delete(remove))
        .route("/v1/webhooks/{id}/deliveries", get(deliveries))
}

/// A webhook receiver's URL: http or https, at most 2048 bytes ([`openvod_net`] checks it
/// further: a written address must be public or admitted by `[outbound] allow`).
pub(crate) fn webhook_url_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .format(Some(utoipa::openapi::SchemaFormat::Custom("uri".into())))
        .pattern(Some(openapi::webhook_url_pattern()))
        .max_length(Some(openvod_access::outbound::MAX_URL_LEN))
        .description(Some(
            "An http:// or https:// URL of at most 2048 bytes. An address written in it that is not public (loopback, private, link-local, ...) is refused with 400 url_not_allowed unless [outbound] allow admits it; a host name is checked by the addresses it resolves to at each delivery.",
        ))
        .build()
}

/// The form a webhook URL must have before the outbound policy looks at it.
fn webhook_url_regex() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(&openapi::webhook_url_pattern()).expect("the pattern is valid")
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewWebhook {
    #[schema(schema_with = webhook_url_schema)]
    url: String,
    /// Event kinds, or `*` for all; default: asset.created, asset.progress,
    /// asset.playable, asset.ready, asset.failed.
    #[serde(default)]
    #[schema(schema_with = events_or_default)]
    events: Option<Vec<String>>,
    /// Signs every delivery (HMAC-SHA256); default: a new random one.
    #[serde(default)]
    #[schema(min_length = 16, max_length = 256)]
    secret: Option<String>,
}

pub(crate) fn events_schema() -> utoipa::openapi::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(utoipa::openapi::RefOr::T(openapi::subscription()))
        .min_items(Some(1))
        .max_items(Some(EVENT_KINDS.len() + 1))
        .unique_items(true)
        .build()
}

/// The events of a registration: null or absent for the default ones.
fn events_or_default() -> utoipa::openapi::Schema {
    let either = utoipa::openapi::schema::OneOfBuilder::new()
        .item(events_schema())
        .item(
            utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::schema::Type::Null),
        )
        .build();
    utoipa::openapi::Schema::OneOf(either)
}

/// A registered webhook.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WebhookView {
    #[schema(pattern = "^[0-9a-f]{32}$")]
    id: String,
    url: String,
    #[schema(schema_with = events_schema)]
    events: Vec<String>,
    /// Signs every delivery; only in the answer to the registration.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    created_at_ms: i64,
}

impl WebhookView {
    fn of(hook: Webhook, secret: Option<String>) -> WebhookView {
        WebhookView {
            id: hook.id,
            url: hook.url,
            events: hook.events,
            secret,
            created_at_ms: hook.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WebhookList {
    webhooks: Vec<WebhookView>,
}

/// One delivery of one event to one webhook.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryView {
    #[schema(pattern = "^[0-9a-f]{32}$")]
    id: String,
    #[schema(pattern = "^[0-9a-f]{32}$")]
    webhook_id: String,
    event_seq: i64,
    #[schema(schema_with = event_kind)]
    kind: String,
    /// The event's payload, as in `/v1/events`.
    #[schema(value_type = Object)]
    payload: serde_json::Value,
    #[schema(schema_with = delivery_status)]
    status: String,
    attempts: i64,
    next_attempt_at_ms: i64,
    /// The receiver's HTTP status at the last attempt.
    last_status: Option<i64>,
    last_error: Option<String>,
    created_at_ms: i64,
    updated_at_ms: i64,
}

fn event_kind() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(EVENT_KINDS))
        .build()
}

fn delivery_status() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["pending", "delivered", "failed"]))
        .build()
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> DeliveryView {
        DeliveryView {
            id: d.id,
            webhook_id: d.webhook_id,
            event_seq: d.event_seq,
            kind: d.kind,
            payload: d.payload,
            status: d.status,
            attempts: d.attempts,
            next_attempt_at_ms: d.next_attempt_at,
            last_status: d.last_status,
            last_error: d.last_error,
            created_at_ms: d.created_at,
            updated_at_ms: d.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryList {
    deliveries: Vec<DeliveryView>,
}

/// The webhook's identifier.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct WebhookId {
    /// 32 lowercase hex digits; anything else is answered with 404.
    #[param(pattern = "^[0-9a-f]{32}$")]
    id: String,
}

/// Checks a webhook registration; the defaults are the four lifecycle events. The URL
/// must be http or https, and an address written in it must be public or admitted by
/// `outbound`; a host name is judged by what it resolves to at each delivery.
pub fn check_webhook(
    url: &str,
    events: Option<Vec<String>>,
    outbound: &OutboundPolicy,
) -> Result<Vec<String>, ApiError> {
    if url.len() > openvod_access::outbound::MAX_URL_LEN || !webhook_url_regex().is_match(url) {
        return Err(ApiError::bad_request(
            "invalid_url",
            "url: an http:// or https:// URL of at most 2048 bytes, with a host, without a fragment",
        ));
    }
    if let Err(refused) = outbound.check_url(url) {
        let code = if refused.is_malformed() {
            "invalid_url"
        } else {
            "url_not_allowed"
        };
        return Err(ApiError::bad_request(code, format!("url: {refused}")));
    }
    let events = events.unwrap_or_else(|| {
        [
            "asset.created",
            "asset.progress",
            "asset.playable",
            "asset.ready",
            "asset.failed",
        ]
        .map(String::from)
        .to_vec()
    });
    if events.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_events",
            "events must name at least one event",
        ));
    }
    for (i, e) in events.iter().enumerate() {
        if events[..i].contains(e) {
            return Err(ApiError::bad_request(
                "invalid_events",
                format!("event {e:?} is named twice"),
            ));
        }
        if e != "*" && !EVENT_KINDS.contains(&e.as_str()) {
            return Err(ApiError::bad_request(
                "invalid_events",
                format!("unknown event {e:?}; known: *, {}", EVENT_KINDS.join(", ")),
            ));
        }
    }
    Ok(events)
}

/// A new random secret.
pub fn new_secret() -> String {
    format!(
        "whsec_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

#[utoipa::path(
    post,
    path = "/v1/webhooks",
    operation_id = "createWebhook",
    tag = "webhooks",
    summary = "Register a webhook; the answer holds its signing secret",
    request_body = NewWebhook,
    responses(
        (status = 201, description = "Registered", body = WebhookView, links(
            ("deleteWebhook" = (operation_id = "deleteWebhook", parameters(("id" = "$response.body#/id")))),
            ("webhookDeliveries" = (operation_id = "webhookDeliveries", parameters(("id" = "$response.body#/id")))),
        )),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 413, response = openapi::TooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 503, response = openapi::Unavailable),
    ),
    security(("AdminToken" = []))
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<NewWebhook>,
) -> Result<Response, ApiError> {
    let events = check_webhook(&req.url, req.events, &state.config.outbound)?;
    let secret = match req.secret {
        // Characters, as the document's minLength and maxLength count them.
        Some(s) if (16..=256).contains(&s.chars().count()) => s,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_secret",
                "secret must be 16 to 256 characters",
            ))
        }
        None => new_secret(),
    };
    let hook = state.db.create_webhook(&req.url, &secret, &events).await?;
    Ok((
        StatusCode::CREATED,
        Json(WebhookView::of(hook, Some(secret))),
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/v1/webhooks",
    operation_id = "listWebhooks",
    tag = "webhooks",
    summary = "List webhooks",
    responses(
        (status = 200, description = "Webhooks", body = WebhookList),
        (status = 401, response = openapi::Unauthorized),
        (status = 503, response = openapi::Unavailable),
    ),
    security(("AdminToken" = []))
)]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<WebhookList>, ApiError> {
    let webhooks = state
        .db
        .webhooks()
        .await?
        .into_iter()
        .map(|h| WebhookView::of(h, None))
        .collect();
    Ok(Json(WebhookList { webhooks }))
}

#[utoipa::path(
    delete,
    path = "/v1/webhooks/{id}",
    operation_id = "deleteWebhook",
    tag = "webhooks",
    summary = "Remove a webhook and its delivery log",
    params(WebhookId),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, response = openapi::Unauthorized),
        (status = 404, response = openapi::NotFound),
        (status = 503, response = openapi::Unavailable),
    ),
    security(("AdminToken" = []))
)]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Path(WebhookId { id }): Path<WebhookId>,
) -> Result<StatusCode, ApiError> {
    if state.db.delete_webhook(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "no webhook {:?}",
            id.chars().take(64).collect::<String>()
        )))
    }
}

#[utoipa::path(
    get,
    path = "/v1/webhooks/{id}/deliveries",
    operation_id = "webhookDeliveries",
    tag = "webhooks",
    summary = "The delivery log, newest first (at most 200)",
    params(WebhookId),
    responses(
        (status = 200, description = "Deliveries", body = DeliveryList),
        (status = 401, response = openapi::Unauthorized),
        (status = 404, response = openapi::NotFound),
        (status = 503, response = openapi::Unavailable),
    ),
    security(("AdminToken" = []))
)]
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    Path(WebhookId { id }): Path<WebhookId>,
) -> Result<Json<DeliveryList>, ApiError> {
    if !state.db.webhooks().await?.iter().any(|h| h.id == id) {
        return Err(ApiError::not_found(format!(
            "no webhook {:?}",
            id.chars().take(64).collect::<String>()
        )));
    }
    let deliveries = state
        .db
        .deliveries(&id, 200)
        .await?
        .into_iter()
        .map(DeliveryView::from)
        .collect();
    Ok(Json(DeliveryList { deliveries }))
}

/// The `openvod-signature` value for `body` sent at `timestamp`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={timestamp},v1={hex}")
}

/// Fans events out to webhooks and sends the deliveries that are due, until `shutdown`.
/// Deliveries go only where `outbound` admits.
pub async fn run_sender(db: Db, outbound: OutboundPolicy, shutdown: Arc<tokio::sync::Notify>) {
    let client = match OutboundClient::builder(outbound)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook sender cannot start");
            return;
        }
    };
    loop {
        if let Err(e) = db.fan_out_webhooks(500).await {
            tracing::warn!(error = %e, "webhook fan-out");
        }
        loop {
            match db.claim_delivery(Duration::from_secs(60)).await {
                Ok(Some(due)) => send(&client, &db, due).await,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook claim");
                    break;
                }
            }
        }
        tokio::select! {
            _ = shutdown.notified() => return,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// How one delivery attempt ended.
enum Attempt {
    Delivered(u16),
    /// An answer other than 2xx, or no answer: retried with backoff.
    Failed {
        status: Option<u16>,
        error: String,
    },
    /// The outbound policy refused the URL or its addresses: not retried.
    Refused(String),
}

async fn send(client: &OutboundClient, db: &Db, due: DueDelivery) {
    let d = &due.delivery;
    let body = json!({
        "id": d.id,
        "type": d.kind,
        "seq": d.event_seq,
        "created_at_ms": d.created_at,
        "data": d.payload,
    })
    .to_string();
    let timestamp = openvod_store::now_ms() / 1000;
    let attempt = match client.post(&due.url) {
        Err(refused) => Attempt::Refused(format!("refused: {refused}")),
        Ok(request) => deliver(request, &due, timestamp, body).await,
    };
    let (ok, status, error) = match &attempt {
        Attempt::Delivered(status) => (true, Some(*status), None),
        Attempt::Failed { status, error } => (false, *status, Some(error.as_str())),
        Attempt::Refused(error) => {
            tracing::warn!(webhook = %d.webhook_id, error, "webhook delivery refused");
            (false, None, Some(error.as_str()))
        }
    };
    // Backoff: 2, 4, 8 ... seconds, up to an hour, then failed for good.
    let retry_at = (matches!(attempt, Attempt::Failed { .. }) && d.attempts < MAX_ATTEMPTS)
        .then(|| openvod_store::now_ms() + 1000 * (1i64 << d.attempts.clamp(1, 12)).min(3600));
    let result = match attempt {
        Attempt::Delivered(_) => "delivered",
        Attempt::Refused(_) => "refused",
        Attempt::Failed { .. } if retry_at.is_some() => "retry",
        Attempt::Failed { .. } => "failed",
    };
    metrics::counter!("openvod_webhook_deliveries_total", "result" => result).increment(1);
    if let Err(e) = db.record_delivery(&d.id, ok, status, error, retry_at).await {
        tracing::warn!(error = %e, "webhook record");
    }
}

/// One signed POST of `body`.
async fn deliver(
    request: reqwest::RequestBuilder,
    due: &DueDelivery,
    timestamp: i64,
    body: String,
) -> Attempt {
    let d = &due.delivery;
    let result = request
        .header("content-type", "application/json")
        .header(
            "openvod-signature",
            signature(&due.secret, timestamp, &body),
        )
        .header("openvod-event", &d.kind)
        .header("openvod-delivery", &d.id)
        .body(body)
        .send()
        .await;
    match result {
        Ok(r) if r.status().is_success() => Attempt::Delivered(r.status().as_u16()),
        Ok(r) => Attempt::Failed {
            status: Some(r.status().as_u16()),
            error: format!("HTTP {}", r.status()),
        },
        Err(e) => match openvod_net::refusal(&e) {
            Some(refused) => Attempt::Refused(format!("refused: {refused}")),
            None => Attempt::Failed {
                status: None,
                error: openvod_net::describe(e),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently with Python:
        // hmac.new(b"key", b"1700000000.{}", hashlib.sha256).hexdigest()
        assert_eq!(
            signature("key", 1_700_000_000, "{}"),
            "t=1700000000,v1=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
    }

    #[test]
    fn registrations_are_checked() {
        let fenced = OutboundPolicy::default();
        let loopback = OutboundPolicy::new(["127.0.0.1/32"]).unwrap();
        for url in [
            "ftp://x",
            "file:///etc/passwd",
            "gopher://x:70/",
            "not a url",
        ] {
            let err = check_webhook(url, None, &loopback).unwrap_err();
            assert_eq!(err.code, "invalid_url", "{url}");
        }
        let err = check_webhook("http://169.254.169.254/latest", None, &loopback).unwrap_err();
        assert_eq!(err.code, "url_not_allowed");
        assert!(err.message.contains("link-local"), "{}", err.message);
        let err = check_webhook("http://127.0.0.1:9/hook", None, &fenced).unwrap_err();
        assert_eq!(err.code, "url_not_allowed");
        assert!(err.message.contains("loopback"), "{}", err.message);
        assert_eq!(
            check_webhook("http://127.0.0.1:9/hook", None, &loopback).unwrap(),
            [
                "asset.created",
                "asset.progress",
                "asset.playable",
                "asset.ready",
                "asset.failed"
            ],
            "the default events"
        );
        assert!(check_webhook(
            "http://127.0.0.1:9/hook",
            Some(vec!["asset.bogus".into()]),
            &loopback
        )
        .is_err());
        assert_eq!(
            check_webhook("https://example.com/h", None, &fenced)
                .unwrap()
                .len(),
            5
        );
    }
}
