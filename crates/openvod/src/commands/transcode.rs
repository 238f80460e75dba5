//! `openvod transcode`: a source to a packaged ladder.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::print_renditions;
use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use openvod_transcode::integrity::IntegrityPolicy;
use openvod_transcode::job::{self, JobEvent, JobStep, TranscodeJob};
use openvod_transcode::per_title::LadderMode;
use openvod_transcode::template::VideoCodec;
use openvod_transcode::JobTemplate;

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
    /// A ladder in each of these codecs (h264, hevc, av1), comma-separated: the template's
    /// rungs in the first codec keep their names, the others' are named NAME-CODEC.
    #[arg(long, value_name = "CODEC,...", value_delimiter = ',')]
    codecs: Vec<VideoCodec>,
    /// The template's fixed rungs, or a ladder chosen for this title from sample encodes
    /// (bounds from the template's `[ladder]` table).
    #[arg(long, value_name = "fixed|per-title")]
    ladder: Option<LadderMode>,
    /// Measure each rung's quality against the source after the encode (SSIM, PSNR and
    /// a 0-100 score; see `openvod quality`).
    #[arg(long)]
    measure_quality: bool,
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
    /// Finish a source whose decoding stopped early or reported errors, with a warning,
    /// instead of failing.
    #[arg(long)]
    allow_damaged: bool,
    /// Share of its declared duration every source stream must decode.
    #[arg(long, value_name = "SHARE", default_value_t = IntegrityPolicy::default().min_decoded_share,
          value_parser = parse_share)]
    min_decoded_share: f64,
    /// Error messages from the source's decoders tolerated before it counts as damaged.
    #[arg(long, value_name = "N", default_value_t = IntegrityPolicy::default().max_decode_errors)]
    max_decode_errors: u64,
    /// A subtitle file (WebVTT .vtt or SubRip .srt) in language LANG (ISO 639 or BCP 47,
    /// or `und`); repeatable.
    #[arg(long, value_name = "LANG=FILE")]
    subtitles: Vec<String>,
    /// A caption file (dialogue and sounds, for viewers who cannot hear), as --subtitles.
    #[arg(long, value_name = "LANG=FILE")]
    captions: Vec<String>,
    /// A forced-subtitle file (shown with subtitles off: foreign dialogue), as
    /// --subtitles.
    #[arg(long, value_name = "LANG=FILE")]
    forced_subtitles: Vec<String>,
    /// Encode nothing to keep: measure what the job takes (the job's own encode of a
    /// short and a long excerpt from the middle of the source, scaled to its length)
    /// and price it at --vcpu-hour-usd beside MediaConvert. No --out needed.
    #[arg(long)]
    estimate: bool,
    /// With --estimate: the price of one vCPU for one hour on your machines.
    #[arg(long, value_name = "USD", default_value_t = openvod_cost::OwnRates::default().vcpu_hour_usd)]
    vcpu_hour_usd: f64,
    /// With --estimate: a price book (TOML) instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    prices: Option<PathBuf>,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    json: bool,
}

/// The sidecar files the options give, in option order.
fn sidecars(args: &TranscodeArgs) -> Result<Vec<job::Sidecar>> {
    use openvod_media::text::{TextKind, TextTrackInfo};
    let mut out = Vec::new();
    for (option, values, kind, forced) in [
        ("--subtitles", &args.subtitles, TextKind::Subtitles, false),
        ("--captions", &args.captions, TextKind::Captions, false),
        (
            "--forced-subtitles",
            &args.forced_subtitles,
            TextKind::Subtitles,
            true,
        ),
    ] {
        for value in values {
            let (lang, file) = value
                .split_once('=')
                .with_context(|| format!("{option} {value}: give LANG=FILE (en=subs.vtt)"))?;
            let language = match lang {
                "und" | "" => None,
                code => Some(openvod_media::Language::from_code(code).with_context(|| {
                    format!("{option} {value}: {code:?} is not an ISO 639 language code")
                })?),
            };
            out.push(job::Sidecar {
                path: PathBuf::from(file),
                info: TextTrackInfo {
                    language,
                    kind,
                    forced,
                },
            });
        }
    }
    Ok(out)
}

