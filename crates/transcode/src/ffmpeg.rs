//! One ffmpeg process per source: decode once, encode every rung (`split` + `scale`) and
//! the audio, with aligned closed GOPs, into one MP4 per rendition.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::chunks::ChunkRange;
use crate::decode_log::DecodeLog;
use crate::ladder::EncodePlan;
use crate::process::{for_each_line, kill, poll, spawn};
use crate::source::SourceFile;
use crate::template::VideoCodec;
use crate::{Error, Result};

/// Progress of a running encode, from ffmpeg's `-progress` output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Media time encoded so far, in seconds.
    pub encoded_seconds: f64,
    /// Source duration in seconds (0 when unknown).
    pub total_seconds: f64,
    /// Encoding speed as a multiple of real time.
    pub speed: f64,
    /// Wall time since the encode started.
    pub elapsed: Duration,
}

impl Progress {
    /// Fraction done, 0..=1, when the duration is known.
    pub fn fraction(&self) -> Option<f64> {
        (self.total_seconds > 0.0)
            .then(|| (self.encoded_seconds / self.total_seconds).clamp(0.0, 1.0))
    }
}

/// Limits on the encode's running time.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    /// Kill ffmpeg after this long in all.
    pub total: Duration,
    /// Kill ffmpeg when it reports no progress for this long.
    pub stall: Duration,
}

impl Deadline {
    /// Ten minutes plus one minute per second of media: far beyond any encode on sane
    /// hardware, close enough to catch a hung decoder.
    pub fn for_duration(seconds: f64) -> Deadline {
        let media = if seconds.is_finite() && seconds > 0.0 {
            seconds
        } else {
            3600.0
        };
        Deadline {
            total: Duration::from_secs(600 + (media * 60.0) as u64),
            stall: Duration::from_secs(300),
        }
    }
}

/// Output file of a rendition in `dir`.
pub fn output_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.mp4"))
}

/// Where the encode writes text track `name` as WebVTT.
pub fn text_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.vtt"))
}

/// The name of every file the encode of `plan` writes into its folder: each rendition's
/// MP4 ([`output_path`]), then each text track's WebVTT ([`text_path`]).
pub fn output_files(plan: &EncodePlan) -> Vec<String> {
    plan.rendition_names()
        .into_iter()
        .map(|name| format!("{name}.mp4"))
        .chain(plan.text.iter().map(|t| format!("{}.vtt", t.name)))
        .collect()
}

/// What one ffmpeg run of a plan encodes: the whole title, or one part of a chunked
/// encode (see [`crate::chunks`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodePart {
    /// Every rung, the audio and the text, in one run.
    Whole,
    /// Every rung's frames of one chunk, and nothing else.
    Video(ChunkRange),
    /// The audio and the text of the whole title: AAC is encoded once, since each
    /// chunk's encoder priming would click at every seam.
    AudioAndText,
}

impl EncodePart {
    /// The media seconds this part encodes, for progress.
    pub fn seconds(self, plan: &EncodePlan) -> f64 {
        match self {
            EncodePart::Whole | EncodePart::AudioAndText => plan.duration,
            EncodePart::Video(range) => range.seconds(plan),
        }
    }
}

/// The ffmpeg arguments for `plan`, writing into `dir`.
pub fn arguments(source: &SourceFile, plan: &EncodePlan, dir: &Path) -> Vec<OsString> {
    part_arguments(source, plan, EncodePart::Whole, dir)
}

/// The ffmpeg arguments for `part` of `plan`, writing into `dir`.
pub fn part_arguments(
    source: &SourceFile,
    plan: &EncodePlan,
    part: EncodePart,
    dir: &Path,
) -> Vec<OsString> {
    let mut a = logged_args();
    if let EncodePart::Video(range) = part {
        if let Some(seek) = range.seek_seconds(plan) {
            // Input seeking decodes from the keyframe before and drops every frame
            // before this instant (ffmpeg's `-accurate_seek`, on by default), so the
            // chunk's first frame is the one on the grid, and it becomes a keyframe.
            a.extend(["-ss".into(), format!("{seek:.6}").into()]);
        }
    }
    // The source's bytes and nothing else (see `source`).
    a.extend(source.input_args());
    let (video, audio_text) = match part {
        EncodePart::Whole => (true, true),
        EncodePart::Video(_) => (true, false),
        EncodePart::AudioAndText => (false, true),
    };
    if video {
        a.extend(video_arguments(plan, dir, part));
    }
    if audio_text {
        a.extend(audio_text_arguments(plan, dir));
    }
    a
}

