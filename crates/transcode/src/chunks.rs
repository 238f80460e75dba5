//! Chunked encoding: a title's video cut into chunks on the ladder's GOP grid, each
//! encoded by its own ffmpeg run (on any worker), then joined into one track per rung.
//!
//! Every chunk is a whole number of GOPs and starts on a frame of the plan's constant
//! frame rate, so its first frame is a keyframe of the grid and a closed GOP ends at
//! every seam: the joined track decodes as one stream, its decode times continue
//! across each seam, and a segment never straddles two chunks. The audio and the text
//! are encoded once for the whole title ([`EncodePart::AudioAndText`]): AAC's encoder
//! priming would otherwise click at every seam.
//!
//! The join ([`stitch`]) copies the chunks' samples as they are (no encode), after
//! checking what a seam needs: the same decoder configuration in every chunk (x264,
//! x265 and SVT-AV1 write the same `avcC`/`hvcC`/`av1C` for the same settings), the same
//! timescale, a keyframe first, and exactly the chunk's frames. A media that ends early
//! (a source shorter than it claims) leaves the chunks after the end empty; anything
//! else that is short fails the join rather than shifting every later frame.
//!
//! [`EncodePart::AudioAndText`]: crate::ffmpeg::EncodePart::AudioAndText

use std::path::{Path, PathBuf};

use openvod_media::clip::ClipPiece;
use openvod_media::{Track, TrackKind};
use serde::{Deserialize, Serialize};

use crate::ffmpeg::output_path;
use crate::ladder::EncodePlan;
use crate::{Error, Result};

/// Shortest chunk: below this, a chunk's fixed costs (a process, a seek, the encoder's
/// look-ahead) outweigh what spreading it buys.
pub const MIN_CHUNK_SECONDS: f64 = 2.0;
/// Longest chunk.
pub const MAX_CHUNK_SECONDS: f64 = 600.0;
/// Most chunks of one title: a longer title gets longer chunks, so that a day-long
/// source does not become tens of thousands of tasks.
pub const MAX_CHUNKS: u64 = 1000;

/// How far before a chunk's first frame its run seeks the source (see
/// [`ChunkRange::seek_seconds`]).
const SEEK_LEAD_SECONDS: f64 = 0.001;

/// Checks a template's chunk length against its GOP length.
pub fn check_chunk_seconds(
    chunk_seconds: f64,
    gop_seconds: f64,
) -> std::result::Result<(), String> {
    if !(MIN_CHUNK_SECONDS..=MAX_CHUNK_SECONDS).contains(&chunk_seconds) {
        return Err(format!(
            "{chunk_seconds} is outside {MIN_CHUNK_SECONDS}..{MAX_CHUNK_SECONDS} seconds"
        ));
    }
    let gops = chunk_seconds / gop_seconds;
    if (gops - gops.round()).abs() > 1e-6 {
        return Err(format!(
            "{chunk_seconds} s is not a whole number of GOPs of {gop_seconds} s \
             (video.gop_seconds): every chunk must start on the GOP grid"
        ));
    }
    Ok(())
}

/// The frames one chunk encodes, on the plan's output frame rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRange {
    /// 0 for the first chunk.
    pub index: u32,
    pub first_frame: u64,
    /// `None` for the last chunk: every frame to the source's end.
    pub frames: Option<u64>,
}

impl ChunkRange {
    /// The length of one frame, in seconds.
    fn frame_seconds(plan: &EncodePlan) -> f64 {
        let (num, den) = plan.frame_rate;
        f64::from(den) / f64::from(num.max(1))
    }

    /// The chunk's first instant on the title's timeline, in seconds.
    pub fn start_seconds(&self, plan: &EncodePlan) -> f64 {
        self.first_frame as f64 * Self::frame_seconds(plan)
    }

    /// Where ffmpeg seeks the source to: a millisecond (at most a quarter frame) before
    /// the chunk's first frame, so that rounding the instant to microseconds cannot drop
    /// that frame; `None` for the first chunk, which starts where the whole title does.
    ///
    /// Not half a frame: the `fps` filter rounds the first frame's time (then half a
    /// frame) to the next slot and fills the one before it with a copy, which would
    /// double a frame at every seam (measured: 301 frames for 300).
    pub fn seek_seconds(&self, plan: &EncodePlan) -> Option<f64> {
        let frame = Self::frame_seconds(plan);
        (self.first_frame > 0)
            .then(|| self.first_frame as f64 * frame - SEEK_LEAD_SECONDS.min(frame / 4.0))
    }

    /// The chunk's length in seconds (the last one's up to the source's end).
    pub fn seconds(&self, plan: &EncodePlan) -> f64 {
        match self.frames {
            Some(n) => n as f64 * Self::frame_seconds(plan),
            None => (plan.duration - self.start_seconds(plan)).max(0.0),
        }
    }
}

/// How a title is cut into chunks: every chunk `chunk_frames` long, the last one
/// taking what remains (one to two chunks' worth).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkGrid {
    pub chunk_frames: u64,
    pub count: u32,
}

