//! The control API: assets.

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::TryStreamExt;
use openvod_cost::{AssetCost, ProcessingUsage, StorageClass};
use openvod_store::{Asset, AssetStatus, NewAsset, Stage, StorageState, TaskStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::{openapi, ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/assets", post(create).get(list))
        .route("/v1/assets/{id}", get(show).delete(remove))
        .route("/v1/assets/{id}/retry", post(retry))
        .route("/v1/assets/{id}/cancel", post(cancel))
}

/// Asset ids are UUIDv7 in 32 lowercase hex digits; anything else is not an asset.
pub(crate) fn check_id(id: &str) -> Result<(), ApiError> {
    if is_id(id) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "no asset {:?}",
            id.chars().take(64).collect::<String>()
        )))
    }
}

/// Whether `id` is an identifier as openvod makes them ([`crate::openapi::ID_PATTERN`]).
pub(crate) fn is_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

pub(crate) async fn load(state: &AppState, id: &str) -> Result<Asset, ApiError> {
    check_id(id)?;
    state
        .db
        .asset(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no asset {id}")))
}

/// An asset as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AssetView {
    #[schema(pattern = "^[0-9a-f]{32}$")]
    id: String,
    #[schema(schema_with = openapi::asset_status)]
    status: AssetStatus,
    /// The stage running or next to run; null once ready.
    #[schema(schema_with = openapi::stage)]
    stage: Option<Stage>,
    /// Percent done of the current stage.
    #[schema(minimum = 0, maximum = 100)]
    progress: f64,
    source: SourceView,
    template: String,
    /// What the probe stage found (streams, duration, container); null before it ran.
    #[schema(value_type = Option<Object>)]
    probe: Option<Value>,
    /// The encoded renditions; null before the transcode stage ran.
    #[schema(value_type = Option<Vec<Object>>)]
    renditions: Option<Value>,
    /// Where to play it: when ready, and while playable (HLS only: the preview).
    playback: Option<PlaybackUrls>,
    /// Seconds of the preview published so far: a `playable` asset plays its preview at
    /// `playback.hls` while its ladder encodes (its `progress`). Null before the preview's
    /// first segment, and for a template with `[video] preview = false`.
    preview_seconds: Option<f64>,
    /// Why the asset failed: codes include `invalid_media` (not a video file openvod reads,
    /// or a format it does not accept) and `damaged_source` (decoding stopped early or
    /// reported errors).
    error: Option<AssetFailure>,
    /// What is wrong with the source but did not stop it: `damaged_source` (published
    /// because `[policy] allow_damaged_sources` is set), `overstated_duration` (the
    /// headers claim more media than there is), `stream_not_carried` (bitmap subtitles,
    /// left out), `cues_past_end` (subtitle cues after the video's end, dropped) or
    /// `images_not_made` (no poster or storyboard; the video is published without).
    #[schema(value_type = Vec<AssetWarning>)]
    warnings: Vec<Value>,
    /// A per-title template's analysis: `codec`, `top_quality`, the `excerpts` sampled,
    /// the `display` size compared at, every sample encode (`samples`: width, height,
    /// crf, bitrate, score), the upper convex `hull` of score against bit rate, the
    /// chosen `rungs` (name, width, height, crf, expected_bitrate, max_bitrate, score)
    /// and its cost (`cpu_seconds`, `wall_seconds`). Null for a fixed ladder and before
    /// the transcode stage ran.
    #[schema(value_type = Option<Object>)]
    ladder: Option<Value>,
    /// The poster frame's time in seconds when set (`PUT /v1/assets/{id}/poster`);
    /// null: the frame chosen with the encode. The poster is `/image/{id}/poster.jpg`.
    poster_time: Option<f64>,
    /// Where its source and outputs are kept (`[tiers]`): `hot`, `archiving` (being
    /// copied to the cold class, still served), `cold` or `restoring` (requests for its
    /// objects are answered 202 with Retry-After until it is hot again).
    #[schema(schema_with = openapi::storage_state)]
    storage: StorageState,
    /// For a clip, what it was cut from: `of` (the parent's id), `start` and `end`
    /// (seconds of the parent, as asked) and `mode` (`keyframe` or `frame`); null for
    /// an upload. The range cut is the clip's own duration, from its first frame.
    #[schema(value_type = Option<Object>)]
    clip: Option<Value>,
    created_at_ms: i64,
    started_at_ms: Option<i64>,
    finished_at_ms: Option<i64>,
    /// The pipeline's tasks; only on a single asset, not in a list.
    #[serde(skip_serializing_if = "Option::is_none")]
    tasks: Option<Vec<TaskView>>,
    /// What the asset used, on a single ready asset: CPU seconds of the per-title
    /// analysis, the encode and the packaging (`analysis_cpu_seconds`,
    /// `encode_cpu_seconds`, `package_cpu_seconds`), `source_bytes` and `output_bytes`
    /// kept, the length in `minutes`, the video `rungs` as MediaConvert would price them,
    /// and what the origin served (`served_bytes`, `served_requests`, `shield_hits`;
    /// counted every few seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    usage: Option<Value>,
    /// That usage priced: `openvod` at the configured `[cost]` rates (compute, one month
    /// of storage, egress so far) and `aws` in the price book (MediaConvert rung by rung,
    /// one month of S3, CloudFront so far), in US dollars.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    cost: Option<Value>,
    /// On a single ready asset: its progressive downloads (`url`, `file`, `kind` video
    /// or audio, `bytes`, `width`, `height`), made when its template says
    /// `[packaging] downloads = true`; empty otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    downloads: Option<Vec<Value>>,
}