/// The filter graph and one output per rung.
fn video_arguments(plan: &EncodePlan, dir: &Path, part: EncodePart) -> Vec<OsString> {
    let (num, den) = plan.frame_rate;
    let mut graph = format!("[0:{}]", plan.video_stream_index);
    if plan.deinterlace {
        graph.push_str("bwdif=mode=send_frame,");
    }
    // Constant frame rate (variable-rate sources are resampled) and 8-bit 4:2:0, which
    // H.264 High and every player need (10-bit 4:2:0 for Main10 rungs); then one decode
    // feeds every rung, each pixel format converted once.
    graph.push_str(&format!("fps={num}/{den},"));
    let depths: Vec<(&str, Vec<usize>)> = [("yuv420p", false), ("yuv420p10le", true)]
        .into_iter()
        .map(|(format, deep)| {
            let rungs = (0..plan.rungs.len())
                .filter(|&i| plan.rungs[i].ten_bit == deep)
                .collect();
            (format, rungs)
        })
        .filter(|(_, rungs): &(&str, Vec<usize>)| !rungs.is_empty())
        .collect();
    let branch = |graph: &mut String, format: &str, rungs: &[usize]| {
        graph.push_str(&format!("format={format},split={}", rungs.len()));
        for i in rungs {
            graph.push_str(&format!("[s{i}]"));
        }
    };
    match depths.as_slice() {
        [(format, rungs)] => branch(&mut graph, format, rungs),
        _ => {
            graph.push_str(&format!("split={}", depths.len()));
            for k in 0..depths.len() {
                graph.push_str(&format!("[p{k}]"));
            }
            for (k, (format, rungs)) in depths.iter().enumerate() {
                graph.push_str(&format!(";[p{k}]"));
                branch(&mut graph, format, rungs);
            }
        }
    }
    for (i, r) in plan.rungs.iter().enumerate() {
        // setsar=1: square pixels in every rung, whatever the source's pixel shape.
        graph.push_str(&format!(
            ";[s{i}]scale={}:{}:flags=bicubic,setsar=1[v{i}]",
            r.width, r.height
        ));
    }
    let mut a2: Vec<OsString> = vec!["-filter_complex".into(), graph.into()];
    let force = format!("expr:gte(t,n_forced*{})", plan.gop_seconds);
    for (i, r) in plan.rungs.iter().enumerate() {
        let rate = capped_crf_args(r.crf, r.max_bitrate, plan.gop_frames);
        let map = format!("[v{i}]");
        let mut args: Vec<&str> = vec!["-map", &map];
        args.extend(encoder_args(r.codec, r.ten_bit, plan.profile));
        let av1_preset = plan.av1_preset.to_string();
        args.extend([
            "-preset",
            match r.codec {
                VideoCodec::Av1 => &av1_preset,
                VideoCodec::H264 | VideoCodec::Hevc => plan.preset.name(),
            },
        ]);
        // Closed GOPs of a fixed length, keyframes forced on the same instants in every
        // rung, no scene-cut keyframes: every rendition cuts at the same times.
        args.extend(rate.iter().map(String::as_str));
        args.extend([
            "-force_key_frames",
            &force,
            "-flags",
            "+cgop",
            "-map_metadata",
            "-1",
            "-an",
        ]);
        let frames = match part {
            EncodePart::Video(range) => range.frames.map(|n| n.to_string()),
            EncodePart::Whole | EncodePart::AudioAndText => None,
        };
        if let Some(n) = &frames {
            // The chunk's frames exactly; the next chunk starts with the one after.
            args.extend(["-frames:v", n]);
        }
        a2.extend(args.iter().map(OsString::from));
        a2.extend([
            "-f".into(),
            "mp4".into(),
            output_path(dir, &r.name).into_os_string(),
        ]);
    }
    a2
}