pub fn transcode(args: TranscodeArgs) -> Result<()> {
    let (input, out, mut template) = match &args.mediaconvert_job {
        Some(path) => mediaconvert_job(path, &args)?,
        None => {
            let input = args
                .input
                .clone()
                .context("give an INPUT file (or --mediaconvert-job)")?;
            let out = match (&args.out, args.estimate) {
                (Some(out), _) => out.clone(),
                (None, true) => PathBuf::new(),
                (None, false) => bail!("give an output folder with --out DIR"),
            };
            (input, out, JobTemplate::load(&args.template)?)
        }
    };
    if !args.codecs.is_empty() {
        template.video.codecs = args.codecs.clone();
        template
            .validate()
            .map_err(|e| anyhow::anyhow!("--codecs: {e}"))?;
    }
    if let Some(mode) = args.ladder {
        template.ladder.mode = mode;
    }
    if args.quality.is_some() && template.ladder.mode == LadderMode::PerTitle {
        bail!(
            "--quality sets the CRF of fixed rungs; a per-title ladder chooses each rung's \
             CRF itself and stops at the template's [ladder] top_quality"
        );
    }
    if let Some(q) = args.quality {
        template.video.quality = q;
        for r in &mut template.video.rungs {
            r.quality = None;
        }
    }
    if args.estimate {
        return estimate(&input, &template, &args);
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
        integrity: IntegrityPolicy {
            allow_damaged: args.allow_damaged,
            min_decoded_share: args.min_decoded_share,
            max_decode_errors: args.max_decode_errors,
        },
        measure_quality: args.measure_quality,
        subtitles: sidecars(&args)?,
    };
    let reporter = Reporter::new();
    let summary = job::run(&job, &mut |e| reporter.event(e));
    reporter.finish();
    let summary = summary?;
    for w in &summary.warnings {
        eprintln!("warning: {}: {}", summary.input.display(), w.message);
    }
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
        if let Some(d) = &summary.ladder {
            println!(
                "per-title ladder in {} from {} sample encodes of {} excerpts ({:.1} s CPU):",
                d.codec,
                d.samples.len(),
                d.excerpts.len(),
                d.cpu_seconds
            );
            for r in &d.rungs {
                println!(
                    "  {:<10} {}x{}  crf {}  ~{} kb/s (cap {} kb/s)  score {:.1}",
                    r.name,
                    r.width,
                    r.height,
                    r.crf,
                    r.expected_bitrate / 1000,
                    r.max_bitrate / 1000,
                    r.score
                );
            }
        }
        print_renditions(&summary.package);
    }
    Ok(())
}

/// A share in (0, 1].
fn parse_share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(share) if share > 0.0 && share <= 1.0 => Ok(share),
        _ => Err(format!("{text:?} is not a share above 0 and at most 1")),
    }
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
                    JobStep::Probe => "probing",
                    JobStep::Analyse => "analysing",
                    JobStep::Encode => "encoding",
                    JobStep::Measure => "measuring",
                    JobStep::Package => "packaging",
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
                        .iter()
                        .map(|a| format!(
                            ", {} {} kb/s{}",
                            a.name,
                            a.bitrate / 1000,
                            if a.channels == 6 { " 5.1" } else { "" }
                        ))
                        .collect::<String>()
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

/// `--estimate`: the job measured on excerpts and priced both ways.
fn estimate(input: &Path, template: &JobTemplate, args: &TranscodeArgs) -> Result<()> {
    let rates = openvod_cost::OwnRates {
        vcpu_hour_usd: args.vcpu_hour_usd,
        ..openvod_cost::OwnRates::default()
    };
    rates
        .check()
        .map_err(|e| anyhow::anyhow!("--vcpu-hour-usd: {e}"))?;
    let book = super::cost::price_book(args.prices.as_ref())?;
    eprintln!("measuring the encode on excerpts of {}...", input.display());
    let measured = openvod_transcode::estimate::estimate(input, template)?;
    let priced = openvod_cost::PricedJob::new(measured, &rates, &book)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&priced)?);
        return Ok(());
    }
    let e = &priced.estimate;
    let measured: Vec<String> = e
        .measured
        .iter()
        .map(|m| {
            format!(
                "{:.1} s from {:.1} s: {:.1} s CPU",
                m.seconds, m.start, m.cpu_seconds
            )
        })
        .collect();
    println!(
        "{}: {:.1} s ({:.2} min); measured {}",
        input.display(),
        e.duration,
        e.duration / 60.0,
        measured.join(", ")
    );
    for (r, line) in e.rungs.iter().zip(&priced.mediaconvert.rungs) {
        println!(
            "  {:<10} {:>9} {:<5} {:>9.1} s CPU   MediaConvert {:<12} {:<3} ${:>9.4}",
            r.name,
            format!("{}x{}", r.width, r.height),
            r.codec.as_str(),
            r.cpu_seconds,
            line.tier.to_string(),
            line.definition.to_string(),
            line.usd
        );
    }
    println!(
        "openvod: {:.1} s CPU ({:.1} s here), ${:.4} at ${}/vCPU-hour",
        e.cpu_seconds, e.wall_seconds, priced.openvod_usd, priced.vcpu_hour_usd
    );
    println!(
        "MediaConvert ({}): ${:.4}",
        priced.mediaconvert.price_book, priced.mediaconvert.usd
    );
    if e.per_title {
        println!(
            "the template chooses a ladder per title: these are its fixed rungs, the most it \
             encodes; the analysis's sample encodes are not counted"
        );
    }
    Ok(())
}
