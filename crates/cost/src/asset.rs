//! What one asset really cost: the work and bytes the pipeline and the origin recorded,
//! priced at the operator's own rates, beside what the same work would have cost on the
//! AWS reference architecture (MediaConvert for the outputs, S3 for the bytes kept,
//! CloudFront for the bytes served).

use serde::{Deserialize, Serialize};

use crate::{EncodeEstimate, OutputRung, PriceBook, Result};

/// What an asset's processing used, as the pipeline records it when it publishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessingUsage {
    /// The per-title analysis's sample encodes (0 for a fixed ladder).
    pub analysis_cpu_seconds: f64,
    /// The ffmpeg encode of every rung.
    pub encode_cpu_seconds: f64,
    /// Packaging and encryption, in process.
    pub package_cpu_seconds: f64,
    /// The source as uploaded.
    pub source_bytes: u64,
    /// Everything published (manifests, segments, keys' playlists).
    pub output_bytes: u64,
    /// The title's length.
    pub minutes: f64,
    /// The video outputs, as MediaConvert would have priced them (`CODEC:HEIGHTp@FPS`).
    pub rungs: Vec<String>,
}

/// The operator's own rates (`[cost]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OwnRates {
    /// One vCPU for one hour.
    pub vcpu_hour_usd: f64,
    /// One GB stored for one month.
    pub storage_gb_month_usd: f64,
    /// One GB stored for one month in the cold class (a cheaper disk, an archive class).
    pub cold_storage_gb_month_usd: f64,
    /// One GB served to viewers.
    pub egress_gb_usd: f64,
}

impl Default for OwnRates {
    /// Assumed rates of a self-hosted deployment on rented machines and an S3-compatible
    /// store; an operator sets their own.
    fn default() -> Self {
        OwnRates {
            vcpu_hour_usd: 0.02,
            storage_gb_month_usd: 0.01,
            cold_storage_gb_month_usd: 0.002,
            egress_gb_usd: 0.01,
        }
    }
}

impl OwnRates {
    /// Checks that every rate is a finite number of at least 0, naming the one that is not.
    pub fn check(&self) -> std::result::Result<(), String> {
        for (name, v) in [
            ("vcpu_hour_usd", self.vcpu_hour_usd),
            ("storage_gb_month_usd", self.storage_gb_month_usd),
            ("cold_storage_gb_month_usd", self.cold_storage_gb_month_usd),
            ("egress_gb_usd", self.egress_gb_usd),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!(
                    "cost.{name} is {v}: a rate is a finite number of at least 0"
                ));
            }
        }
        Ok(())
    }
}

/// The class an asset's bytes are kept in, as the price list sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageClass {
    /// Played lately: S3 Standard, the store's own class.
    Standard,
    /// Not played for the configured days: S3 Glacier Instant Retrieval, a cold folder.
    Archive,
}

/// The asset's cost on openvod at the operator's rates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OwnCost {
    pub cpu_seconds: f64,
    pub compute_usd: f64,
    /// The class the source and the output are kept in now.
    pub storage_class: StorageClass,
    /// One month of keeping the source and the output, in their class.
    pub storage_usd_per_month: f64,
    /// The bytes served so far.
    pub egress_usd: f64,
    /// Compute, one month of storage and the egress so far.
    pub usd: f64,
}

/// The same work on AWS, at the price book's prices.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AwsCost {
    pub price_book: String,
    /// MediaConvert, rung by rung (video outputs; audio outputs are not priced).
    pub mediaconvert: EncodeEstimate,
    /// One month of S3 for the source and the output, in their class (Standard, or
    /// Glacier Instant Retrieval).
    pub s3_usd_per_month: f64,
    /// CloudFront for the bytes served so far.
    pub cloudfront_usd: f64,
    /// MediaConvert, one month of S3 and CloudFront so far.
    pub usd: f64,
}

/// One asset's cost, both ways.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssetCost {
    pub openvod: OwnCost,
    pub aws: AwsCost,
}

const GB: f64 = 1e9;

