//! The subcommands, one file each.

pub(crate) mod cost;
mod package;
mod probe;
mod quality;
mod sign;
mod transcode;

pub use cost::{cost, CostArgs};
pub use package::{package, PackageArgs};
pub use probe::probe;
pub use quality::{quality, QualityArgs};
pub use sign::{sign_url, SignArgs};
pub use transcode::{transcode, TranscodeArgs};

use openvod_transcode::package::PackageSummary;

/// One line per rendition: size, codecs, bit rates, segments, megabytes.
fn print_renditions(p: &PackageSummary) {
    for r in &p.renditions {
        let size = match (r.width, r.height) {
            (Some(w), Some(h)) => format!("{w}x{h}"),
            _ => r.kind.to_string(),
        };
        let quality = r
            .quality
            .map(|q| format!("  score {:.1} (SSIM {:.4})", q.score, q.ssim))
            .unwrap_or_default();
        println!(
            "  {:<10} {:<11} {:<22} avg {:>6} kb/s  peak {:>6} kb/s  {:>4} segments  {:>8.1} MB{quality}",
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