/// One output per audio track and per text track of the source.
fn audio_text_arguments(plan: &EncodePlan, dir: &Path) -> Vec<OsString> {
    let mut a2: Vec<OsString> = Vec::new();
    for au in &plan.audio {
        for s in [
            "-map".to_string(),
            format!("0:{}", au.stream_index),
            "-vn".into(),
            "-c:a".into(),
            "aac".into(),
            "-b:a".into(),
            au.bitrate.to_string(),
            "-ar".into(),
            au.sample_rate.to_string(),
            "-ac".into(),
            au.channels.to_string(),
            "-map_metadata".into(),
            "-1".into(),
        ] {
            a2.push(s.into());
        }
        if let Some(lang) = &au.language {
            a2.extend(["-metadata:s:a:0".into(), format!("language={lang}").into()]);
        }
        a2.extend(["-f".into(), "mp4".into()]);
        a2.push(output_path(dir, &au.name).into_os_string());
    }
    // Each text stream of the source, as WebVTT on the same timeline as the media.
    for t in &plan.text {
        let Some(index) = t.stream_index else {
            continue;
        };
        a2.extend(
            [
                "-map".to_string(),
                format!("0:{index}"),
                "-c:s".into(),
                "webvtt".into(),
                "-f".into(),
                "webvtt".into(),
            ]
            .map(OsString::from),
        );
        a2.push(text_path(dir, &t.name).into_os_string());
    }
    a2
}

/// The encoder of `codec` and its settings that every encode of openvod shares, the
/// ladder's and the per-title analysis's alike.
/// Capped CRF with a fixed GOP, as every video encode here is made (the ladder's rungs and
/// the per-title samples): `-crf`, a VBV cap of `max_bitrate` with a buffer of twice
/// that, and a keyframe every `gop_frames` frames and nowhere else.
pub(crate) fn capped_crf_args(crf: u8, max_bitrate: u64, gop_frames: u32) -> Vec<String> {
    let gop = gop_frames.to_string();
    vec![
        "-crf".into(),
        crf.to_string(),
        "-maxrate".into(),
        max_bitrate.to_string(),
        "-bufsize".into(),
        max_bitrate.saturating_mul(2).to_string(),
        "-g".into(),
        gop.clone(),
        "-keyint_min".into(),
        gop,
        "-sc_threshold".into(),
        "0".into(),
    ]
}

/// The options of an ffmpeg run that [`run_logged`] runs: no banner, no reading of
/// stdin, outputs overwritten, severity on every line, repeated lines in full, and the
/// stream mapping and final statistics that `DecodeLog` reads (see there), with
/// progress on stdout.
pub(crate) fn logged_args() -> Vec<OsString> {
    [
        "-hide_banner",
        "-nostdin",
        "-y",
        "-loglevel",
        "repeat+level+verbose",
        "-nostats",
        "-progress",
        "pipe:1",
    ]
    .iter()
    .map(OsString::from)
    .collect()
}

/// The options of an ffmpeg run that reports errors only: no banner, no stats, no
/// reading of stdin, outputs overwritten.
pub(crate) fn quiet_args() -> Vec<OsString> {
    [
        "-hide_banner",
        "-nostdin",
        "-y",
        "-nostats",
        "-loglevel",
        "error",
    ]
    .iter()
    .map(OsString::from)
    .collect()
}

pub(crate) fn encoder_args(
    codec: VideoCodec,
    ten_bit: bool,
    profile: crate::template::H264Profile,
) -> Vec<&'static str> {
    let mut args = vec!["-c:v", codec.encoder()];
    match codec {
        VideoCodec::H264 => args.extend(["-profile:v", profile.name()]),
        // Main (8-bit 4:2:0), or Main10 for a 10-bit rung, tagged hvc1; forced
        // keyframes are IDR pictures and no GOP is open, so every rung cuts at the
        // same instants as with x264's +cgop; x265's own banner stays off stderr.
        VideoCodec::Hevc => args.extend([
            "-tag:v",
            "hvc1",
            "-profile:v",
            if ten_bit { "main10" } else { "main" },
            "-forced-idr",
            "1",
            "-x265-params",
            "scenecut=0:open-gop=0:log-level=error",
        ]),
        // Main profile from the 8-bit 4:2:0 picture. Key frames (closed GOPs) every
        // `-g` frames and on the forced instants, no scene-change key frames; the cap
        // makes SVT-AV1's CRF a capped CRF.
        VideoCodec::Av1 => args.extend(["-svtav1-params", "scd=0"]),
    }
    args
}

