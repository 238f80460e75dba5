//! The subcommands, one file each.

mod package;
mod probe;
mod sign;
mod transcode;

pub use package::{package, PackageArgs};
pub use probe::probe;
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
