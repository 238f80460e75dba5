//! Tracks of a ready asset: `POST /v1/assets/{id}/tracks` adds a subtitle or caption
//! track from a WebVTT or SubRip file, or a dub from an audio file (`kind=audio`, see
//! `audio`), the raw body; `DELETE /v1/assets/{id}/tracks/{name}` removes a text track,
//! or an audio one while another remains.
//!
//! Only an asset packaged on request takes a change: its stored form
//! (`presentation.json`, see `openvod_media::stored`) lists its text tracks and the
//! origin makes every manifest from it, so a new WebVTT file, a new description and a
//! new asset version are the whole change. The version keys the origin's loaded assets
//! and its shield, so no cache made from the old description serves after it (manifests
//! leave HTTP caches within their 30 s `max-age`). An asset packaged ahead of time has
//! its manifests written out per copy and keeps no sample tables to write them again;
//! it answers 409.
//!
//! One change at a time per asset, across every API server: the change claims the asset
//! in the database (`Db::begin_tracks_edit`) for at most [`EDIT_LEASE`], so that two
//! changes never both read the old description and one undo the other.

use std::time::Duration;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Json, Router};
use bytes::Bytes;
use openvod_media::path::{RenditionName, SegmentLength};
use openvod_media::stored::{StoredPresentation, StoredText, STORED_PRESENTATION};
use openvod_media::text::{self, Cue, TextFormat, TextKind, TextTrackInfo, MAX_TEXT_BYTES};
use openvod_media::Language;
use openvod_store::{Asset, AssetStatus};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use crate::api::{check_id, view, AssetId, AssetView};
use crate::{openapi, ApiError, AppState};

mod audio;

/// How long one change may hold an asset before another may take it over (a server
/// that stopped mid-change leaves its claim behind); a dub's encode holds it longer
/// (see `audio`).
const EDIT_LEASE: Duration = Duration::from_secs(60);

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/assets/{id}/tracks", post(add_track))
        .route("/v1/assets/{id}/tracks/{name}", delete(remove_track))
}

/// The format of a subtitle file.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum FileFormat {
    /// WebVTT (W3C).
    Vtt,
    /// SubRip.
    Srt,
}

