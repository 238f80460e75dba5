//! Progressive downloads of a ready asset: `/download/{id}/FILE`, a file that the
//! asset's `downloads.json` lists (`openvod_transcode::downloads`), streamed from the
//! store with ranges and a `Content-Disposition` file name, under the same access rules
//! as playback.

use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use openvod_store::{Asset, AssetStatus};
use openvod_transcode::downloads::{read_index, Download, DOWNLOADS_FOLDER, DOWNLOAD_INDEX};

use crate::access::{self, Playback};
use crate::api::check_id;
use crate::{ApiError, AppState};

/// Largest `downloads.json` read.
const MAX_INDEX_BYTES: u64 = 64 << 10;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/download/{id}/{file}", get(download))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct DownloadParams {
    /// The asset (32 lowercase hex digits).
    #[param(pattern = "^[0-9a-f]{32}$")]
    id: String,
    /// A file the asset's `downloads` lists (`1080p.mp4`, `audio.m4a`).
    #[param(max_length = 72)]
    file: String,
}

#[utoipa::path(
    get,
    path = "/download/{id}/{file}",
    operation_id = "download",
    tag = "origin",
    summary = "A progressive MP4 download of a ready asset (Range, If-None-Match)",
    params(
        DownloadParams,
        ("Range" = Option<String>, Header, description = "One byte range (RFC 9110, 14.1.2)"),
    ),
    responses(
        (status = 200, description = "The file, with a Content-Disposition file name", content(
            (crate::openapi::RawBytes = "video/mp4"),
            (crate::openapi::RawBytes = "audio/mp4"),
        )),
        (status = 206, description = "A byte range"),
        (status = 304, description = "Not modified (the ETag matched)"),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 202, description = "The asset is in cold storage (storage tiers): it is being restored; ask again after Retry-After seconds", body = crate::tiers::StorageView, headers(("Retry-After" = u64), ("Cache-Control" = String, description = "no-store"))),
        (status = 404, response = crate::openapi::NotFound),
        (status = 416, description = "Range not satisfiable"),
        (status = 502, response = crate::openapi::BadGateway),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
async fn download(
    State(state): State<AppState>,
    Path(DownloadParams { id, file }): Path<DownloadParams>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Result<Response, ApiError> {
    let client = access::client_addr(&request);
    let method = request.method().clone();
    let headers = request.headers().clone();
    check_id(&id)?;
    let not_found = || ApiError::not_found(format!("no download {file:?} for asset {id}"));
    if !Download::is_valid_name(&file) {
        return Err(not_found());
    }
    let asset = state.db.asset(&id).await?.ok_or_else(not_found)?;
    let prefix = match (&asset.status, &asset.output_prefix) {
        (AssetStatus::Ready, Some(p)) => p.clone(),
        _ => return Err(not_found()),
    };
    if access::playback_of(&state, &asset) == Playback::Signed {
        access::check_viewer(
            &state,
            &headers,
            &format!("/download/{id}/{file}"),
            query.as_deref(),
            client,
        )?;
    }
    if let Some(waiting) = crate::tiers::unless_cold(&state, &asset).await? {
        return Ok(waiting);
    }
    let listed = downloads_of(&state, &asset, &prefix).await?;
    let d = listed
        .iter()
        .find(|d| d.file == file)
        .ok_or_else(not_found)?;
    let content_type = if d.kind == "audio" {
        "audio/mp4"
    } else {
        "video/mp4"
    };
    let disposition = format!(
        "attachment; filename=\"{}-{}\"",
        file_stem(asset.source_name.as_deref().unwrap_or(&asset.id)),
        d.file
    );
    let key = format!("{prefix}/{DOWNLOADS_FOLDER}/{}", d.file);
    let response = crate::origin::stream_stored(
        &state,
        &method,
        &headers,
        &key,
        content_type,
        "public, max-age=86400",
        &[(header::CONTENT_DISPOSITION, disposition)],
    )
    .await?
    .ok_or_else(|| {
        ApiError::upstream(
            StatusCode::BAD_GATEWAY,
            "bad_gateway",
            format!("{key} is listed but not stored"),
        )
    })?;
    if method == Method::GET && response.status().is_success() {
        let bytes = content_length(response.headers());
        state.served.record(&id, bytes, false);
    }
    Ok(response)
}

fn content_length(headers: &HeaderMap) -> u64 {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The downloads a ready asset lists; empty when it has none.
pub(crate) async fn downloads_of(
    state: &AppState,
    asset: &Asset,
    prefix: &str,
) -> Result<Vec<Download>, ApiError> {
    let body = match crate::images::held_small(
        state,
        asset,
        prefix,
        DOWNLOAD_INDEX,
        MAX_INDEX_BYTES,
        String::new,
    )
    .await
    {
        Ok(b) => b,
        Err(e) if e.status == StatusCode::NOT_FOUND => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    read_index(&body).map_err(|e| ApiError::upstream(StatusCode::BAD_GATEWAY, "bad_gateway", e))
}

/// The source's name without its extension, kept to what a `Content-Disposition`
/// quoted file name holds everywhere: ASCII letters, digits, `-`, `_`, `.` (others
/// become `_`), at most 80 characters.
fn file_stem(name: &str) -> String {
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    let clean: String = stem
        .chars()
        .take(80)
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        "download".into()
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_plain_ascii() {
        assert_eq!(file_stem("holiday.mp4"), "holiday");
        assert_eq!(file_stem("Ma \"vidéo\"; x.mov"), "Ma__vid_o___x");
        assert_eq!(file_stem(".mp4"), "download");
        assert_eq!(file_stem(&"a".repeat(500)).len(), 80);
    }
}