/// A finished encode: what it cost and what ffmpeg said about decoding the source.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub cost: EncodeCost,
    pub decode: DecodeLog,
}

/// Checks that this machine's ffmpeg has the encoder of every rung of `plan`, so that a
/// build without one (Debian's has libx264, libx265 and libsvtav1; others may not) is
/// refused before any work starts rather than failing the encode.
pub fn check_encoders(plan: &EncodePlan, input: &str) -> Result<()> {
    let available = encoders()?;
    for r in &plan.rungs {
        let encoder = r.codec.encoder();
        if !available.iter().any(|e| e == encoder) {
            return Err(Error::Unsupported {
                input: input.to_string(),
                reason: format!(
                    "rung {} is {}, and this machine's ffmpeg has no {encoder} encoder \
                     (`ffmpeg -encoders` lists those it has)",
                    r.name, r.codec
                ),
            });
        }
    }
    Ok(())
}

/// The codecs this machine's ffmpeg can encode: those whose encoder `ffmpeg -encoders`
/// lists.
pub fn available_codecs() -> Result<Vec<VideoCodec>> {
    let available = encoders()?;
    Ok(VideoCodec::ALL
        .into_iter()
        .filter(|c| available.iter().any(|e| e == c.encoder()))
        .collect())
}

/// The first line of `ffmpeg -version` ("ffmpeg version 7.1.1-1 Copyright ..." up to
/// the copyright), asked once per process.
pub fn version() -> Result<&'static str> {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(v) = VERSION.get() {
        return Ok(v);
    }
    let out = ffmpeg_stdout("-version")?;
    let text = String::from_utf8_lossy(&out);
    let first = text.lines().next().unwrap_or("");
    let version = first
        .split(" Copyright")
        .next()
        .unwrap_or(first)
        .chars()
        .take(200)
        .collect::<String>();
    Ok(VERSION.get_or_init(|| version))
}

/// What `ffmpeg OPTION` (an option that prints and exits, such as `-version`) prints.
fn ffmpeg_stdout(option: &str) -> Result<Vec<u8>> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-nostdin", option])
        .stdin(Stdio::null());
    let out = crate::process::run_captured(cmd, "ffmpeg", Duration::from_secs(30))?;
    if !out.status.success() {
        return Err(Error::Ffmpeg {
            status: out.status.to_string(),
            message: format!("`ffmpeg {option}` failed"),
        });
    }
    Ok(out.stdout)
}

/// The names of the video encoders of `ffmpeg -encoders`, asked once per process.
fn encoders() -> Result<&'static [String]> {
    static ENCODERS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    if let Some(e) = ENCODERS.get() {
        return Ok(e);
    }
    let out = ffmpeg_stdout("-encoders")?;
    // Lines such as " V....D libx264   libx264 H.264 / AVC ...": capabilities (V for
    // video), then the name.
    let names = String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let caps = words.next()?;
            (caps.len() == 6 && caps.starts_with('V'))
                .then(|| words.next().map(str::to_string))
                .flatten()
        })
        .collect();
    Ok(ENCODERS.get_or_init(|| names))
}

/// Longest line of ffmpeg's log that is read whole.
const LOG_LINE_MAX: usize = 4096;

/// What the encode cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EncodeCost {
    pub wall: Duration,
    /// CPU time of ffmpeg (user + system).
    pub cpu: Duration,
}

