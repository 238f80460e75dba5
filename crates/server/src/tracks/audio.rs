//! A dub added to a ready asset (`POST /v1/assets/{id}/tracks?kind=audio`): the body (a
//! media file, at most the upload limit) is written to a scratch file, its first audio
//! stream encoded as the title's own audio is (`openvod_transcode::dub`: AAC, the
//! title's length exactly), indexed, and added to the stored presentation after the
//! renditions it has, so the players' first choice stays the title's own audio. The
//! video is not touched.
//!
//! The encode runs in the request, one at a time per server ([`DUB_TURNS`]): an AAC
//! encode runs at tens of times real time, a feature's dub in about a minute.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use futures::TryStreamExt;
use openvod_media::path::RenditionName;
use openvod_media::stored::StoredRendition;
use openvod_media::{Language, Rendition, TrackKind};
use openvod_store::Asset;
use openvod_transcode::dub::{self, DubTarget, Fit};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;

use super::{begin_edit, put, put_description, recorded_renditions, stored_asset};
use crate::{ApiError, AppState};

/// Dub encodes at once on this server; others wait for their turn.
static DUB_TURNS: Semaphore = Semaphore::const_new(1);
/// How long a dub's change may hold its asset: the longest encode `dub::encode` allows
/// for a 20-hour title, and the uploads around it.
const DUB_LEASE: Duration = Duration::from_secs(30 * 60);
/// The dub's stereo rendition when the title has no audio of its own to match.
const DEFAULT_AUDIO: (u32, u16, u64) = (48_000, 2, 128_000);

pub(super) async fn add_dub(
    state: &AppState,
    asset: &Asset,
    language: Option<Language>,
    fit: Fit,
    headers: &HeaderMap,
    body: Body,
) -> Result<Asset, ApiError> {
    // An asset that cannot take a dub says so before its upload is read.
    stored_asset(state, asset).await?;
    let scratch = tempfile::tempdir().map_err(internal)?;
    let input = scratch.path().join("dub");
    receive(state, headers, body, &input).await?;
    let _turn = DUB_TURNS.acquire().await.map_err(internal)?;
    let (asset, claim) = begin_edit(state, &asset.id, DUB_LEASE).await?;
    let changed = add(state, &asset, language, fit, scratch.path()).await;
    claim.end().await;
    changed
}

/// Writes the body to `to`: at most the upload limit, not empty.
async fn receive(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    to: &std::path::Path,
) -> Result<(), ApiError> {
    let limit = state.config.max_upload_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the dub is larger than the upload limit of {limit} bytes"),
        )
    };
    if crate::json::declares_over(headers, limit) {
        return Err(too_large());
    }
    let mut file = tokio::fs::File::create(to).await.map_err(internal)?;
    let mut stream = body.into_data_stream();
    let mut size = 0u64;
    while let Some(chunk) = stream.try_next().await.map_err(|e| {
        ApiError::bad_request(
            "upload_interrupted",
            format!("the upload was interrupted: {e}"),
        )
    })? {
        size += chunk.len() as u64;
        if size > limit {
            return Err(too_large());
        }
        file.write_all(&chunk).await.map_err(internal)?;
    }
    file.flush().await.map_err(internal)?;
    if size == 0 {
        return Err(ApiError::bad_request(
            "empty_body",
            "the request body is empty: send the dub's audio file as the body",
        ));
    }
    Ok(())
}

