//! The `openvod` command: parses flags and calls the library crates.

mod commands;
mod config;
mod service;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// openvod: a self-hosted video-on-demand platform.
#[derive(Parser)]
#[command(name = "openvod", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Describe a media file: container, duration, streams.
    Probe {
        input: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Transcode a file to an adaptive bit rate ladder, packaged as CMAF for HLS and DASH.
    Transcode(commands::TranscodeArgs),
    /// Score an encode against its source: SSIM, PSNR and a 0-100 score from SSIM, both
    /// pictures scaled to one display size.
    Quality(commands::QualityArgs),
    /// Package MP4 renditions (fragmented or progressive) as CMAF for HLS and DASH.
    Package(commands::PackageArgs),
    /// Run the service: API, origin and workers in one process.
    Serve(service::ServiceArgs),
    /// Run workers only, against the configured database and store.
    Worker(service::ServiceArgs),
    /// Run the origin only.
    Origin(service::ServiceArgs),
    /// Sign a playback URL (CloudFront-compatible canned or custom policy).
    SignUrl(commands::SignArgs),
    /// What a job would cost on the AWS reference architecture, from a price book.
    Cost(commands::CostArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Probe { input, json } => commands::probe(&input, json),
        Command::Transcode(args) => commands::transcode(args),
        Command::Package(args) => commands::package(args),
        Command::Quality(args) => commands::quality(args),
        Command::Serve(args) => service::run(service::Role::Serve, args),
        Command::Worker(args) => service::run(service::Role::Worker, args),
        Command::Origin(args) => service::run(service::Role::Origin, args),
        Command::SignUrl(args) => commands::sign_url(args),
        Command::Cost(args) => commands::cost(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, without repeating a cause already in the text.
fn one_line(e: &anyhow::Error) -> String {
    let mut s = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !s.contains(&text) {
            if !s.is_empty() {
                s.push_str(": ");
            }
            s.push_str(&text);
        }
    }
    s
}