impl From<FileFormat> for TextFormat {
    fn from(f: FileFormat) -> TextFormat {
        match f {
            FileFormat::Vtt => TextFormat::WebVtt,
            FileFormat::Srt => TextFormat::SubRip,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TrackParams {
    /// The language, an ISO 639 code (`en`, `spa`, `pt-BR`); absent: undetermined.
    #[param(max_length = 35)]
    language: Option<String>,
    /// `subtitles` (a translation of the dialogue, the default), `captions` (the
    /// dialogue and sounds, for viewers who cannot hear them), or `audio` (a dub: the
    /// body is an audio or video file whose first audio stream is encoded as one more
    /// audio rendition).
    #[param(inline)]
    kind: Option<TrackKindParam>,
    /// Shown even to viewers who chose no subtitles (foreign dialogue in a film).
    forced: Option<bool>,
    /// A dub whose length differs from the video's by more than half a second is
    /// refused (`exact`, the default), ended in silence (`pad`) or cut (`trim`).
    #[param(inline)]
    fit: Option<FitParam>,
    /// The file's format; absent: from the Content-Type (`text/vtt`,
    /// `application/x-subrip`), else WebVTT when the body starts with `WEBVTT`, else
    /// SubRip.
    #[param(inline)]
    format: Option<FileFormat>,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TrackKindParam {
    Subtitles,
    Captions,
    Audio,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum FitParam {
    Exact,
    Pad,
    Trim,
}

/// `POST /v1/assets/{id}/tracks`: a subtitle or caption file added to a ready asset.
#[utoipa::path(
    post,
    path = "/v1/assets/{id}/tracks",
    operation_id = "addTrack",
    tag = "assets",
    summary = "Add a subtitle or caption track (a WebVTT or SubRip file) or a dub (an audio file), the raw body, to a ready asset packaged on request",
    params(AssetId, TrackParams),
    request_body(description = "A WebVTT or SubRip file (UTF-8, at most 4 MiB), or with kind=audio a media file (at most the upload limit)", content(
        (String = "text/vtt"),
        (openapi::MediaBody = "application/octet-stream"),
    )),
    responses(
        (status = 201, description = "Added: the asset, its new track among its renditions; cues after the video's end are dropped with a `cues_past_end` warning", body = AssetView),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 413, response = openapi::TooLarge),
        (status = 502, response = openapi::BadGateway),
        (status = 503, response = openapi::Unavailable),
        (status = 504, response = openapi::GatewayTimeout),
    ),
    security(("AdminToken" = []))
)]
pub(crate) async fn add_track(
    State(state): State<AppState>,
    Path(AssetId { id }): Path<AssetId>,
    params: Result<Query<TrackParams>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    let Query(params) = params?;
    // The asset first: a request about no asset is a 404 whatever else it says.
    let asset = ready_asset(&state, &id).await?;
    let language = match params.language.as_deref() {
        None | Some("und") => None,
        Some(code) => Some(Language::from_code(code).ok_or_else(|| {
            ApiError::bad_request(
                "bad_language",
                format!(
                    "{:?} is not an ISO 639 language code (en, spa, pt-BR)",
                    code.chars().take(35).collect::<String>()
                ),
            )
        })?),
    };
    let kind = match params.kind {
        None | Some(TrackKindParam::Subtitles) => TextKind::Subtitles,
        Some(TrackKindParam::Captions) => TextKind::Captions,
        Some(TrackKindParam::Audio) => {
            if params.forced.is_some() || params.format.is_some() {
                return Err(ApiError::bad_request(
                    "bad_parameter",
                    "forced and format are for subtitle files, not a dub",
                ));
            }
            let fit = match params.fit {
                None | Some(FitParam::Exact) => openvod_transcode::dub::Fit::Exact,
                Some(FitParam::Pad) => openvod_transcode::dub::Fit::Pad,
                Some(FitParam::Trim) => openvod_transcode::dub::Fit::Trim,
            };
            let changed = audio::add_dub(&state, &asset, language, fit, &headers, body).await?;
            return Ok((StatusCode::CREATED, Json(view(&state, &changed).await?)).into_response());
        }
    };
    if params.fit.is_some() {
        return Err(ApiError::bad_request(
            "bad_parameter",
            "fit is for a dub (kind=audio), not a subtitle file",
        ));
    }
    let info = TextTrackInfo {
        language,
        kind,
        forced: params.forced.unwrap_or(false),
    };
    let bytes = read_body(&headers, body).await?;
    let format = params
        .format
        .map(TextFormat::from)
        .unwrap_or_else(|| format_of(&headers, &bytes));
    let cues = text::parse(&bytes, format).map_err(|e| {
        let what = match format {
            TextFormat::WebVtt => "WebVTT",
            TextFormat::SubRip => "SubRip",
        };
        ApiError::bad_request(
            "invalid_subtitles",
            format!("the subtitle file is not valid {what}: {e}"),
        )
    })?;
    let (asset, claim) = begin_edit(&state, &asset.id, EDIT_LEASE).await?;
    let changed = add(&state, &asset, info, cues).await;
    claim.end().await;
    Ok((StatusCode::CREATED, Json(view(&state, &changed?).await?)).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct TrackPath {
    /// The asset's id.
    #[param(pattern = "^[0-9a-f]{32}$")]
    id: String,
    /// The track's name, as the asset's renditions list it (`subs-es`).
    #[param(max_length = 64)]
    name: String,
}

/// `DELETE /v1/assets/{id}/tracks/{name}`: a subtitle, caption or audio track removed
/// (audio while another remains).
#[utoipa::path(
    delete,
    path = "/v1/assets/{id}/tracks/{name}",
    operation_id = "removeTrack",
    tag = "assets",
    summary = "Remove a subtitle, caption or audio track (while another audio track remains) from a ready asset packaged on request",
    params(TrackPath),
    responses(
        (status = 200, description = "Removed: the asset", body = AssetView),
        (status = 401, response = openapi::Unauthorized),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 502, response = openapi::BadGateway),
        (status = 503, response = openapi::Unavailable),
    ),
    security(("AdminToken" = []))
)]
pub(crate) async fn remove_track(
    State(state): State<AppState>,
    Path(TrackPath { id, name }): Path<TrackPath>,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    let asset = ready_asset(&state, &id).await?;
    let name = RenditionName::new(&name).map_err(|_| {
        ApiError::not_found(format!(
            "asset {id} has no track {:?}",
            name.chars().take(64).collect::<String>()
        ))
    })?;
    let (asset, claim) = begin_edit(&state, &asset.id, EDIT_LEASE).await?;
    let changed = remove(&state, &asset, name).await;
    claim.end().await;
    Ok((StatusCode::OK, Json(view(&state, &changed?).await?)).into_response())
}

/// The body, at most [`MAX_TEXT_BYTES`], not empty.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("a subtitle file is at most {MAX_TEXT_BYTES} bytes"),
        )
    };
    if crate::json::declares_over(headers, MAX_TEXT_BYTES as u64) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, MAX_TEXT_BYTES)
        .await
        .map_err(|_| too_large())?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "empty_body",
            "the request body is empty: send the subtitle file as the body",
        ));
    }
    Ok(bytes)
}