/// The uploaded source.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SourceView {
    name: Option<String>,
    #[schema(minimum = 1)]
    size: Option<i64>,
    /// The object key in the source location.
    key: String,
}

/// Playback URLs of a ready asset.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PlaybackUrls {
    #[schema(pattern = "^/play/[0-9a-f]{32}/master\\.m3u8$")]
    hls: String,
    /// Null while the asset is only playable: the preview is HLS.
    #[schema(pattern = "^/play/[0-9a-f]{32}/manifest\\.mpd$")]
    dash: Option<String>,
}

/// Why an asset failed.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AssetFailure {
    code: String,
    message: Option<String>,
}

/// A problem with the source that did not stop it (as the transcode stage recorded it).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AssetWarning {
    #[schema(schema_with = openapi::warning_code)]
    code: String,
    message: String,
}

/// One stage's task of an asset.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TaskView {
    #[schema(schema_with = openapi::task_stage)]
    stage: Stage,
    #[schema(schema_with = openapi::task_status)]
    status: TaskStatus,
    /// Which part of its stage: the chunk of a chunked encode (the `encode` stage), whose
    /// part 0 encodes the audio and text and part K the video of chunk K-1; 0 for every
    /// other stage.
    part: u32,
    attempts: u32,
    /// 0-100, as an encode part last reported it; 0 for other stages.
    progress: f64,
    error: Option<String>,
}

/// One page of assets, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AssetPage {
    assets: Vec<AssetView>,
    /// The `before` of the next page; null on the last one.
    #[schema(pattern = "^[0-9a-f]{32}$")]
    next: Option<String>,
}

/// The asset as the API shows it, with its tasks.
pub(crate) async fn view(state: &AppState, a: &Asset) -> Result<AssetView, ApiError> {
    let tasks = state
        .db
        .asset_tasks(&a.id)
        .await?
        .into_iter()
        .map(|t| TaskView {
            stage: t.stage,
            status: t.status,
            part: t.part,
            attempts: t.attempts,
            progress: t.progress,
            error: t.last_error,
        })
        .collect();
    let mut v = summary(a);
    v.tasks = Some(tasks);
    if a.status == AssetStatus::Ready {
        (v.usage, v.cost) = usage_and_cost(state, a).await?;
        // A cold asset's downloads are listed once it is restored.
        if let Some(prefix) = a.output_prefix.as_ref().filter(|_| a.storage.is_served()) {
            let listed = crate::downloads::downloads_of(state, a, prefix).await?;
            v.downloads = Some(
                listed
                    .into_iter()
                    .map(|d| {
                        serde_json::json!({
                            "url": format!("/download/{}/{}", a.id, d.file),
                            "file": d.file, "kind": d.kind, "bytes": d.bytes,
                            "width": d.width, "height": d.height,
                        })
                    })
                    .collect(),
            );
        }
    }
    Ok(v)
}

/// A ready asset's recorded usage and its cost both ways; `None` for an asset published
/// before usage was recorded.
async fn usage_and_cost(
    state: &AppState,
    a: &Asset,
) -> Result<(Option<Value>, Option<Value>), ApiError> {
    let Some(usage) = state
        .db
        .task_output(&a.id, Stage::Publish)
        .await?
        .and_then(|o| o.get("usage").cloned())
        .and_then(|u| serde_json::from_value::<ProcessingUsage>(u).ok())
    else {
        return Ok((None, None));
    };
    let served = state.db.served(&a.id).await?;
    let cost = &state.config.cost;
    let class = match a.storage {
        StorageState::Hot | StorageState::Archiving => StorageClass::Standard,
        StorageState::Cold | StorageState::Restoring => StorageClass::Archive,
    };
    let priced = AssetCost::new(&usage, class, served.bytes, &cost.rates, &cost.book)
        .map_err(|e| tracing::warn!(asset = %a.id, error = %e, "asset cost"))
        .ok()
        .and_then(|c| serde_json::to_value(c).ok());
    let shown = serde_json::to_value(UsageView {
        processing: usage,
        served_bytes: served.bytes,
        served_requests: served.requests,
        shield_hits: served.shield_hits,
    })
    .ok();
    Ok((shown, priced))
}

