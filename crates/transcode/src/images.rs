//! The pictures made beside an encode: the storyboard (a sprite of small thumbnails at
//! regular times) and the poster frame (a representative picture), from the encoded
//! renditions, never from the source: the encode already decoded the source once
//! under its isolation rules, and its own output is what viewers see.
//!
//! Both decode keyframes only (`-skip_frame nokey`): the ladder places a keyframe
//! exactly every GOP (`-force_key_frames`), and the storyboard's interval is a whole
//! number of GOPs, so every thumbnail is the frame at its time, and a 90-minute title
//! takes seconds rather than a second full decode.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use openvod_media::images::{PosterFrame, Storyboard, StoryboardImages, MAX_STORYBOARD_TILES};

use crate::ladder::{EncodePlan, PlannedRung};
use crate::source::SourceFile;
use crate::{Error, Result};

/// Width of a storyboard tile for landscape video (height for portrait), pixels.
const TILE_SIDE: u32 = 160;
/// The shortest time between two thumbnails, seconds.
const MIN_INTERVAL_SECONDS: f64 = 2.0;
/// Most thumbnails a storyboard is planned with: a 90-minute film gets one every 10 s.
const PLANNED_TILES: f64 = 600.0;
/// Columns of the sprite's grid.
const COLUMNS: u32 = 10;
/// The poster's widest side, pixels.
const POSTER_MAX_SIDE: u32 = 1280;
/// Keyframes the poster is chosen among.
const POSTER_CANDIDATES: u32 = 60;

/// The pictures of an encode.
#[derive(Debug, Clone, Default)]
pub struct MadeImages {
    pub storyboard: Option<StoryboardImages>,
    /// The poster frame and its JPEG bytes.
    pub poster: Option<(PosterFrame, Vec<u8>)>,
}

/// Makes the storyboard and the poster of the video rungs of `plan`, encoded in
/// `encoded`, working in `work`: each picture that could be made, and why the others
/// could not. Nothing for a title without video.
pub fn make(plan: &EncodePlan, encoded: &Path, work: &Path) -> (MadeImages, Vec<Error>) {
    // Of two rungs the same size, the higher bit rate.
    let pixels = |r: &&PlannedRung| (u64::from(r.width) * u64::from(r.height), r.max_bitrate);
    let (Some(smallest), Some(largest)) = (
        plan.rungs.iter().min_by_key(pixels),
        plan.rungs.iter().max_by_key(pixels),
    ) else {
        return (MadeImages::default(), Vec::new());
    };
    if plan.duration <= 0.0 {
        return (MadeImages::default(), Vec::new());
    }
    if let Err(e) = std::fs::create_dir_all(work) {
        return (MadeImages::default(), vec![Error::io(work, e)]);
    }
    let mut failed = Vec::new();
    let storyboard = storyboard(plan, smallest, encoded, work)
        .map_err(|e| failed.push(e))
        .ok();
    let poster = poster(plan, largest, encoded, work)
        .map_err(|e| failed.push(e))
        .ok();
    (MadeImages { storyboard, poster }, failed)
}

/// Time ffmpeg gets for a keyframe-only pass over `seconds` of video.
fn deadline(seconds: f64) -> Duration {
    Duration::from_secs(60 + (seconds / 4.0) as u64)
}

/// The interval between thumbnails: at least [`MIN_INTERVAL_SECONDS`] and at most
/// [`PLANNED_TILES`] of them, in whole GOPs.
fn interval_seconds(duration: f64, gop: f64) -> f64 {
    let gop = if gop > 0.0 { gop } else { MIN_INTERVAL_SECONDS };
    let wanted = MIN_INTERVAL_SECONDS.max(duration / PLANNED_TILES);
    (wanted / gop - 1e-9).ceil().max(1.0) * gop
}

/// A tile of `TILE_SIDE` on the long side, the picture's shape, even sides.
fn tile_size(width: u32, height: u32) -> (u32, u32) {
    let even = |x: f64| ((x / 2.0).round() as u32 * 2).max(2);
    if width >= height {
        let h = f64::from(TILE_SIDE) * f64::from(height) / f64::from(width.max(1));
        (TILE_SIDE, even(h))
    } else {
        let w = f64::from(TILE_SIDE) * f64::from(width) / f64::from(height.max(1));
        (even(w), TILE_SIDE)
    }
}

