//! `openvod quality`: how an encode looks against its source.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use openvod_transcode::quality::{compare, Comparison, Reference};
use openvod_transcode::SourceFile;

#[derive(Args)]
pub struct QualityArgs {
    /// The source (the reference picture).
    reference: PathBuf,
    /// The encode to judge.
    distorted: PathBuf,
    /// Compare every N-th frame (1: every frame).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    every: u32,
    /// The display size both pictures are scaled to, WIDTHxHEIGHT (default: the
    /// reference's display size).
    #[arg(long, value_name = "WxH", value_parser = parse_size)]
    size: Option<(u32, u32)>,
    /// Print the scores as JSON.
    #[arg(long)]
    json: bool,
}

pub fn quality(args: QualityArgs) -> Result<()> {
    let reference = SourceFile::open(&args.reference)?;
    let distorted = SourceFile::open(&args.distorted)?;
    let info = openvod_transcode::probe(&reference)?;
    let video = info
        .first_video()
        .with_context(|| format!("{}: no video stream", args.reference.display()))?;
    if openvod_transcode::probe(&distorted)?
        .first_video()
        .is_none()
    {
        bail!("{}: no video stream", args.distorted.display());
    }
    let (width, height) = match args.size {
        Some(size) => size,
        None => {
            let (w, h) = video.display_size();
            (even(w), even(h))
        }
    };
    if width > 8192 || height > 8192 {
        bail!("{width}x{height}: larger than 8192 pixels; give a smaller --size");
    }
    let duration = if info.duration > 0.0 {
        info.duration
    } else {
        3600.0
    };
    let scores = compare(
        &Reference {
            source: &reference,
            stream_index: video.index,
            excerpts: Vec::new(),
            frame_rate: None,
            deinterlace: false,
        },
        std::slice::from_ref(&distorted),
        Comparison {
            width,
            height,
            frame_step: args.every,
            psnr: true,
        },
        Duration::from_secs(600 + (duration * 60.0) as u64),
    )?;
    let q = scores[0];
    if args.json {
        println!("{}", serde_json::to_string_pretty(&q)?);
    } else {
        println!(
            "{}: score {:.1}  SSIM {:.5} ({:.2} dB)  PSNR {:.2} dB  at {width}x{height}",
            args.distorted.display(),
            q.score,
            q.ssim,
            q.ssim_db,
            q.psnr.unwrap_or(f64::NAN)
        );
    }
    Ok(())
}

fn even(x: f64) -> u32 {
    ((x / 2.0).round() as u32).max(1) * 2
}

/// `WIDTHxHEIGHT`, each even and 16 to 8192.
fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("{text:?} is not WIDTHxHEIGHT with even sides of 16 to 8192");
    let (w, h) = text.split_once('x').ok_or_else(bad)?;
    let (w, h): (u32, u32) = (w.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?);
    if !(16..=8192).contains(&w) || !(16..=8192).contains(&h) || w % 2 == 1 || h % 2 == 1 {
        return Err(bad());
    }
    Ok((w, h))
}
