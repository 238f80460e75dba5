//! The subcommands.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use openvod_media::segment::SegmentTarget;
use openvod_transcode::job::{self, JobEvent, Stage, TranscodeJob};
use openvod_transcode::output::StagedDir;
use openvod_transcode::package::{self, Manifests};
use openvod_transcode::probe::{MediaInfo, StreamInfo};
use openvod_transcode::JobTemplate;

pub fn probe(input: &Path, json: bool) -> Result<()> {
    let info = openvod_transcode::probe(input)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        print_info(input, &info);
    }
    if info.first_video().is_none() {
        bail!("{}: no video stream", input.display());
    }
    Ok(())
}

fn print_info(input: &Path, info: &MediaInfo) {
    println!(
        "{}: {}, {:.3} s, {} bytes{}",
        input.display(),
        info.container,
        info.duration,
        info.size,
        info.bit_rate
            .map(|b| format!(", {} kb/s", b / 1000))
            .unwrap_or_default()
    );
    for s in &info.streams {
        match s {
            StreamInfo::Video(v) => println!(
                "  #{} video {}{}: {}x{} (display {}:{}{}), {:.3} fps{}, {}{}{}",
                v.index,
                v.codec,
                v.profile
                    .as_ref()
                    .map(|p| format!(" {p}"))
                    .unwrap_or_default(),
                v.width,
                v.height,
                v.display_aspect_ratio.0,
                v.display_aspect_ratio.1,
                if v.rotation != 0 {
                    format!(", rotated {}°", v.rotation)
                } else {
                    String::new()
                },
                v.frame_rate,
                if v.variable_frame_rate {
                    " (variable)"
                } else {
                    ""
                },
                v.pixel_format.as_deref().unwrap_or("?"),
                v.bit_depth.map(|b| format!(" {b}-bit")).unwrap_or_default(),
                if v.interlaced { ", interlaced" } else { "" },
            ),
            StreamInfo::Audio(a) => println!(
                "  #{} audio {}{}: {} ch{}, {} Hz{}",
                a.index,
                a.codec,
                a.profile
                    .as_ref()
                    .map(|p| format!(" {p}"))
                    .unwrap_or_default(),
                a.channels,
                a.channel_layout
                    .as_ref()
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default(),
                a.sample_rate,
                a.bit_rate
                    .map(|b| format!(", {} kb/s", b / 1000))
                    .unwrap_or_default()
            ),
            StreamInfo::Other {
                index,
                codec_type,
                codec,
            } => {
                println!("  #{index} {codec_type} {codec} (not used)")
            }
        }
    }
}

#[derive(Args)]
pub struct TranscodeArgs {
    /// The source file (omit with --mediaconvert-job, which names it).
    input: Option<PathBuf>,
    /// Output folder; written in full or not at all.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Built-in template name (default) or a TOML template file.
    #[arg(long, default_value = "default")]
    template: String,
    /// Capped-quality level 1-10 for every rung (the QVBR quality level).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=10))]
    quality: Option<u8>,
    /// A MediaConvert job (CreateJob JSON) with a CMAF output group.
    #[arg(long, value_name = "FILE")]
    mediaconvert_job: Option<PathBuf>,
    /// Map an S3 bucket of the MediaConvert job to a local folder: s3://bucket=DIR.
    #[arg(long = "map", value_name = "s3://BUCKET=DIR")]
    maps: Vec<String>,
    /// Replace the output folder if it exists.
    #[arg(long)]
    overwrite: bool,
    /// Kill ffmpeg after this many seconds (default: 10 min + 1 min per media second).
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<u64>,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    json: bool,
}

pub fn transcode(args: TranscodeArgs) -> Result<()> {
    let (input, out, mut template) = match &args.mediaconvert_job {
        Some(path) => mediaconvert_job(path, &args)?,
        None => {
            let input = args
                .input
                .clone()
                .context("give an INPUT file (or --mediaconvert-job)")?;
            let out = args
                .out
                .clone()
                .context("give an output folder with --out DIR")?;
            (input, out, JobTemplate::load(&args.template)?)
        }
    };
    if let Some(q) = args.quality {
        template.video.quality = q;
        for r in &mut template.video.rungs {
            r.quality = None;
        }
    }
    let job = TranscodeJob {
        input,
        output: out,
        template,
        overwrite: args.overwrite,
        deadline: args.timeout.map(|s| openvod_transcode::ffmpeg::Deadline {
            total: Duration::from_secs(s),
            stall: Duration::from_secs(s.min(300)),
        }),
    };
    let reporter = Reporter::new();
    let summary = job::run(&job, &mut |e| reporter.event(e));
    reporter.finish();
    let summary = summary?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "{}: {:.1} s of media in {:.1} s ({:.2}x real time, {:.1} s CPU)",
            summary.output.display(),
            summary.package.duration,
            summary.wall_seconds,
            summary.speed,
            summary.cpu_seconds
        );
        print_renditions(&summary.package);
    }
    Ok(())
}