fn storyboard(
    plan: &EncodePlan,
    rung: &PlannedRung,
    encoded: &Path,
    work: &Path,
) -> Result<StoryboardImages> {
    let interval = interval_seconds(plan.duration, plan.gop_seconds);
    // At most PLANNED_TILES by the interval's choice, well within the grid's bound.
    let expected = ((plan.duration / interval).ceil() as u32).clamp(1, MAX_STORYBOARD_TILES as u32);
    let columns = expected.min(COLUMNS);
    let rows = expected.div_ceil(columns);
    let (tw, th) = tile_size(rung.width, rung.height);
    let input = SourceFile::open(&crate::ffmpeg::output_path(encoded, &rung.name))?;
    let sprite = work.join("storyboard.jpg");
    // A frame is kept when it is the first, or an interval after the last kept one (a
    // millisecond short, for timestamps rounded to the time base). One branch tiles the
    // kept frames; the other lists their times (framecrc) on stdout.
    let graph = format!(
        "[0:v:0]select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,{:.3})',\
         scale={tw}:{th},setsar=1,split[tiles][times];[tiles]tile={columns}x{rows}[sprite]",
        interval - 0.001
    );
    let mut args: Vec<OsString> = vec!["-nostdin".into(), "-hide_banner".into()];
    args.extend(["-loglevel", "error", "-skip_frame", "nokey"].map(OsString::from));
    args.extend(input.input_args());
    args.extend(["-filter_complex".into(), graph.into()]);
    args.extend(["-map", "[sprite]", "-frames:v", "1", "-q:v", "5", "-y"].map(OsString::from));
    args.push(sprite.clone().into_os_string());
    args.extend(["-map", "[times]", "-f", "framecrc", "-"].map(OsString::from));
    let out = run(args, plan.duration, "making the storyboard")?;
    let mut times_ms = frame_times_ms(&out.stdout);
    times_ms.truncate((columns * rows) as usize);
    times_ms.dedup();
    let duration_ms = (plan.duration * 1000.0).round() as u64;
    times_ms.retain(|&t| t < duration_ms);
    if times_ms.is_empty() {
        return Err(Error::Output(
            "the storyboard pass kept no frame of the video".into(),
        ));
    }
    let bytes = read_jpeg(&sprite)?;
    StoryboardImages::new(
        Storyboard {
            columns,
            rows,
            tile_width: tw,
            tile_height: th,
            interval_ms: (interval * 1000.0).round() as u64,
            times_ms,
            duration_ms,
        },
        bytes,
    )
    .map_err(|e| Error::Output(e.to_string()))
}

/// The poster: the most representative of [`POSTER_CANDIDATES`] keyframes (ffmpeg's
/// `thumbnail` filter: the frame closest to their mean histogram), from the keyframe
/// at or before a tenth into the title (at most 30 s in), to pass over fades and titles.
fn poster(
    plan: &EncodePlan,
    rung: &PlannedRung,
    encoded: &Path,
    work: &Path,
) -> Result<(PosterFrame, Vec<u8>)> {
    // On the keyframe grid, so that a short title keeps its first keyframe.
    let gop = if plan.gop_seconds > 0.0 {
        plan.gop_seconds
    } else {
        1.0
    };
    let start = ((plan.duration * 0.1).min(30.0) / gop).floor() * gop;
    let input = SourceFile::open(&crate::ffmpeg::output_path(encoded, &rung.name))?;
    let file = work.join("poster.jpg");
    let (width, height) = if rung.width.max(rung.height) > POSTER_MAX_SIDE {
        let scale = f64::from(POSTER_MAX_SIDE) / f64::from(rung.width.max(rung.height));
        let even = |x: u32| ((f64::from(x) * scale / 2.0).round() as u32 * 2).max(2);
        (even(rung.width), even(rung.height))
    } else {
        (rung.width, rung.height)
    };
    let graph = format!(
        "[0:v:0]thumbnail=n={POSTER_CANDIDATES},scale={width}:{height},setsar=1,split[poster][time]"
    );
    let mut args: Vec<OsString> = vec!["-nostdin".into(), "-hide_banner".into()];
    args.extend(["-loglevel", "error", "-skip_frame", "nokey", "-copyts"].map(OsString::from));
    args.extend(["-ss".into(), format!("{start:.3}").into()]);
    args.extend(input.input_args());
    args.extend(["-filter_complex".into(), graph.into()]);
    args.extend(["-map", "[poster]", "-frames:v", "1", "-q:v", "3", "-y"].map(OsString::from));
    args.push(file.clone().into_os_string());
    args.extend(["-map", "[time]", "-frames:v", "1", "-f", "framecrc", "-"].map(OsString::from));
    let out = run(args, plan.duration, "making the poster")?;
    let time_ms = frame_times_ms(&out.stdout)
        .first()
        .copied()
        .ok_or_else(|| Error::Output("the poster pass kept no frame of the video".into()))?;
    Ok((
        PosterFrame {
            time_ms,
            width,
            height,
        },
        read_jpeg(&file)?,
    ))
}