/// The format the Content-Type names, else WebVTT when the file says so on its first
/// line (W3C WebVTT, 4.1: a file starts with `WEBVTT`), else SubRip.
fn format_of(headers: &HeaderMap, bytes: &[u8]) -> TextFormat {
    match crate::json::media_type(headers).as_deref() {
        Some("text/vtt") => TextFormat::WebVtt,
        Some("application/x-subrip" | "text/srt" | "application/srt") => TextFormat::SubRip,
        _ => {
            let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            if text.starts_with(b"WEBVTT") {
                TextFormat::WebVtt
            } else {
                TextFormat::SubRip
            }
        }
    }
}

async fn ready_asset(state: &AppState, id: &str) -> Result<Asset, ApiError> {
    let asset = state
        .db
        .asset(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no asset {id}")))?;
    if asset.status != AssetStatus::Ready || asset.output_prefix.is_none() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_ready",
            format!(
                "asset {id} is {}: its tracks change once it is ready",
                asset.status.as_str()
            ),
        ));
    }
    crate::tiers::refuse_cold(&asset)?;
    Ok(asset)
}

/// A claimed tracks edit of one asset (see the module's doc). [`EditClaim::end`] gives
/// it back; a claim dropped without it (the client went away mid-change, and its
/// request's future with it) is given back from a task, so the asset does not wait
/// out the lease.
struct EditClaim {
    db: openvod_store::Db,
    id: String,
    ended: bool,
}

impl EditClaim {
    async fn end(mut self) {
        self.ended = true;
        end_edit(&self.db, &self.id).await;
    }
}

impl Drop for EditClaim {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let (db, id) = (self.db.clone(), std::mem::take(&mut self.id));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { end_edit(&db, &id).await });
        }
    }
}

/// Claims asset `id`'s one tracks edit and reads the asset as it is now, under the claim.
async fn begin_edit(
    state: &AppState,
    id: &str,
    lease: Duration,
) -> Result<(Asset, EditClaim), ApiError> {
    let until = openvod_store::now_ms() + lease.as_millis() as i64;
    if !state.db.begin_tracks_edit(id, until).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "busy",
            format!("another change to asset {id}'s tracks is under way; try again when it ends"),
        ));
    }
    let claim = EditClaim {
        db: state.db.clone(),
        id: id.to_string(),
        ended: false,
    };
    match ready_asset(state, id).await {
        Ok(asset) => Ok((asset, claim)),
        Err(e) => {
            claim.end().await;
            Err(e)
        }
    }
}

async fn end_edit(db: &openvod_store::Db, id: &str) {
    // A claim left behind (the database went away just now) lapses with its lease.
    if let Err(e) = db.end_tracks_edit(id).await {
        tracing::warn!(asset = %id, error = %e, "a tracks edit was not ended; it lapses");
    }
}

/// The output prefix, stored description and loaded form of `asset`, packaged on
/// request, read now (under the edit, so no other change lands between this read and
/// the write).
async fn stored_asset<'a>(
    state: &AppState,
    asset: &'a Asset,
) -> Result<
    (
        &'a str,
        StoredPresentation,
        std::sync::Arc<crate::jit::JitAsset>,
    ),
    ApiError,