async fn add(
    state: &AppState,
    asset: &Asset,
    language: Option<Language>,
    fit: Fit,
    scratch: &std::path::Path,
) -> Result<Asset, ApiError> {
    let (prefix, mut stored, loaded) = stored_asset(state, asset).await?;
    let Some(end_ms) = loaded.video_end_ms() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_video",
            format!("asset {} has no video to dub", asset.id),
        ));
    };
    let recorded = recorded_renditions(asset);
    // The title's first audio rendition (the players' first choice): the dub is
    // encoded as it is, so every rendition of the audio group has one codec.
    let own = loaded
        .renditions()
        .iter()
        .find(|r| r.track.kind == TrackKind::Audio);
    let (sample_rate, _, default_bitrate) = DEFAULT_AUDIO;
    let target = DubTarget {
        seconds: end_ms as f64 / 1000.0,
        sample_rate: own
            .and_then(|r| r.track.codec.sample_rate())
            .unwrap_or(sample_rate),
        channels: 2,
        bitrate: own
            .and_then(|r| {
                recorded
                    .iter()
                    .find(|s| s["name"] == r.name.as_str())
                    .and_then(|s| s["bitrate"].as_u64())
            })
            .filter(|b| (32_000..=512_000).contains(b))
            .map_or(default_bitrate, |b| b.div_ceil(1000) * 1000),
        language,
    };
    let taken = stored.names();
    let base = format!("audio-{}", language.map_or("und", |l| l.bcp47()));
    let name = openvod_media::path::first_free(&base, "-", |n| taken.iter().any(|t| t == n));
    let name = RenditionName::new(&name).map_err(internal)?;
    let input = scratch.join("dub");
    let encoded = scratch.join("dub.mp4");
    let shown = format!("the dub for asset {}", asset.id);
    let job = {
        let (input, encoded, target) = (input.clone(), encoded.clone(), target.clone());
        tokio::task::spawn_blocking(move || -> Result<_, openvod_transcode::Error> {
            dub::encode(&input, &shown, &target, fit, &encoded)?;
            openvod_transcode::package::read_mp4(&encoded)
        })
    };
    let tracks = job.await.map_err(internal)?.map_err(refused)?;
    let track = match tracks.as_slice() {
        [t] if t.kind == TrackKind::Audio => t.clone(),
        _ => return Err(internal("the dub's encode is not one audio track")),
    };
    let rendition = Rendition {
        name: name.clone(),
        source: stored.renditions.len(),
        track,
    };
    // The presentation with the dub, made before anything is written: a dub the title's
    // timeline cannot take is refused with nothing changed.
    let p = loaded.with_rendition(rendition.clone()).map_err(|e| {
        ApiError::bad_request(
            "invalid_media",
            format!("the dub does not fit the title: {e}"),
        )
    })?;
    let at = p.renditions().len() - 1;
    let (peak, average) = p.bandwidth(stored.copies()[0], at).unwrap_or((0, 0));
    let index = openvod_media::index::encode_track(&rendition.track);
    let entry = StoredRendition { name: name.clone() };
    let media_bytes = state
        .objects
        .outputs
        .put_file(&format!("{prefix}/{}", entry.media_key()), &encoded)
        .await
        .map_err(|e| ApiError::upstream(StatusCode::BAD_GATEWAY, "bad_gateway", e))?;
    let index_bytes = index.len() as u64;
    put(state, format!("{prefix}/{}", entry.index_key()), index).await?;
    stored.renditions.push(entry);
    put_description(state, prefix, stored).await?;
    let mut renditions = recorded;
    renditions.push(json!({
        "name": name.as_str(),
        "kind": "audio",
        "codecs": p.renditions()[at].codec_string(),
        "language": language.map(|l| l.bcp47()),
        "channels": target.channels,
        "bitrate": average,
        "peak_bitrate": peak,
        "segments": p.renditions()[at].segments().len(),
        "bytes": media_bytes + index_bytes,
    }));
    Ok(state
        .db
        .set_tracks(&asset.id, &Value::Array(renditions), &asset.warnings)
        .await?)
}

/// A dub that cannot be one, answered 400 with the reason; anything else is the
/// server's.
fn refused(e: openvod_transcode::Error) -> ApiError {
    use openvod_transcode::Error as E;
    match e {
        E::LengthMismatch { .. } => ApiError::bad_request("length_mismatch", e.to_string()),
        E::Probe { .. }
        | E::Unsupported { .. }
        | E::UnacceptedFormat { .. }
        | E::Media { .. }
        | E::Ffmpeg { .. } => ApiError::bad_request("invalid_media", e.to_string()),
        E::Timeout { .. } => ApiError::new(StatusCode::GATEWAY_TIMEOUT, "timeout", e.to_string()),
        other => internal(other),
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::upstream(StatusCode::INTERNAL_SERVER_ERROR, "internal", e)
}