fn run(args: Vec<OsString>, seconds: f64, doing: &str) -> Result<crate::process::Captured> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(args).stdin(Stdio::null());
    let out = crate::process::run_captured(cmd, "ffmpeg", deadline(seconds))?;
    if !out.status.success() {
        return Err(Error::Ffmpeg {
            status: out.status.to_string(),
            message: format!(
                "{doing}: {}",
                crate::probe::last_line(&out.stderr).unwrap_or_default()
            ),
        });
    }
    Ok(out)
}

/// A JPEG ffmpeg wrote, read with the sprite's bound.
fn read_jpeg(path: &Path) -> Result<Vec<u8>> {
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    let limit = openvod_media::images::MAX_SPRITE_BYTES as u64;
    if len > limit {
        return Err(Error::Output(format!(
            "{} is {len} bytes (at most {limit})",
            path.display()
        )));
    }
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// The presentation time of each frame of a `framecrc` listing, ms: its `#tb` header
/// gives the time base, each line `stream, dts, pts, duration, size, crc`.
fn frame_times_ms(listing: &[u8]) -> Vec<u64> {
    let text = String::from_utf8_lossy(listing);
    let mut base = (1u64, 1000u64);
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(tb) = line.strip_prefix("#tb 0: ") {
            if let Some((n, d)) = tb.trim().split_once('/') {
                if let (Ok(n), Ok(d)) = (n.parse::<u64>(), d.parse::<u64>()) {
                    if n > 0 && d > 0 {
                        base = (n, d);
                    }
                }
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let pts = line.split(',').nth(2).map(str::trim);
        if let Some(Ok(pts)) = pts.map(str::parse::<i64>) {
            let ms = (i128::from(pts.max(0)) * i128::from(base.0) * 1000 / i128::from(base.1))
                .clamp(0, i128::from(u64::MAX)) as u64;
            out.push(ms);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_whole_gops_and_bounded() {
        assert_eq!(interval_seconds(16.0, 2.0), 2.0);
        assert_eq!(interval_seconds(16.0, 3.0), 3.0);
        assert_eq!(interval_seconds(5400.0, 2.0), 10.0);
        assert_eq!(interval_seconds(5400.0, 4.0), 12.0);
        assert_eq!(interval_seconds(16.0, 0.5), 2.0);
        let hundred_hours = 100.0 * 3600.0;
        assert!(hundred_hours / interval_seconds(hundred_hours, 2.0) <= PLANNED_TILES);
    }

    #[test]
    fn tiles_keep_the_shape() {
        assert_eq!(tile_size(1920, 1080), (160, 90));
        assert_eq!(tile_size(640, 480), (160, 120));
        assert_eq!(tile_size(1080, 1920), (90, 160));
        assert_eq!(tile_size(1, 1000), (2, 160));
    }

    #[test]
    fn frame_times_read_from_framecrc() {
        let listing = b"#software: Lavf59\n#tb 0: 1/25\n#media_type 0: video\n\
            0,          0,          0,        1,    21600, 0x48bc624d\n\
            0,         50,         50,        1,    21600, 0x36557e77\n\
            0,        102,        102,        1,    21600, 0xca0c4406\n";
        assert_eq!(frame_times_ms(listing), vec![0, 2000, 4080]);
        assert_eq!(frame_times_ms(b"garbage\n0, x, y\n"), Vec::<u64>::new());
    }
}