/// An asset's `usage` as the API shows it: what processing used, and what was served.
#[derive(Serialize)]
struct UsageView {
    #[serde(flatten)]
    processing: ProcessingUsage,
    served_bytes: u64,
    served_requests: u64,
    shield_hits: u64,
}

/// The asset without its tasks: what a list shows, from the asset row alone.
fn summary(a: &Asset) -> AssetView {
    let playback = match a.status {
        AssetStatus::Ready => Some(PlaybackUrls {
            hls: format!("/play/{}/master.m3u8", a.id),
            dash: Some(format!("/play/{}/manifest.mpd", a.id)),
        }),
        AssetStatus::Playable => Some(PlaybackUrls {
            hls: format!("/play/{}/master.m3u8", a.id),
            dash: None,
        }),
        _ => None,
    };
    let error = a.error_code.as_ref().map(|code| AssetFailure {
        code: code.clone(),
        message: a.error_message.clone(),
    });
    AssetView {
        id: a.id.clone(),
        status: a.status,
        stage: a.stage,
        progress: ((a.progress * 10.0).round() / 10.0).clamp(0.0, 100.0),
        source: SourceView {
            name: a.source_name.clone(),
            size: a.source_size,
            key: a.source_key.clone(),
        },
        template: a.template.clone(),
        probe: a.probe.clone(),
        renditions: a.renditions.clone(),
        playback,
        preview_seconds: a.preview_seconds.map(|s| (s * 1000.0).round() / 1000.0),
        error,
        warnings: a.warnings.clone(),
        ladder: a.ladder.clone(),
        poster_time: a.poster_time_ms.map(|ms| ms as f64 / 1000.0),
        storage: a.storage,
        clip: a.clip.clone(),
        created_at_ms: a.created_at,
        started_at_ms: a.started_at,
        finished_at_ms: a.finished_at,
        tasks: None,
        usage: None,
        cost: None,
        downloads: None,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CreateParams {
    /// The original file name (control characters are dropped, at most 255 kept).
    name: Option<String>,
    /// The job template; one of the configured ones (default: the server's default).
    template: Option<String>,
}

/// `POST /v1/assets`: the media is the raw body, streamed into the source location.
#[utoipa::path(
    post,
    path = "/v1/assets",
    operation_id = "createAsset",
    tag = "assets",
    summary = "Upload a source: the media file is the raw request body",
    params(CreateParams),
    request_body(content = openapi::MediaBody, content_type = "application/octet-stream"),
    responses(
        (status = 201, description = "Created and queued", body = AssetView, links(
            ("getAsset" = (operation_id = "getAsset", parameters(("id" = "$response.body#/id")))),
            ("deleteAsset" = (operation_id = "deleteAsset", parameters(("id" = "$response.body#/id")))),
            ("cancelAsset" = (operation_id = "cancelAsset", parameters(("id" = "$response.body#/id")))),
            ("retryAsset" = (operation_id = "retryAsset", parameters(("id" = "$response.body#/id")))),
            ("setPlayback" = (operation_id = "setPlayback", parameters(("id" = "$response.body#/id")))),
        )),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 413, response = openapi::TooLarge),
        (status = 503, response = openapi::Unavailable),
    ),
    security(("AdminToken" = []))
)]
async fn create(
    State(state): State<AppState>,
    params: Result<Query<CreateParams>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Query(params) = params?;
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Only assets in this status; empty: any.
    #[param(schema_with = openapi::status_filter)]
    status: Option<String>,
    /// Assets per page.
    #[param(minimum = 1, maximum = 200, default = 50)]
    limit: Option<u32>,
    /// The `next` of the previous page; empty: the first page.
    #[param(pattern = "^([0-9a-f]{32})?$")]
    before: Option<String>,
}

