//! What a transcode will take, measured before it runs (`openvod transcode --estimate`).
//!
//! The job's own encode (every rung and audio output, the template's encoders, presets
//! and rate control) runs on two excerpts from the middle of the source, a short and a
//! long one, and ffmpeg's CPU time on each (getrusage of the child) gives a cost per
//! second of media and a fixed cost (start-up, the encoders' lookahead), which scale to
//! the title's length. A measurement of this machine on this picture rather than a table
//! of speeds: a slide show and a football match encode at rates far apart, and a table
//! would be wrong for both. A title no longer than the long excerpt is encoded whole,
//! once, and the figure is exact.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use serde::Serialize;

use crate::ffmpeg::{self, Deadline, EncodeCost};
use crate::ladder::{self, EncodePlan};
use crate::per_title::LadderMode;
use crate::probe;
use crate::source::SourceFile;
use crate::template::{JobTemplate, VideoCodec};
use crate::Result;

/// The long excerpt, seconds of media.
pub const LONG_EXCERPT_SECONDS: f64 = 10.0;
/// The short excerpt: with the long one, it separates the cost per second from the cost
/// of starting.
pub const SHORT_EXCERPT_SECONDS: f64 = 2.5;

/// One video rung's share of the estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RungEstimate {
    pub name: String,
    pub codec: VideoCodec,
    pub width: u32,
    pub height: u32,
    /// Its share of the encode's CPU time (apportioned as `job::run` apportions a real
    /// encode's: ffmpeg does not account time per output).
    pub cpu_seconds: f64,
}

/// One measured encode of an excerpt.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ExcerptEncode {
    /// Where the excerpt starts in the source, seconds.
    pub start: f64,
    pub seconds: f64,
    pub cpu_seconds: f64,
    pub wall_seconds: f64,
}

/// A transcode's cost, measured on excerpts and scaled to the title.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobEstimate {
    pub input: PathBuf,
    /// The title's length, seconds.
    pub duration: f64,
    pub plan: EncodePlan,
    /// The encodes measured: the whole title, or a short and a long excerpt.
    pub measured: Vec<ExcerptEncode>,
    /// ffmpeg's CPU time for the whole title, seconds.
    pub cpu_seconds: f64,
    /// Its wall time on this machine, seconds.
    pub wall_seconds: f64,
    pub rungs: Vec<RungEstimate>,
    /// The template chooses a ladder per title: the rungs measured are its fixed ones
    /// (the most the analysis keeps), and the analysis's own sample encodes, a fraction
    /// of the encode, are not in the figure.
    pub per_title: bool,
}

/// Measures what transcoding `input` with `template` takes (see the module's doc).
pub fn estimate(input: &Path, template: &JobTemplate) -> Result<JobEstimate> {
    let source = SourceFile::open(input)?;
    let shown = source.shown().to_string();
    let info = probe::probe(&source)?;
    let plan = ladder::plan(&info, template, &shown)?;
    ffmpeg::check_encoders(&plan, &shown)?;
    let work = tempfile::tempdir().map_err(|e| crate::Error::io(Path::new("temp"), e))?;
    let duration = plan.duration;
    let encode = |start: f64, seconds: f64| -> Result<ExcerptEncode> {
        let mut p = plan.clone();
        p.duration = seconds;
        // Text is converted, not encoded: nothing to measure.
        p.text.clear();
        let excerpt = source
            .clone()
            .excerpt((start * 1000.0) as u64, (seconds * 1000.0).ceil() as u64);
        let never = AtomicBool::new(false);
        let cost = ffmpeg::encode(
            &excerpt,
            &p,
            work.path(),
            Deadline::for_duration(seconds),
            &never,
            &mut |_| {},
        )?
        .cost;
        Ok(measured(start, seconds, cost))
    };
    let (measured, cpu_seconds, wall_seconds) = if duration <= LONG_EXCERPT_SECONDS {
        let whole = encode(0.0, duration)?;
        (vec![whole], whole.cpu_seconds, whole.wall_seconds)
    } else {
        let start = |len: f64| ((duration - len) / 2.0).max(0.0);
        let short = encode(start(SHORT_EXCERPT_SECONDS), SHORT_EXCERPT_SECONDS)?;
        let long = encode(start(LONG_EXCERPT_SECONDS), LONG_EXCERPT_SECONDS)?;
        let cpu = scale(&short, &long, duration, |e| e.cpu_seconds);
        let wall = scale(&short, &long, duration, |e| e.wall_seconds);
        (vec![short, long], cpu, wall)
    };
    let shares = crate::job::cpu_shares(&plan);
    let rungs = plan
        .rungs
        .iter()
        .zip(shares)
        .map(|(r, share)| RungEstimate {
            name: r.name.clone(),
            codec: r.codec,
            width: r.width,
            height: r.height,
            cpu_seconds: round3(cpu_seconds * share),
        })
        .collect();
    Ok(JobEstimate {
        input: input.to_path_buf(),
        duration,
        per_title: template.ladder.mode == LadderMode::PerTitle,
        plan,
        measured,
        cpu_seconds: round3(cpu_seconds),
        wall_seconds: round3(wall_seconds),
        rungs,
    })
}

fn measured(start: f64, seconds: f64, cost: EncodeCost) -> ExcerptEncode {
    let s = |d: Duration| round3(d.as_secs_f64());
    ExcerptEncode {
        start: round3(start),
        seconds,
        cpu_seconds: s(cost.cpu),
        wall_seconds: s(cost.wall),
    }
}

/// The figure `of` for a title of `duration` seconds, from its values on a short and a
/// long excerpt: a fixed part and a part per second, the line through both. When noise
/// makes the long excerpt look no dearer per second than the start-up, the long one's
/// average per second is used, which counts the start-up once per excerpt length and
/// so errs high.
fn scale(
    short: &ExcerptEncode,
    long: &ExcerptEncode,
    duration: f64,
    of: impl Fn(&ExcerptEncode) -> f64,
) -> f64 {
    let per_second = (of(long) - of(short)) / (long.seconds - short.seconds);
    let fixed = of(long) - per_second * long.seconds;
    if per_second > 0.0 && fixed >= 0.0 {
        fixed + per_second * duration
    } else {
        of(long) / long.seconds * duration
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(seconds: f64, cpu: f64) -> ExcerptEncode {
        ExcerptEncode {
            start: 0.0,
            seconds,
            cpu_seconds: cpu,
            wall_seconds: cpu / 2.0,
        }
    }

    #[test]
    fn a_start_up_cost_is_counted_once() {
        // 0.5 s to start, 2 s per second of media.
        let short = encode(2.5, 0.5 + 5.0);
        let long = encode(10.0, 0.5 + 20.0);
        let cpu = scale(&short, &long, 5400.0, |e| e.cpu_seconds);
        assert!((cpu - (0.5 + 10_800.0)).abs() < 1e-6, "{cpu}");
        let wall = scale(&short, &long, 5400.0, |e| e.wall_seconds);
        assert!((wall - (0.25 + 5400.0)).abs() < 1e-6, "{wall}");
    }

    #[test]
    fn noise_falls_back_to_the_long_excerpts_average() {
        // The short excerpt measured dearer per second than the long one can explain.
        let short = encode(2.5, 30.0);
        let long = encode(10.0, 20.0);
        let cpu = scale(&short, &long, 100.0, |e| e.cpu_seconds);
        assert!((cpu - 200.0).abs() < 1e-9, "{cpu}");
    }
}
