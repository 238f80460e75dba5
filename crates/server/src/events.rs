//! `GET /v1/events`: server-sent events from the event outbox, so every process's
//! changes reach every dashboard.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use axum::Router;
use futures::Stream;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{openapi, ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/v1/events", get(stream))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Params {
    /// Replay the events after this sequence number (else only new ones).
    #[param(minimum = 0)]
    after: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/v1/events",
    operation_id = "events",
    tag = "events",
    summary = "Server-sent events: asset.created, asset.progress, asset.playable, asset.ready, asset.failed, ...",
    params(
        Params,
        ("Last-Event-ID" = Option<String>, Header, pattern = "^[0-9]{1,18}$",
            description = "The id of the last event a reconnecting reader saw (HTML, 9.2.4); wins over after"),
    ),
    responses(
        (status = 200, description = "The event stream (it stays open; a comment every 15 s keeps it alive)", content_type = "text/event-stream", body = openapi::EventMessage),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 503, response = openapi::Unavailable),
    ),
    security(("AdminToken" = []))
)]
pub(crate) async fn stream(
    State(state): State<AppState>,
    params: Result<Query<Params>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let Query(p) = params?;
    if p.after.is_some_and(|a| a < 0) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "after must be a sequence number (0 or more)",
        ));
    }
    // A reconnecting browser sends the last id it saw; the ids are ours, so anything
    // else was not sent by a reader of this stream.
    let resume = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .filter(|v| (1..=18).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_last_event_id",
                        "Last-Event-ID must be the id of an event of this stream",
                    )
                })?,
        ),
    };
    let start = match resume.or(p.after) {
        Some(seq) => seq,
        None => state.db.last_event_seq().await?,
    };
    let db = state.db.clone();
    let events = futures::stream::unfold((start, Vec::new()), move |(mut seq, mut queue)| {
        let db = db.clone();
        async move {
            loop {
                if !queue.is_empty() {
                    let e: openvod_store::Event = queue.remove(0);
                    seq = e.seq;
                    let out = SseEvent::default()
                        .id(e.seq.to_string())
                        .event(e.kind.clone())
                        .data(e.payload.to_string());
                    return Some((Ok(out), (seq, queue)));
                }
                match db.events_after(seq, 200).await {
                    Ok(batch) if !batch.is_empty() => queue = batch,
                    _ => tokio::time::sleep(Duration::from_millis(500)).await,
                }
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