/// `GET /v1/assets?status=&limit=&before=`: newest first; `next` is the `before` of the
/// next page. An empty `status` or `before` is the same as none (as a form sends them).
#[utoipa::path(
    get,
    path = "/v1/assets",
    operation_id = "listAssets",
    tag = "assets",
    summary = "List assets, newest first",
    params(ListParams),
    responses(
        (status = 200, description = "A page", body = AssetPage),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 503, response = openapi::Unavailable),
    ),
    security(("AdminToken" = []))
)]
async fn list(
    State(state): State<AppState>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<AssetPage>, ApiError> {
    let Query(p) = params?;
    let status = match p.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(AssetStatus::parse(s).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_status",
                format!("status {s:?} is not one of queued, processing, ready, failed, cancelled"),
            )
        })?),
    };
    let before = p.before.as_deref().filter(|b| !b.is_empty());
    if before.is_some_and(|b| !is_id(b)) {
        return Err(ApiError::bad_request(
            "invalid_cursor",
            "before must be an asset id (the next of the previous page)",
        ));
    }
    let limit = p.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            "limit must be 1 to 200",
        ));
    }
    let assets = state.db.list_assets(status, before, limit).await?;
    let next = (assets.len() == limit as usize)
        .then(|| assets.last().map(|a| a.id.clone()))
        .flatten();
    Ok(Json(AssetPage {
        assets: assets.iter().map(summary).collect(),
        next,
    }))
}

/// The asset's identifier.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct AssetId {
    /// 32 lowercase hex digits; anything else is answered with 404.
    #[param(pattern = "^[0-9a-f]{32}$")]
    pub id: String,
}

#[utoipa::path(
    get,
    path = "/v1/assets/{id}",
    operation_id = "getAsset",
    tag = "assets",
    summary = "One asset, with its tasks",
    params(AssetId),
    responses(
        (status = 200, description = "The asset", body = AssetView),
        (status = 401, response = openapi::Unauthorized),
        (status = 404, response = openapi::NotFound),
        (status = 503, response = openapi::Unavailable),
    ),
    security(("AdminToken" = []))
)]
async fn show(
    State(state): State<AppState>,
    Path(AssetId { id }): Path<AssetId>,
) -> Result<Json<AssetView>, ApiError> {
    let asset = load(&state, &id).await?;
    Ok(Json(view(&state, &asset).await?))
}

/// `DELETE /v1/assets/{id}`: cancels any work, removes the outputs and the record, and
/// the source too when configured so.
#[utoipa::path(
    delete,
    path = "/v1/assets/{id}",
    operation_id = "deleteAsset",
    tag = "assets",
    summary = "Cancel any work, delete the outputs (and the source, by configuration) and the record",
    params(AssetId),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = openapi::Unauthorized),
        (status = 404, response = openapi::NotFound),
        (status = 503, response = openapi::Unavailable),
    ),
    security(("AdminToken" = []))
)]
async fn remove(
    State(state): State<AppState>,
    Path(AssetId { id }): Path<AssetId>,
) -> Result<StatusCode, ApiError> {
    let asset = load(&state, &id).await?;
    state.db.cancel_asset(&id).await?;
    // Hot and cold copies alike (on S3 the cold ones are the same objects).
    let cold = &state.objects.cold;
    state.objects.outputs.delete_prefix(&id).await?;
    cold.outputs.delete_prefix(&id).await?;
    // A source another asset names (a clip's is its parent's) stays.
    if state.config.delete_sources
        && state
            .db
            .other_assets_of_source(&asset.source_key, &asset.id)
            .await?
            == 0
    {
        state.objects.sources.delete(&asset.source_key).await?;
        cold.sources.delete(&asset.source_key).await?;
    }
    state.db.delete_asset(&id).await?;
    // Its keys go too: nothing encrypted under them is served any more.
    if let Some(keys) = &state.keys {
        keys.delete_content(&id)
            .await
            .map_err(crate::drm::key_store_unavailable)?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/v1/assets/{id}/retry",
    operation_id = "retryAsset",
    tag = "assets",
    summary = "Run again only what failed or was cancelled",
    params(AssetId),
    responses(
        (status = 202, description = "Queued again", body = AssetView),
        (status = 401, response = openapi::Unauthorized),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 503, response = openapi::Unavailable),
    ),
    security(("AdminToken" = []))
)]
async fn retry(
    State(state): State<AppState>,
    Path(AssetId { id }): Path<AssetId>,
) -> Result<Response, ApiError> {
    load(&state, &id).await?;
    state.db.retry_asset(&id).await?;
    let asset = load(&state, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(view(&state, &asset).await?)).into_response())
}

#[utoipa::path(
    post,
    path = "/v1/assets/{id}/cancel",
    operation_id = "cancelAsset",
    tag = "assets",
    summary = "Stop the work (a running ffmpeg is killed)",
    params(AssetId),
    responses(
        (status = 202, description = "Cancelled", body = AssetView),
        (status = 401, response = openapi::Unauthorized),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 503, response = openapi::Unavailable),
    ),
    security(("AdminToken" = []))
)]
async fn cancel(
    State(state): State<AppState>,
    Path(AssetId { id }): Path<AssetId>,
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