> {
    let prefix = asset.output_prefix.as_deref().unwrap_or_default();
    let key = format!("{prefix}/{STORED_PRESENTATION}");
    let packaged_ahead = || {
        ApiError::new(
            StatusCode::CONFLICT,
            "packaged_ahead_of_time",
            format!(
                "asset {} was packaged ahead of time, whose manifests are written once; \
                 tracks are added to assets packaged on request (a template with \
                 [packaging] mode = \"jit\")",
                asset.id
            ),
        )
    };
    let Some(json) = crate::jit::read_small(state, &key, crate::jit::DESCRIPTION_LIMIT).await?
    else {
        return Err(packaged_ahead());
    };
    let stored = StoredPresentation::from_json(&json).map_err(|e| {
        ApiError::upstream(
            StatusCode::BAD_GATEWAY,
            "bad_gateway",
            format!("{key}: {e}"),
        )
    })?;
    let loaded = crate::jit::load(state, &asset.id, asset.updated_at, prefix)
        .await?
        .ok_or_else(packaged_ahead)?;
    Ok((prefix, stored, loaded))
}

async fn put(state: &AppState, key: String, bytes: Vec<u8>) -> Result<(), ApiError> {
    state
        .objects
        .outputs
        .put_bytes(&key, Bytes::from(bytes))
        .await
        .map_err(|e| {
            ApiError::upstream(
                StatusCode::BAD_GATEWAY,
                "bad_gateway",
                format!("{key}: {e}"),
            )
        })
}

/// Writes `stored` as the asset's description, the lowest version that holds it.
async fn put_description(
    state: &AppState,
    prefix: &str,
    mut stored: StoredPresentation,
) -> Result<(), ApiError> {
    stored.version = stored.needed_version();
    put(
        state,
        format!("{prefix}/{STORED_PRESENTATION}"),
        stored.to_json(),
    )
    .await
}

/// The renditions the asset records (`RenditionSummary` objects), as a list.
fn recorded_renditions(asset: &Asset) -> Vec<Value> {
    asset
        .renditions
        .as_ref()
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

async fn add(
    state: &AppState,
    asset: &Asset,
    info: TextTrackInfo,
    mut cues: Vec<Cue>,
) -> Result<Asset, ApiError> {
    let (prefix, mut stored, loaded) = stored_asset(state, asset).await?;
    if stored.texts.len() >= text::MAX_TEXT_TRACKS {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "too_many_tracks",
            format!(
                "asset {} has {} text tracks, the most one asset carries",
                asset.id,
                stored.texts.len()
            ),
        ));
    }
    let mut warnings = asset.warnings.clone();
    let taken = stored.names();
    let name = info.track_name(&taken);
    if let Some(end_ms) = loaded.video_end_ms() {
        let dropped = text::clip_to(&mut cues, end_ms);
        let seconds = end_ms as f64 / 1000.0;
        if cues.is_empty() {
            return Err(ApiError::bad_request(
                "invalid_subtitles",
                format!("every cue starts after the video ends ({seconds:.3} s)"),
            ));
        }
        if dropped > 0 {
            warnings.push(json!({
                "code": "cues_past_end",
                "message": format!(
                    "{dropped} cue(s) of {name} start after the video ends ({seconds:.3} s) and were dropped"
                ),
            }));
        }
    }
    let name = RenditionName::new(&name)
        .map_err(|e| ApiError::upstream(StatusCode::BAD_GATEWAY, "bad_gateway", e.to_string()))?;
    let segments = loaded
        .presentation(SegmentLength::Template)?
        .text_segment_count();
    let vtt = text::write_segment(&cues, 0, u64::MAX, None);
    let bytes = vtt.len();
    let new = StoredText {
        name: name.clone(),
        info: info.clone(),
    };
    put(
        state,
        format!("{prefix}/{}", new.media_key()),
        vtt.into_bytes(),
    )
    .await?;
    stored.texts.push(new);
    put_description(state, prefix, stored).await?;
    let mut renditions = recorded_renditions(asset);
    renditions.push(json!({
        "name": name.as_str(),
        "kind": match info.kind {
            TextKind::Subtitles => "subtitles",
            TextKind::Captions => "captions",
        },
        "codecs": "wvtt",
        "language": info.language.map(|l| l.bcp47().to_string()),
        "bitrate": 0,
        "peak_bitrate": 0,
        "segments": segments,
        "bytes": bytes,
    }));
    Ok(state
        .db
        .set_tracks(&asset.id, &Value::Array(renditions), &warnings)
        .await?)
}

