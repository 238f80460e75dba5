//! `openvod cost`: what a job would cost on the AWS reference architecture, from a price
//! book (the built-in one, or the user's).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use openvod_cost::{
    template_rungs, EncodeEstimate, LadderRates, OutputRung, PlatformAssumptions, PlatformBill,
    PriceBook,
};
use openvod_transcode::JobTemplate;

#[derive(Args)]
pub struct CostArgs {
    #[command(subcommand)]
    command: CostCommand,
}

#[derive(Subcommand)]
enum CostCommand {
    /// Price a transcode on MediaConvert: each rung at the tier it falls in.
    Encode(EncodeArgs),
    /// A platform's month on AWS, line by line, from stated assumptions: fixed ladders,
    /// per-title ladders, and per-title ladders with HEVC.
    Platform(PlatformArgs),
    /// Print the built-in price book, to start your own from.
    Prices,
}

#[derive(Args)]
struct PlatformArgs {
    /// Daily active viewers.
    #[arg(long, default_value_t = 2_000_000.0)]
    dau: f64,
    /// Minutes each viewer watches a day.
    #[arg(long, default_value_t = 30.0)]
    minutes_per_day: f64,
    /// A rendition viewers watch (a rung of the template, as 720p); repeat for a mix in
    /// equal shares. Its bytes per minute follow from its peak bit rate and the audio's.
    #[arg(long = "rendition", value_name = "NAME")]
    renditions: Vec<String>,
    /// Plays started per viewer a day (each a DRM licence and metadata reads).
    #[arg(long, default_value_t = 2.0)]
    sessions_per_day: f64,
    /// The share of bytes the CDN answers from its cache.
    #[arg(long, default_value_t = 0.95)]
    cache_hit: f64,
    /// New titles a day.
    #[arg(long, default_value_t = 100.0)]
    uploads_per_day: f64,
    /// A title's length in minutes.
    #[arg(long, default_value_t = 45.0)]
    title_minutes: f64,
    /// Titles in the catalogue.
    #[arg(long, default_value_t = 20_000.0)]
    catalogue: f64,
    /// The sources' bit rate in Mb/s (kept beside the outputs).
    #[arg(long, default_value_t = 20.0)]
    source_mbps: f64,
    /// The share of the catalogue in the archive class.
    #[arg(long, default_value_t = 0.0)]
    cold_share: f64,
    /// The share of viewing on players that take HEVC, in the HEVC scenario.
    #[arg(long, default_value_t = 0.7)]
    hevc_share: f64,
    /// No DRM licences.
    #[arg(long)]
    no_drm: bool,
    /// The ladder (a built-in template name or a TOML file).
    #[arg(long, default_value = "default")]
    template: String,
    /// A price book (TOML) instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    prices: Option<PathBuf>,
    /// Print the bill as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct EncodeArgs {
    /// The title's length in minutes.
    #[arg(long)]
    minutes: f64,
    /// An output rung, CODEC:HEIGHTp[@FPS][:hdr] (as h264:1080p, hevc:2160p@60:hdr);
    /// repeat for each rung. The frame rate is 30 unless given.
    #[arg(long = "rung", value_name = "RUNG")]
    rungs: Vec<OutputRung>,
    /// Price a template's ladder (a built-in name, as default, or a TOML file), in each
    /// of its codecs, beside any --rung.
    #[arg(long)]
    template: Option<String>,
    /// The source's frame rate, for --template's rungs.
    #[arg(long, default_value_t = 30.0)]
    fps: f64,
    /// A price book (TOML) instead of the built-in one (`openvod cost prices`).
    #[arg(long, value_name = "FILE")]
    prices: Option<PathBuf>,
    /// Print the estimate as JSON.
    #[arg(long)]
    json: bool,
}

pub fn cost(args: CostArgs) -> Result<()> {
    match args.command {
        CostCommand::Encode(a) => encode(a),
        CostCommand::Platform(a) => platform(a),
        CostCommand::Prices => {
            print!("{}", PriceBook::built_in_text());
            Ok(())
        }
    }
}

