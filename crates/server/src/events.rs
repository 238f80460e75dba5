//! `GET /v1/events`: server-sent events from the event outbox, so every process's
//! changes reach every dashboard.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use axum::Router;
use futures::Stream;
use serde::Deserialize;

use crate::{ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/v1/events", get(stream))
}

#[derive(Debug, Deserialize)]
struct Params {
    /// Replay events after this sequence number (else only new ones).
    after: Option<i64>,
}

async fn stream(
    State(state): State<AppState>,
    Query(p): Query<Params>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    // A reconnecting browser sends the last id it saw.
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let start = match resume.or(p.after) {
        Some(seq) => seq.max(0),
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