/// Runs ffmpeg for `plan`, reporting progress, and kills it on `deadline`, on a stall,
/// or as soon as `cancel` is set.
pub fn encode(
    source: &SourceFile,
    plan: &EncodePlan,
    dir: &Path,
    deadline: Deadline,
    cancel: &AtomicBool,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<Encoded> {
    encode_part(
        source,
        plan,
        EncodePart::Whole,
        dir,
        deadline,
        cancel,
        on_progress,
    )
}

/// Runs ffmpeg for `part` of `plan`, as [`encode`] does for the whole.
pub fn encode_part(
    source: &SourceFile,
    plan: &EncodePlan,
    part: EncodePart,
    dir: &Path,
    deadline: Deadline,
    cancel: &AtomicBool,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<Encoded> {
    run_logged(
        part_arguments(source, plan, part, dir),
        source,
        part.seconds(plan),
        deadline,
        cancel,
        on_progress,
    )
}

/// Runs ffmpeg with `args` (which begin with [`logged_args`]), reporting progress
/// against `total_seconds`, and kills it on `deadline`, on a stall, or as soon as
/// `cancel` is set.
pub(crate) fn run_logged(
    args: Vec<OsString>,
    source: &SourceFile,
    total_seconds: f64,
    deadline: Deadline,
    cancel: &AtomicBool,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<Encoded> {
    let started = Instant::now();
    let cpu_before = children_cpu_time();
    let mut cmd = Command::new("ffmpeg");
    // SVT-AV1 prints its own banner and settings to stderr at its `info` level whatever
    // ffmpeg's `-loglevel` says; its errors are enough.
    cmd.env("SVT_LOG", "1");
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = spawn(cmd, "ffmpeg")?;
    let stderr = child.stderr.take().map(|e| {
        std::thread::spawn(move || {
            let mut log = DecodeLog::default();
            for_each_line(e, LOG_LINE_MAX, |line| log.record(line));
            log
        })
    });
    let (tx, rx) = mpsc::channel::<(f64, f64)>();
    let stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let Some(out) = stdout else { return };
        let (mut t, mut speed) = (0.0, 0.0);
        for line in BufReader::new(out).lines().map_while(|l| l.ok()) {
            if let Some((k, v)) = line.split_once('=') {
                match k {
                    "out_time_us" | "out_time_ms" => {
                        if let Ok(us) = v.trim().parse::<i64>() {
                            t = us.max(0) as f64 / 1e6;
                        }
                    }
                    "speed" => speed = v.trim().trim_end_matches('x').parse().unwrap_or(0.0),
                    // Keep reading even if nobody listens: a full pipe would stall ffmpeg.
                    "progress" => drop(tx.send((t, speed))),
                    _ => {}
                }
            }
        }
    });
    let hard_stop = started + deadline.total;
    let mut last_progress = Instant::now();
    let status = loop {
        while let Ok((t, speed)) = rx.try_recv() {
            last_progress = Instant::now();
            on_progress(Progress {
                encoded_seconds: t,
                total_seconds,
                speed,
                elapsed: started.elapsed(),
            });
        }
        if let Some(status) = poll(&mut child, Duration::from_millis(200))? {
            break status;
        }
        if cancel.load(Ordering::Relaxed) {
            kill(&mut child);
            return Err(Error::Cancelled);
        }
        if Instant::now() >= hard_stop {
            kill(&mut child);
            return Err(Error::Timeout {
                seconds: deadline.total.as_secs(),
            });
        }
        if last_progress.elapsed() > deadline.stall {
            kill(&mut child);
            return Err(Error::Ffmpeg {
                status: "stopped".into(),
                message: format!("no progress for {} s", deadline.stall.as_secs()),
            });
        }
    };
    let _ = reader.join();
    let decode = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    if !status.success() {
        if let Some(format) = decode.refused_format() {
            return Err(source.refused(format.to_string()));
        }
        let message = decode
            .last_error()
            .map(|m| source.strip_url(m).to_string())
            .unwrap_or_else(|| "no message".into());
        return Err(Error::Ffmpeg {
            status: status.to_string(),
            message,
        });
    }
    Ok(Encoded {
        cost: EncodeCost {
            wall: started.elapsed(),
            cpu: children_cpu_time().saturating_sub(cpu_before),
        },
        decode,
    })
}

/// User + system CPU time of all waited-for children of this process.
pub fn children_cpu_time() -> Duration {
    cpu_time(libc::RUSAGE_CHILDREN)
}

/// User + system CPU time of the calling thread so far: what in-process work (packaging,
/// encryption) cost, measured around it on one thread.
pub fn thread_cpu_time() -> Duration {
    cpu_time(libc::RUSAGE_THREAD)
}

fn cpu_time(who: libc::c_int) -> Duration {
    // SAFETY: getrusage writes into the struct we pass and nothing else.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::getrusage(who, &mut usage) } == 0;
    if !ok {
        return Duration::ZERO;
    }
    let tv =
        |t: libc::timeval| Duration::new(t.tv_sec.max(0) as u64, (t.tv_usec.max(0) as u32) * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}