async fn remove(state: &AppState, asset: &Asset, name: RenditionName) -> Result<Asset, ApiError> {
    let (prefix, mut stored, loaded) = stored_asset(state, asset).await?;
    let gone: Vec<String> = if let Some(at) = stored.texts.iter().position(|t| t.name == name) {
        vec![stored.texts.remove(at).media_key()]
    } else if let Some(at) = stored.renditions.iter().position(|r| r.name == name) {
        // An audio rendition goes (a dub, or one of the source's languages) while
        // another stays; video stays, and so does the last audio.
        let audio = |r: &openvod_media::Rendition| r.track.kind == openvod_media::TrackKind::Audio;
        let is_audio = loaded.renditions().get(at).is_some_and(audio);
        let others =
            loaded.renditions().iter().filter(|r| audio(r)).count() - usize::from(is_audio);
        if !is_audio || others == 0 {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "track_stays",
                format!(
                    "{} of asset {} is {}, which stays; subtitle, caption and audio tracks \
                     are removed while another audio track remains",
                    name.as_str(),
                    asset.id,
                    if is_audio { "its only audio" } else { "video" }
                ),
            ));
        }
        let r = stored.renditions.remove(at);
        vec![r.media_key(), r.index_key()]
    } else {
        return Err(ApiError::not_found(format!(
            "{} is not one of asset {}'s tracks",
            name.as_str(),
            asset.id
        )));
    };
    put_description(state, prefix, stored).await?;
    let renditions: Vec<Value> = recorded_renditions(asset)
        .into_iter()
        .filter(|r| r["name"] != name.as_str())
        .collect();
    let updated = state
        .db
        .set_tracks(&asset.id, &Value::Array(renditions), &asset.warnings)
        .await?;
    // After the new version: a viewer still on the old manifests (up to their max-age)
    // finds this track gone, as it is.
    for key in gone {
        let key = format!("{prefix}/{key}");
        if let Err(e) = state.objects.outputs.delete(&key).await {
            tracing::warn!(key, error = %e, "a removed track's file stays in the store");
        }
    }
    Ok(updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::CONTENT_TYPE, value.parse().unwrap());
        h
    }

    #[tokio::test]
    async fn a_claim_dropped_mid_change_is_given_back() {
        let dir = tempfile::tempdir().unwrap();
        let db = openvod_store::Db::connect(&format!("sqlite://{}/meta.db", dir.path().display()))
            .await
            .unwrap();
        let asset = db
            .create_asset(
                openvod_store::NewAsset {
                    source_key: "uploads/a".into(),
                    source_name: None,
                    source_size: Some(1),
                    template: "default".into(),
                },
                1,
            )
            .await
            .unwrap();
        let later = openvod_store::now_ms() + 600_000;
        assert!(db.begin_tracks_edit(&asset.id, later).await.unwrap());
        let claim = EditClaim {
            db: db.clone(),
            id: asset.id.clone(),
            ended: false,
        };
        assert!(!db.begin_tracks_edit(&asset.id, later).await.unwrap());
        // A request's future dropped mid-change drops its claim without `end`.
        drop(claim);
        let mut free = false;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            free = db.begin_tracks_edit(&asset.id, later).await.unwrap();
            if free {
                break;
            }
        }
        assert!(
            free,
            "the dropped claim was given back, long before its lease"
        );
    }

    #[test]
    fn the_format_comes_from_the_type_then_the_first_line() {
        let none = HeaderMap::new();
        assert_eq!(format_of(&none, b"WEBVTT\n\n"), TextFormat::WebVtt);
        assert_eq!(
            format_of(&none, b"\xEF\xBB\xBFWEBVTT\n"),
            TextFormat::WebVtt
        );
        assert_eq!(
            format_of(&none, b"1\n00:00:01,000 --> 00:00:02,000\nHi\n"),
            TextFormat::SubRip
        );
        assert_eq!(
            format_of(&typed("text/vtt; charset=utf-8"), b"1\n"),
            TextFormat::WebVtt
        );
        assert_eq!(
            format_of(&typed("application/x-subrip"), b"WEBVTT\n"),
            TextFormat::SubRip
        );
        assert_eq!(
            format_of(&typed("application/octet-stream"), b"WEBVTT\n"),
            TextFormat::WebVtt
        );
    }
}
