//! The control API: assets.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::TryStreamExt;
use openvod_store::{Asset, AssetStatus, NewAsset};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/assets", post(create).get(list))
        .route("/v1/assets/{id}", get(show).delete(remove))
        .route("/v1/assets/{id}/retry", post(retry))
        .route("/v1/assets/{id}/cancel", post(cancel))
}

/// Asset ids are UUIDv7 in 32 lowercase hex digits; anything else is not an asset.
pub(crate) fn check_id(id: &str) -> Result<(), ApiError> {
    if id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "no asset {:?}",
            id.chars().take(64).collect::<String>()
        )))
    }
}

async fn load(state: &AppState, id: &str) -> Result<Asset, ApiError> {
    check_id(id)?;
    state
        .db
        .asset(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no asset {id}")))
}

/// The asset as the API shows it, with its tasks.
pub(crate) async fn view(state: &AppState, a: &Asset) -> Result<Value, ApiError> {
    let tasks: Vec<Value> = state
        .db
        .asset_tasks(&a.id)
        .await?
        .into_iter()
        .map(|(stage, status, attempts, error)| json!({ "stage": stage, "status": status, "attempts": attempts, "error": error }))
        .collect();
    let mut v = summary(a);
    v["tasks"] = json!(tasks);
    Ok(v)
}

/// The asset without its tasks: what a list shows, from the asset row alone.
fn summary(a: &Asset) -> Value {
    let playback = (a.status == AssetStatus::Ready).then(|| {
        json!({
            "hls": format!("/play/{}/master.m3u8", a.id),
            "dash": format!("/play/{}/manifest.mpd", a.id),
        })
    });
    let error = a
        .error_code
        .as_ref()
        .map(|code| json!({ "code": code, "message": a.error_message }));
    json!({
        "id": a.id,
        "status": a.status,
        "stage": a.stage,
        "progress": (a.progress * 10.0).round() / 10.0,
        "source": { "name": a.source_name, "size": a.source_size, "key": a.source_key },
        "template": a.template,
        "probe": a.probe,
        "renditions": a.renditions,
        "playback": playback,
        "error": error,
        "warnings": a.warnings,
        "created_at_ms": a.created_at,
        "started_at_ms": a.started_at,
        "finished_at_ms": a.finished_at,
    })
}

#[derive(Debug, Deserialize)]
struct CreateParams {
    name: Option<String>,
    template: Option<String>,
}

/// `POST /v1/assets`: the media is the raw body, streamed into the source location.
async fn create(
    State(state): State<AppState>,
    Query(params): Query<CreateParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let limit = state.config.max_upload_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the upload is larger than the limit of {limit} bytes"),
        )
    };
    if let Some(len) = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > limit {
            return Err(too_large());
        }
        if len == 0 {
            return Err(ApiError::bad_request(
                "empty_body",
                "the request body is empty: send the media file as the body",
            ));
        }
    }
    let template = params
        .template
        .unwrap_or_else(|| state.config.default_template.clone());
    if !state.config.templates.contains(&template) {
        return Err(ApiError::bad_request(
            "unknown_template",
            format!(
                "no template named {template:?} (known: {})",
                state.config.templates.join(", ")
            ),
        ));
    }
    let name = params
        .name
        .map(|n| {
            n.chars()
                .filter(|c| !c.is_control())
                .take(255)
                .collect::<String>()
        })
        .filter(|n| !n.is_empty());
    let key = format!("uploads/{}", uuid::Uuid::now_v7().simple());
    let stream = body.into_data_stream().map_err(|e| e.to_string());
    let size = match state.objects.sources.put_stream(&key, stream, limit).await {
        Ok(size) => size,
        Err(openvod_store::Error::Conflict(_)) => return Err(too_large()),
        Err(openvod_store::Error::Io(e)) => {
            return Err(ApiError::bad_request(
                "upload_interrupted",
                format!("the upload was interrupted: {e}"),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    if size == 0 {
        let _ = state.objects.sources.delete(&key).await;
        return Err(ApiError::bad_request(
            "empty_body",
            "the request body is empty: send the media file as the body",
        ));
    }
    let asset = state
        .db
        .create_asset(
            NewAsset {
                source_key: key,
                source_name: name,
                source_size: Some(size as i64),
                template,
            },
            state.config.max_attempts,
        )
        .await?;
    metrics::counter!("openvod_uploads_total").increment(1);
    metrics::counter!("openvod_upload_bytes_total").increment(size);
    Ok((StatusCode::CREATED, Json(view(&state, &asset).await?)).into_response())
}

#[derive(Debug, Deserialize)]
struct ListParams {
    status: Option<String>,
    limit: Option<u32>,
    before: Option<String>,
}

/// `GET /v1/assets?status=&limit=&before=`: newest first; `next` is the `before` of the
/// next page.
async fn list(
    State(state): State<AppState>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let status = match p.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(AssetStatus::parse(s).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_status",
                format!("status {s:?} is not one of queued, processing, ready, failed, cancelled"),
            )
        })?),
    };
    if let Some(b) = &p.before {
        check_id(b)
            .map_err(|_| ApiError::bad_request("invalid_cursor", "before must be an asset id"))?;
    }
    let limit = p.limit.unwrap_or(50).clamp(1, 200);
    let assets = state
        .db
        .list_assets(status, p.before.as_deref(), limit)
        .await?;
    let next = (assets.len() == limit as usize)
        .then(|| assets.last().map(|a| a.id.clone()))
        .flatten();
    let items: Vec<Value> = assets.iter().map(summary).collect();
    Ok(Json(json!({ "assets": items, "next": next })))
}

async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let asset = load(&state, &id).await?;
    Ok(Json(view(&state, &asset).await?))
}

/// `DELETE /v1/assets/{id}`: cancels any work, removes the outputs and the record, and
/// the source too when configured so.
async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let asset = load(&state, &id).await?;
    state.db.cancel_asset(&id).await?;
    state.objects.outputs.delete_prefix(&id).await?;
    if state.config.delete_sources {
        state.objects.sources.delete(&asset.source_key).await?;
    }
    state.db.delete_asset(&id).await?;
    // Its keys go too: nothing encrypted under them is served any more.
    if let Some(keys) = &state.keys {
        keys.delete_content(&id).await.map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "key_store",
                e.to_string(),
            )
        })?;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn retry(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    load(&state, &id).await?;
    state.db.retry_asset(&id).await?;
    let asset = load(&state, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(view(&state, &asset).await?)).into_response())
}

async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    load(&state, &id).await?;
    if !state.db.cancel_asset(&id).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "only queued or processing assets can be cancelled",
        ));
    }
    let asset = load(&state, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(view(&state, &asset).await?)).into_response())
}
