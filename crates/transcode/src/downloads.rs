//! Progressive MP4 downloads: the top video rung with the audio players pick first, and
//! that audio alone as `.m4a`, remuxed from the encode (`-c copy`, no re-encode) with
//! the `moov` box first (`-movflags +faststart`), so that a download plays while it
//! arrives. Their list is `downloads.json` at the presentation's root, which the origin
//! serves them by: only a file it lists can be downloaded.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ladder::{EncodePlan, PlannedRung};
use crate::source::SourceFile;
use crate::{Error, Result};

/// The folder of the downloads, under a presentation's root.
pub const DOWNLOADS_FOLDER: &str = "downloads";
/// Their list, at a presentation's root.
pub const DOWNLOAD_INDEX: &str = "downloads.json";
/// Most downloads a list may hold when read back.
const MAX_DOWNLOADS: usize = 16;

/// One download.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Download {
    /// The file name under `downloads/`: the rung's or the audio's name, `.mp4` or
    /// `.m4a`.
    pub file: String,
    /// `video` (with its audio) or `audio`.
    pub kind: String,
    pub bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

impl Download {
    /// Whether `file` is a name this module writes: a rendition's name (letters,
    /// digits, `-`, `_`, `.`, not starting with `.` nor holding `..`) and `.mp4` or
    /// `.m4a`. What the origin checks a stored list against.
    pub fn is_valid_name(file: &str) -> bool {
        let Some((stem, ext)) = file.rsplit_once('.') else {
            return false;
        };
        (ext == "mp4" || ext == "m4a")
            && !stem.is_empty()
            && stem.len() <= 64
            && !stem.starts_with('.')
            && !stem.contains("..")
            && stem
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    }
}

/// Reads a stored `downloads.json`, checking every name.
pub fn read_index(bytes: &[u8]) -> Result<Vec<Download>> {
    let list: Vec<Download> = serde_json::from_slice(bytes)
        .map_err(|e| Error::Output(format!("{DOWNLOAD_INDEX}: {e}")))?;
    if list.len() > MAX_DOWNLOADS || !list.iter().all(|d| Download::is_valid_name(&d.file)) {
        return Err(Error::Output(format!("{DOWNLOAD_INDEX}: a malformed list")));
    }
    Ok(list)
}

/// Makes the downloads of `plan`'s encode in `encoded` into `out/downloads/`, and
/// writes `out/downloads.json`. Nothing when the plan has neither video nor audio.
pub fn make(plan: &EncodePlan, encoded: &Path, out: &Path) -> Result<Vec<Download>> {
    let top = plan
        .rungs
        .iter()
        // The largest picture; of two the same size, the higher bit rate.
        .max_by_key(|r: &&PlannedRung| (u64::from(r.width) * u64::from(r.height), r.max_bitrate));
    let audio = plan.audio.first();
    if top.is_none() && audio.is_none() {
        return Ok(Vec::new());
    }
    let folder = out.join(DOWNLOADS_FOLDER);
    std::fs::create_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
    let mut made = Vec::new();
    if let Some(rung) = top {
        let file = format!("{}.mp4", rung.name);
        let mut inputs = vec![SourceFile::open(&crate::ffmpeg::output_path(
            encoded, &rung.name,
        ))?];
        let mut maps = vec!["0:v:0"];
        if let Some(a) = audio {
            inputs.push(SourceFile::open(&crate::ffmpeg::output_path(
                encoded, &a.name,
            ))?);
            maps.push("1:a:0");
        }
        let bytes = remux(&inputs, &maps, &folder.join(&file), plan.duration)?;
        made.push(Download {
            file,
            kind: "video".into(),
            bytes,
            width: Some(rung.width),
            height: Some(rung.height),
        });
    }
    if let Some(a) = audio {
        let file = format!("{}.m4a", a.name);
        let input = SourceFile::open(&crate::ffmpeg::output_path(encoded, &a.name))?;
        let bytes = remux(&[input], &["0:a:0"], &folder.join(&file), plan.duration)?;
        made.push(Download {
            file,
            kind: "audio".into(),
            bytes,
            width: None,
            height: None,
        });
    }
    let index = out.join(DOWNLOAD_INDEX);
    let json = serde_json::to_vec(&made).map_err(|e| Error::Output(e.to_string()))?;
    std::fs::write(&index, json).map_err(|e| Error::io(&index, e))?;
    Ok(made)
}

/// `ffmpeg -c copy -movflags +faststart` of the `maps` of `inputs` into `to`; its size.
fn remux(inputs: &[SourceFile], maps: &[&str], to: &Path, seconds: f64) -> Result<u64> {
    let mut args: Vec<OsString> = ["-nostdin", "-hide_banner", "-loglevel", "error"]
        .map(OsString::from)
        .to_vec();
    for i in inputs {
        args.extend(i.input_args());
    }
    for m in maps {
        args.extend(["-map".into(), OsString::from(*m)]);
    }
    args.extend(["-c", "copy", "-movflags", "+faststart", "-f", "mp4", "-y"].map(OsString::from));
    args.push(to.as_os_str().to_owned());
    let mut cmd = Command::new("ffmpeg");
    cmd.args(args).stdin(Stdio::null());
    // A remux reads and writes the file once: a minute plus a second per 10 s of media.
    let deadline = Duration::from_secs(60 + (seconds / 10.0) as u64);
    let out = crate::process::run_captured(cmd, "ffmpeg", deadline)?;
    if !out.status.success() {
        return Err(Error::Ffmpeg {
            status: out.status.to_string(),
            message: format!(
                "making the download {}: {}",
                to.display(),
                crate::probe::last_line(&out.stderr).unwrap_or_default()
            ),
        });
    }
    Ok(std::fs::metadata(to).map_err(|e| Error::io(to, e))?.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_names_this_module_writes_are_read_back() {
        for ok in [
            "1080p.mp4",
            "audio.m4a",
            "audio-en.m4a",
            "720p_2.mp4",
            "a.b.mp4",
        ] {
            assert!(Download::is_valid_name(ok), "{ok}");
        }
        for bad in [
            "../x.mp4",
            "a/b.mp4",
            ".mp4",
            "x.mov",
            "x.mp4.exe",
            "x y.mp4",
            "é.mp4",
            "..mp4",
        ] {
            assert!(!Download::is_valid_name(bad), "{bad}");
        }
        assert!(
            read_index(br#"[{"file":"../../etc/passwd.mp4","kind":"video","bytes":1}]"#).is_err()
        );
        assert!(read_index(
            br#"[{"file":"360p.mp4","kind":"video","bytes":1,"width":640,"height":360}]"#
        )
        .is_ok());
        assert!(read_index(b"{}").is_err());
    }
}