fn mediaconvert_job(path: &Path, args: &TranscodeArgs) -> Result<(PathBuf, PathBuf, JobTemplate)> {
    use openvod_transcode::mediaconvert::{import, LocationMap};
    let meta = std::fs::metadata(path).with_context(|| path.display().to_string())?;
    if meta.len() > 1 << 20 {
        bail!(
            "{}: larger than 1 MiB, not a MediaConvert job",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    let maps = args
        .maps
        .iter()
        .map(|m| LocationMap::parse(m))
        .collect::<Result<Vec<_>, _>>()?;
    let job = import(&text, &maps)?;
    for w in &job.warnings {
        eprintln!("warning: {w}");
    }
    let input = match &args.input {
        Some(i) => i.clone(),
        None => job.input.clone(),
    };
    let out = args
        .out
        .clone()
        .or(job.destination.clone())
        .context("the job has no CMAF Destination: give --out DIR")?;
    Ok((input, out, job.template))
}

fn print_renditions(p: &package::PackageSummary) {
    for r in &p.renditions {
        let size = match (r.width, r.height) {
            (Some(w), Some(h)) => format!("{w}x{h}"),
            _ => r.kind.to_string(),
        };
        println!(
            "  {:<10} {:<11} {:<22} avg {:>6} kb/s  peak {:>6} kb/s  {:>4} segments  {:>8.1} MB",
            r.name,
            size,
            r.codecs,
            r.bitrate / 1000,
            r.peak_bitrate / 1000,
            r.segments,
            r.bytes as f64 / 1e6
        );
    }
}

/// Progress on stderr: a bar on a terminal, a line per few seconds otherwise.
struct Reporter {
    bar: Option<ProgressBar>,
    last_line: std::cell::Cell<Option<std::time::Instant>>,
}

impl Reporter {
    fn new() -> Reporter {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(1000);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {prefix:>9} [{bar:40}] {percent:>3}% {msg} ETA {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Reporter {
            bar,
            last_line: std::cell::Cell::new(None),
        }
    }

    fn event(&self, e: JobEvent<'_>) {
        match e {
            JobEvent::Started(stage) => {
                let name = match stage {
                    Stage::Probe => "probing",
                    Stage::Encode => "encoding",
                    Stage::Package => "packaging",
                };
                match &self.bar {
                    Some(bar) => bar.set_prefix(name),
                    None => eprintln!("{name}"),
                }
            }
            JobEvent::Planned(plan) => {
                let rungs: Vec<String> = plan
                    .rungs
                    .iter()
                    .map(|r| format!("{} {}x{}", r.name, r.width, r.height))
                    .collect();
                let line = format!(
                    "ladder: {}{}",
                    rungs.join(", "),
                    plan.audio
                        .as_ref()
                        .map(|a| format!(", audio {} kb/s", a.bitrate / 1000))
                        .unwrap_or_default()
                );
                match &self.bar {
                    Some(bar) => bar.println(line),
                    None => eprintln!("{line}"),
                }
            }
            JobEvent::Encoding(p) => {
                let frac = p.fraction().unwrap_or(0.0);
                match &self.bar {
                    Some(bar) => {
                        bar.set_position((frac * 1000.0) as u64);
                        bar.set_message(format!("{:.2}x", p.speed));
                    }
                    None => {
                        let due = self
                            .last_line
                            .get()
                            .is_none_or(|t| t.elapsed() >= Duration::from_secs(5));
                        if due {
                            self.last_line.set(Some(std::time::Instant::now()));
                            let eta = if p.speed > 0.0 {
                                format!(
                                    "{:.0} s",
                                    (p.total_seconds - p.encoded_seconds).max(0.0) / p.speed
                                )
                            } else {
                                "?".into()
                            };
                            eprintln!(
                                "encoding {:5.1}%  {:.1}/{:.1} s  {:.2}x real time  ETA {eta}",
                                frac * 100.0,
                                p.encoded_seconds,
                                p.total_seconds,
                                p.speed
                            );
                        }
                    }
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[derive(Args)]
pub struct PackageArgs {
    /// MP4 files, one or more renditions each (fragmented or progressive).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output folder; written in full or not at all.
    #[arg(long)]
    out: PathBuf,
    /// Segment length in seconds.
    #[arg(long, default_value_t = 4.0)]
    segment: f64,
    /// Fragment length in seconds; a segment is a whole number of fragments.
    #[arg(long, default_value_t = 2.0)]
    fragment: f64,
    /// Replace the output folder if it exists.
    #[arg(long)]
    overwrite: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    json: bool,
}

pub fn package(args: PackageArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let target = SegmentTarget {
        segment_seconds: args.segment,
        fragment_seconds: args.fragment,
    };
    target.validate()?;
    let mut sources = Vec::new();
    for path in &args.inputs {
        let tracks = package::read_mp4(path)?;
        if tracks.is_empty() {
            bail!("{}: no video or audio track", path.display());
        }
        sources.push((path.clone(), tracks));
    }
    let (paths, renditions) = package::name_renditions(sources);
    let staged = StagedDir::new(&args.out, args.overwrite)?;
    let summary = package::package_into(
        &paths,
        renditions,
        target,
        Manifests {
            hls: true,
            dash: true,
        },
        staged.path(),
    )?;
    let out = staged.commit()?;
    let input_bytes: u64 = paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let secs = started.elapsed().as_secs_f64();
    if args.json {
        let mut v = serde_json::to_value(&summary)?;
        v["output"] = serde_json::json!(out);
        v["wall_seconds"] = serde_json::json!((secs * 1000.0).round() / 1000.0);
        v["input_bytes"] = serde_json::json!(input_bytes);
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "{}: {} files, {:.1} MB in {:.2} s ({:.0} MB/s of input)",
            out.display(),
            summary.files,
            summary.bytes as f64 / 1e6,
            secs,
            input_bytes as f64 / 1e6 / secs.max(1e-6)
        );
        print_renditions(&summary);
    }
    Ok(())
}
