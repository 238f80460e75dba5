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

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use openvod_net::{OutboundClient, OutboundPolicy};
use openvod_store::{Db, DueDelivery};
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;

use crate::{ApiError, AppState};

/// The events a webhook can subscribe to.
pub const EVENT_KINDS: [&str; 8] = [
    "asset.created",
    "asset.progress",
    "asset.ready",
    "asset.failed",
    "asset.retrying",
    "asset.retried",
    "asset.cancelled",
    "asset.deleted",
];
/// Attempts before a delivery is given up.
const MAX_ATTEMPTS: i64 = 8;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/webhooks", get(list).post(create))
        .route("/v1/webhooks/{id}", delete(remove))
        .route("/v1/webhooks/{id}/deliveries", get(deliveries))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewWebhook {
    url: String,
    #[serde(default)]
    events: Option<Vec<String>>,
    #[serde(default)]
    secret: Option<String>,
}

/// Checks a webhook registration; the defaults are the four lifecycle events. The URL
/// must be http or https, and an address written in it must be public or admitted by
/// `outbound`; a host name is judged by what it resolves to at each delivery.
pub fn check_webhook(
    url: &str,
    events: Option<Vec<String>>,
    outbound: &OutboundPolicy,
) -> Result<Vec<String>, ApiError> {
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
    for e in &events {
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

async fn create(
    State(state): State<AppState>,
    body: Result<Json<NewWebhook>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body.map_err(|e| ApiError::bad_request("invalid_json", e.body_text()))?;
    let events = check_webhook(&req.url, req.events, &state.config.outbound)?;
    let secret = match req.secret {
        Some(s) if (16..=256).contains(&s.len()) => s,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_secret",
                "secret must be 16 to 256 bytes",
            ))
        }
        None => new_secret(),
    };
    let hook = state.db.create_webhook(&req.url, &secret, &events).await?;
    let body = json!({ "id": hook.id, "url": hook.url, "events": hook.events, "secret": secret, "created_at_ms": hook.created_at });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn list(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(json!({ "webhooks": state.db.webhooks().await? })))
}

async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
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

async fn deliveries(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !state.db.webhooks().await?.iter().any(|h| h.id == id) {
        return Err(ApiError::not_found(format!(
            "no webhook {:?}",
            id.chars().take(64).collect::<String>()
        )));
    }
    Ok(Json(
        json!({ "deliveries": state.db.deliveries(&id, 200).await? }),
    ))
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
            check_webhook("http://127.0.0.1:9/hook", None, &loopback)
                .unwrap()
                .len(),
            4
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
            4
        );
    }
}