/// The price book the user named, or the built-in one. A book is a few kilobytes; a
/// file far larger is not one.
pub(crate) fn price_book(path: Option<&PathBuf>) -> Result<PriceBook> {
    const MAX_BOOK_BYTES: u64 = 1 << 20;
    let Some(path) = path else {
        return Ok(PriceBook::built_in());
    };
    let len = std::fs::metadata(path)
        .with_context(|| format!("{}", path.display()))?
        .len();
    if len > MAX_BOOK_BYTES {
        bail!(
            "{}: {len} bytes is too large for a price book (at most 1 MiB)",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    PriceBook::parse(&text).with_context(|| format!("{}", path.display()))
}

fn encode(args: EncodeArgs) -> Result<()> {
    let book = price_book(args.prices.as_ref())?;
    let mut rungs = args.rungs.clone();
    if let Some(t) = &args.template {
        if !(args.fps.is_finite() && args.fps > 0.0 && args.fps <= 300.0) {
            bail!("--fps {}: a frame rate above 0, at most 300", args.fps);
        }
        let template = JobTemplate::load(t)?;
        rungs.extend(template_rungs(&template.video, args.fps));
    }
    if rungs.is_empty() {
        bail!("nothing to price: give --rung CODEC:HEIGHTp (repeatable) or --template NAME");
    }
    let e = EncodeEstimate::new(&book, args.minutes, &rungs)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&e)?);
        return Ok(());
    }
    println!("{} minutes on MediaConvert ({}):", e.minutes, e.price_book);
    for r in &e.rungs {
        println!(
            "  {:<20} {:<12} {:<3}  ${:.4}/min  ${:>9.2}   {}",
            r.rung,
            r.tier.to_string(),
            r.definition.to_string(),
            r.usd_per_minute,
            r.usd,
            r.reason
        );
    }
    for (tier, usd) in &e.by_tier {
        println!("  {:<20} ${usd:>.2}", format!("{tier} tier"));
    }
    println!("  total                ${:.2}", e.usd);
    Ok(())
}

fn platform(args: PlatformArgs) -> Result<()> {
    let book = price_book(args.prices.as_ref())?;
    let template = JobTemplate::load(&args.template)?;
    let defaults = PlatformAssumptions::default();
    let assumptions = PlatformAssumptions {
        daily_viewers: args.dau,
        minutes_per_day: args.minutes_per_day,
        renditions: if args.renditions.is_empty() {
            defaults.renditions
        } else {
            args.renditions
        },
        sessions_per_day: args.sessions_per_day,
        cache_hit_ratio: args.cache_hit,
        uploads_per_day: args.uploads_per_day,
        title_minutes: args.title_minutes,
        catalogue_titles: args.catalogue,
        source_mbps: args.source_mbps,
        cold_share: args.cold_share,
        hevc_share: args.hevc_share,
        drm: !args.no_drm,
        days: defaults.days,
    };
    let bill = PlatformBill::new(&book, &assumptions, &LadderRates::of_template(&template))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&bill)?);
        return Ok(());
    }
    let a = &bill.assumptions;
    println!(
        "A month of {} daily viewers watching {} minutes a day of {} ({}), on {}:",
        a.daily_viewers,
        a.minutes_per_day,
        a.renditions.join(" + "),
        bill.ladder.template,
        bill.price_book
    );
    println!(
        "  {} plays a viewer a day, {:.0} % CDN cache hits; {} new titles a day of {} minutes, {} kept ({} Mb/s sources, {:.0} % archived)",
        a.sessions_per_day,
        a.cache_hit_ratio * 100.0,
        a.uploads_per_day,
        a.title_minutes,
        a.catalogue_titles,
        a.source_mbps,
        a.cold_share * 100.0
    );
    for s in &bill.scenarios {
        println!();
        println!("{}:", s.description);
        for l in &s.lines {
            println!("  {:<24} ${:>12.0}   {}", l.service, l.usd, l.basis);
        }
        println!("  {:<24} ${:>12.0}", "total", s.usd);
    }
    Ok(())
}