impl AssetCost {
    /// Prices `usage`, kept in `class`, and `served_bytes` at `rates` and in `book`.
    pub fn new(
        usage: &ProcessingUsage,
        class: StorageClass,
        served_bytes: u64,
        rates: &OwnRates,
        book: &PriceBook,
    ) -> Result<AssetCost> {
        let cpu_seconds =
            usage.analysis_cpu_seconds + usage.encode_cpu_seconds + usage.package_cpu_seconds;
        let stored_gb = (usage.source_bytes + usage.output_bytes) as f64 / GB;
        let served_gb = served_bytes as f64 / GB;
        let compute_usd = cpu_seconds / 3600.0 * rates.vcpu_hour_usd;
        let (own_gb_month, aws_gb_month) = match class {
            StorageClass::Standard => (rates.storage_gb_month_usd, book.s3.standard.usd),
            StorageClass::Archive => (rates.cold_storage_gb_month_usd, book.s3.archive.usd),
        };
        let storage_usd_per_month = stored_gb * own_gb_month;
        let egress_usd = served_gb * rates.egress_gb_usd;
        let rungs = usage
            .rungs
            .iter()
            .map(|r| r.parse())
            .collect::<Result<Vec<OutputRung>>>()?;
        let mediaconvert = EncodeEstimate::new(book, usage.minutes, &rungs)?;
        let s3_usd_per_month = stored_gb * aws_gb_month;
        let cloudfront_usd = served_gb * book.cloudfront.first_10tb.usd;
        Ok(AssetCost {
            openvod: OwnCost {
                cpu_seconds,
                compute_usd,
                storage_class: class,
                storage_usd_per_month,
                egress_usd,
                usd: compute_usd + storage_usd_per_month + egress_usd,
            },
            aws: AwsCost {
                price_book: book.name.clone(),
                usd: mediaconvert.usd + s3_usd_per_month + cloudfront_usd,
                mediaconvert,
                s3_usd_per_month,
                cloudfront_usd,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage() -> ProcessingUsage {
        ProcessingUsage {
            analysis_cpu_seconds: 600.0,
            encode_cpu_seconds: 6_600.0,
            package_cpu_seconds: 0.0,
            source_bytes: 4_000_000_000,
            output_bytes: 6_000_000_000,
            minutes: 90.0,
            rungs: vec![
                "h264:1080p@30".into(),
                "h264:720p@30".into(),
                "h264:360p@30".into(),
            ],
        }
    }

    #[test]
    fn an_asset_is_priced_both_ways() {
        let rates = OwnRates {
            vcpu_hour_usd: 0.05,
            storage_gb_month_usd: 0.01,
            cold_storage_gb_month_usd: 0.001,
            egress_gb_usd: 0.02,
        };
        let book = PriceBook::built_in();
        let c = AssetCost::new(
            &usage(),
            StorageClass::Standard,
            100_000_000_000,
            &rates,
            &book,
        )
        .unwrap();
        // 2 vCPU-hours, 10 GB kept, 100 GB served.
        assert!((c.openvod.compute_usd - 0.10).abs() < 1e-9, "{c:?}");
        assert!((c.openvod.storage_usd_per_month - 0.10).abs() < 1e-9);
        assert!((c.openvod.egress_usd - 2.0).abs() < 1e-9);
        assert!((c.openvod.usd - 2.2).abs() < 1e-9);
        // MediaConvert: two HD rungs at $0.015 and one SD at $0.0075, 90 minutes.
        assert!((c.aws.mediaconvert.usd - 90.0 * (0.015 * 2.0 + 0.0075)).abs() < 1e-9);
        assert!((c.aws.s3_usd_per_month - 0.23).abs() < 1e-9);
        assert!((c.aws.cloudfront_usd - 8.5).abs() < 1e-9);
        assert!((c.aws.usd - (3.375 + 0.23 + 8.5)).abs() < 1e-9);
        // Cold, the same bytes cost the cold rate and the archive class's price.
        let cold = AssetCost::new(&usage(), StorageClass::Archive, 0, &rates, &book).unwrap();
        assert_eq!(cold.openvod.storage_class, StorageClass::Archive);
        assert!((cold.openvod.storage_usd_per_month - 0.01).abs() < 1e-9);
        assert!((cold.aws.s3_usd_per_month - 0.04).abs() < 1e-9);
    }

    #[test]
    fn bad_rates_and_rungs_are_named() {
        let rates = OwnRates {
            egress_gb_usd: -1.0,
            ..OwnRates::default()
        };
        assert!(rates.check().unwrap_err().contains("cost.egress_gb_usd"));
        assert!(OwnRates::default().check().is_ok());
        let mut u = usage();
        u.rungs.push("vp9:720p".into());
        let e = AssetCost::new(
            &u,
            StorageClass::Standard,
            0,
            &OwnRates::default(),
            &PriceBook::built_in(),
        );
        assert!(e.unwrap_err().to_string().contains("vp9"));
    }
}