impl ChunkGrid {
    /// The grid of `plan` with chunks of `chunk_seconds` (a whole number of GOPs; see
    /// [`check_chunk_seconds`]); `None` when the title is shorter than two chunks, which
    /// is then encoded whole.
    pub fn of(plan: &EncodePlan, chunk_seconds: f64) -> Option<ChunkGrid> {
        let (num, den) = plan.frame_rate;
        if num == 0 || den == 0 || !(plan.duration.is_finite() && plan.duration > 0.0) {
            return None;
        }
        let gops = (chunk_seconds / plan.gop_seconds).round().max(1.0) as u64;
        let total = (plan.duration * f64::from(num) / f64::from(den)).floor() as u64;
        let gop = u64::from(plan.gop_frames.max(1));
        let mut chunk_frames = gops.saturating_mul(gop);
        // At most MAX_CHUNKS: longer chunks, still whole GOPs.
        let least = total.div_ceil(MAX_CHUNKS).div_ceil(gop) * gop;
        chunk_frames = chunk_frames.max(least);
        let count = total / chunk_frames;
        (count >= 2).then(|| ChunkGrid {
            chunk_frames,
            count: count.min(u64::from(u32::MAX)) as u32,
        })
    }

    /// Every chunk, in order.
    pub fn ranges(&self) -> Vec<ChunkRange> {
        (0..self.count).filter_map(|i| self.range(i)).collect()
    }

    /// Chunk `index`, when the grid has it.
    pub fn range(&self, index: u32) -> Option<ChunkRange> {
        (index < self.count).then(|| ChunkRange {
            index,
            first_frame: u64::from(index) * self.chunk_frames,
            frames: (index + 1 < self.count).then_some(self.chunk_frames),
        })
    }
}

/// What [`stitch`] joined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stitched {
    /// The frames of each rung's joined track (the same in every rung).
    pub frames: u64,
    /// Chunks that held no frame: the media ended before them.
    pub empty_chunks: u32,
}

/// The video track of one chunk's file of a rung; `None` when the chunk held no frame
/// (ffmpeg writes no file, or a track without samples, past the media's end).
fn chunk_track(path: &Path) -> Result<Option<Track>> {
    if !path.exists() {
        return Ok(None);
    }
    let tracks = crate::package::read_mp4(path)?;
    let track = tracks.into_iter().find(|t| t.kind == TrackKind::Video);
    Ok(track.filter(|t| !t.samples.is_empty()))
}

/// Joins each rung's chunks (`chunk_dirs[k]/NAME.mp4` for chunk `k`) into one track,
/// written to `out/NAME.mp4`.
pub fn stitch(
    plan: &EncodePlan,
    grid: &ChunkGrid,
    chunk_dirs: &[PathBuf],
    out: &Path,
) -> Result<Stitched> {
    if chunk_dirs.len() != grid.count as usize {
        return Err(Error::Output(format!(
            "{} chunk folders for a grid of {} chunks",
            chunk_dirs.len(),
            grid.count
        )));
    }
    let mut summary: Option<Stitched> = None;
    for rung in &plan.rungs {
        let mut pieces = Vec::new();
        let mut sources = Vec::new();
        let mut ended_at: Option<u32> = None;
        let mut frames = 0u64;
        for (range, dir) in grid.ranges().into_iter().zip(chunk_dirs) {
            let path = output_path(dir, &rung.name);
            let Some(track) = chunk_track(&path)? else {
                ended_at.get_or_insert(range.index);
                continue;
            };
            if let Some(end) = ended_at {
                return Err(Error::Output(format!(
                    "rung {}: chunk {} holds frames, but the media ended before chunk {end}",
                    rung.name, range.index
                )));
            }
            let n = track.samples.len() as u64;
            if !track.samples[0].sync {
                return Err(Error::Output(format!(
                    "rung {}: chunk {} does not start with a keyframe",
                    rung.name, range.index
                )));
            }
            if let Some(expected) = range.frames {
                if n > expected {
                    return Err(Error::Output(format!(
                        "rung {}: chunk {} has {n} frames, more than its {expected}",
                        rung.name, range.index
                    )));
                }
                if n < expected {
                    // Short: the media must end here, so no later chunk may hold a frame.
                    ended_at = Some(range.index + 1);
                }
            }
            frames += n;
            pieces.push(ClipPiece {
                track,
                source: sources.len(),
            });
            sources.push(path);
        }
        let Some(header) = pieces.first().map(|p| p.track.clone()) else {
            return Err(Error::Output(format!(
                "rung {}: no chunk holds a frame",
                rung.name
            )));
        };
        let target = output_path(out, &rung.name);
        crate::clip::write_joined(&header, &pieces, &sources, &target)?;
        let this = Stitched {
            frames,
            empty_chunks: grid.count - pieces.len() as u32,
        };
        match &summary {
            Some(s) if s.frames != this.frames => {
                return Err(Error::Output(format!(
                    "rung {} has {} frames, another rung {}",
                    rung.name, this.frames, s.frames
                )));
            }
            _ => summary = Some(this),
        }
    }
    summary.ok_or_else(|| Error::Output("a plan without rungs has no chunks".into()))
}

#[cfg(test)]
mod tests;
