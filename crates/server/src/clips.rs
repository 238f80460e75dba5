//! Clips: `POST /v1/assets/{id}/clips` makes a new asset from a range of a ready one.
//! The range is checked here against the title; the clip's pipeline starts at the
//! transcode stage, which cuts the parent's published renditions (see
//! `openvod_pipeline`'s `clip` and `openvod_transcode::clip`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use openvod_media::clip::check_range;
use openvod_media::stored::STORED_PRESENTATION;
use openvod_store::{AssetStatus, Stage};
use openvod_transcode::clip::{ClipMode, ClipRequest};
use openvod_transcode::ladder::EncodePlan;
use openvod_transcode::template::VideoCodec;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::api::{check_id, load, view, AssetId, AssetView};
use crate::json::JsonBody;
use crate::{openapi, ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/v1/assets/{id}/clips", post(create_clip))
}

/// The range of a clip.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClipBody {
    /// Where the clip starts, seconds from the title's start.
    #[schema(minimum = 0)]
    start: f64,
    /// Where it ends, seconds from the title's start: after `start`, at most the title's
    /// duration.
    end: f64,
    /// `keyframe` (default): cut on the keyframes around the range, nothing encoded, at
    /// most a GOP longer at each end; `frame`: exactly the frames asked for, the partial
    /// GOPs at each end encoded again.
    #[schema(value_type = Option<String>, pattern = "^(keyframe|frame)$")]
    mode: Option<ClipMode>,
    /// The clip's name (default: the title's, with the range).
    #[schema(max_length = 255)]
    name: Option<String>,
}

/// `POST /v1/assets/{id}/clips`.
#[utoipa::path(
    post,
    path = "/v1/assets/{id}/clips",
    operation_id = "createClip",
    tag = "assets",
    summary = "Make a new asset from a range of a ready one: keyframe-exact (no encode) or frame-exact (the partial GOPs at each end encoded again)",
    params(AssetId),
    request_body = ClipBody,
    responses(
        (status = 201, description = "Created and queued: the clip, whose `clip` names the parent and the range", body = AssetView),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 413, response = openapi::TooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 503, response = openapi::Unavailable),
    ),
    security(("AdminToken" = []))
)]
pub(crate) async fn create_clip(
    State(state): State<AppState>,
    Path(AssetId { id }): Path<AssetId>,
    JsonBody(body): JsonBody<ClipBody>,
) -> Result<(StatusCode, Json<AssetView>), ApiError> {
    check_id(&id)?;
    let parent = load(&state, &id).await?;
    if parent.status != AssetStatus::Ready {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_ready",
            format!(
                "asset {id} is {}: clips are cut from a ready asset",
                parent.status.as_str()
            ),
        ));
    }
    crate::tiers::refuse_cold(&parent)?;
    let plan = encoded_plan(&state, &id).await?;
    // The encoded length (a clip's is its own), or the probed one when it was unknown.
    let duration = Some(plan.duration)
        .filter(|d| *d > 0.0)
        .or_else(|| {
            parent
                .probe
                .as_ref()
                .and_then(|p| p.get("duration"))
                .and_then(serde_json::Value::as_f64)
        })
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "clip_unavailable",
                format!("asset {id} has no recorded duration to cut from"),
            )
        })?;
    check_range(body.start, body.end, duration)
        .map_err(|e| ApiError::bad_request("invalid_range", e.to_string()))?;
    check_clear_renditions(&state, &parent, &plan).await?;
    // A frame-exact clip encodes: only a worker with every rung's encoder may take it.
    let mode = body.mode.unwrap_or_default();
    let codecs = match mode {
        ClipMode::Keyframe => 0,
        ClipMode::Frame => VideoCodec::set_of(plan.rungs.iter().map(|r| r.codec)),
    };
    let name = body
        .name
        .map(|n| n.chars().filter(|c| !c.is_control()).take(255).collect())
        .filter(|n: &String| !n.is_empty())
        .unwrap_or_else(|| {
            let title = parent.source_name.as_deref().unwrap_or(&parent.id);
            format!("{title} ({:.3}-{:.3} s)", body.start, body.end)
        });
    let request = ClipRequest {
        of: parent.id.clone(),
        start: body.start,
        end: body.end,
        mode,
    };
    let clip = serde_json::to_value(&request)
        .map_err(|e| ApiError::bad_request("invalid_range", e.to_string()))?;
    let asset = state
        .db
        .create_clip(&parent, &name, &clip, codecs, state.config.max_attempts)
        .await?;
    Ok((StatusCode::CREATED, Json(view(&state, &asset).await?)))
}

/// The plan the parent was encoded with, as its transcode stage recorded it.
async fn encoded_plan(state: &AppState, id: &str) -> Result<EncodePlan, ApiError> {
    let output = state.db.task_output(id, Stage::Transcode).await?;
    output
        .and_then(|mut o| o.get_mut("plan").map(serde_json::Value::take))
        .and_then(|p| serde_json::from_value::<EncodePlan>(p).ok())
        .filter(|p| !p.rungs.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "clip_unavailable",
                format!(
                    "asset {id} was encoded by an earlier openvod that did not record its plan: \
                     upload it again to cut clips from it"
                ),
            )
        })
}

/// Refuses a parent whose renditions cannot be read clear: packaged ahead of time in
/// protected copies only.
async fn check_clear_renditions(
    state: &AppState,
    parent: &openvod_store::Asset,
    plan: &EncodePlan,
) -> Result<(), ApiError> {
    let Some(prefix) = &parent.output_prefix else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_ready",
            format!("asset {} has no published output", parent.id),
        ));
    };
    let outputs = &state.objects.outputs;
    if outputs
        .head(&format!("{prefix}/{STORED_PRESENTATION}"))
        .await?
        .is_some()
    {
        return Ok(());
    }
    let first = &plan.rungs[0].name;
    if outputs
        .head(&format!("{prefix}/{first}/init.mp4"))
        .await?
        .is_some()
    {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        "clip_unavailable",
        format!(
            "asset {} has no clear copy to cut from (its template packages protected copies \
             only, ahead of time); clips need a clear copy or packaging on request",
            parent.id
        ),
    ))
}
