//! The ffmpeg process that makes a picture: the origin's own fragmented MP4 bytes on its
//! stdin (`-protocol_whitelist pipe`, nothing else to open), the picture on its stdout,
//! bounded in size and time.

use std::process::Stdio;

use axum::http::StatusCode;
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Format, Output, MAX_PICTURE_BYTES, PICTURE_DEADLINE};
use crate::ApiError;

/// Runs ffmpeg on `input` (an init segment and media segments, written to its stdin one
/// by one), a still from `offset_ms` into it: a picture on stdout, bounded in size and
/// time. The caller holds one of the [`super::FFMPEG_TURNS`].
pub(super) async fn run(
    input: Vec<Bytes>,
    offset_ms: u64,
    filter: &str,
    output: Output,
    format: Format,
) -> Result<Bytes, ApiError> {
    let mut cmd = tokio::process::Command::new("ffmpeg");
    // Only the pipe: the input is the origin's own fragmented MP4 bytes, named as such.
    cmd.args(["-nostats", "-hide_banner", "-loglevel", "error"])
        .args(["-protocol_whitelist", "pipe", "-f", "mp4", "-i", "pipe:0"])
        .args([
            "-an",
            "-sn",
            "-dn",
            "-filter_complex",
            &format!("[0:v:0]{filter}"),
        ]);
    match output {
        Output::Still => {
            cmd.args(["-ss", &format!("{:.3}", offset_ms as f64 / 1000.0)]);
            cmd.args(["-frames:v", "1"]);
        }
        Output::Animation => {
            cmd.args(["-loop", "0"]);
        }
    }
    match (format, output) {
        (Format::Jpeg, _) => cmd.args(["-c:v", "mjpeg", "-q:v", "3", "-f", "image2pipe"]),
        (Format::Webp, Output::Still) => {
            cmd.args(["-c:v", "libwebp", "-quality", "80", "-f", "webp"])
        }
        (Format::Webp, Output::Animation) => {
            cmd.args(["-c:v", "libwebp_anim", "-quality", "70", "-f", "webp"])
        }
        (Format::Gif, _) => cmd.args(["-f", "gif"]),
    };
    cmd.arg("pipe:1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let unavailable = |e: std::io::Error| {
        let why = if e.kind() == std::io::ErrorKind::NotFound {
            "pictures are made with ffmpeg, which is not installed on this origin".to_string()
        } else {
            format!("ffmpeg did not start: {e}")
        };
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", why)
    };
    let mut child = cmd.spawn().map_err(unavailable)?;
    let mut stdin = child.stdin.take();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let work = async {
        let feed = async {
            if let Some(mut s) = stdin.take() {
                // ffmpeg may stop reading once it has its frame: a broken pipe is fine.
                for piece in &input {
                    if s.write_all(piece).await.is_err() {
                        break;
                    }
                }
            }
        };
        let read = async {
            let mut out = Vec::new();
            if let Some(s) = stdout.as_mut() {
                (&mut *s)
                    .take(MAX_PICTURE_BYTES as u64 + 1)
                    .read_to_end(&mut out)
                    .await?;
                // Past the bound, read on and drop it, so that ffmpeg never blocks on a
                // full pipe; the answer is refused below.
                tokio::io::copy(s, &mut tokio::io::sink()).await?;
            }
            Ok::<_, std::io::Error>(out)
        };
        let errors = async {
            let mut log = Vec::new();
            if let Some(s) = stderr.as_mut() {
                let _ = (&mut *s).take(64 << 10).read_to_end(&mut log).await;
                let _ = tokio::io::copy(s, &mut tokio::io::sink()).await;
            }
            log
        };
        let ((), out, log) = tokio::join!(feed, read, errors);
        let status = child.wait().await?;
        Ok::<_, std::io::Error>((status, out?, log))
    };
    let failed = |why: String| ApiError::upstream(StatusCode::BAD_GATEWAY, "bad_gateway", why);
    let (status, out, log) = tokio::time::timeout(PICTURE_DEADLINE, work)
        .await
        .map_err(|_| failed(format!("ffmpeg took over {} s", PICTURE_DEADLINE.as_secs())))?
        .map_err(|e| failed(format!("ffmpeg: {e}")))?;
    if out.len() > MAX_PICTURE_BYTES {
        return Err(failed(format!(
            "the picture is over {MAX_PICTURE_BYTES} bytes"
        )));
    }
    if !status.success() || out.is_empty() {
        let log = String::from_utf8_lossy(&log);
        let last = log
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output");
        return Err(failed(format!("ffmpeg made no picture ({status}): {last}")));
    }
    Ok(Bytes::from(out))
}
