//! `openvod cost`: what a job would cost on the AWS reference architecture, from a price
//! book (the built-in one, or the user's).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use openvod_cost::{template_rungs, EncodeEstimate, OutputRung, PriceBook};
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
    /// Print the built-in price book, to start your own from.
    Prices,
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
