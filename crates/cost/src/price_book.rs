//! The price book: every price the cost model uses, with where it comes from and when it
//! was written down, read from TOML. The built-in book (`prices/aws.toml`) reproduces the
//! seed's figures; a user's book replaces it whole.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// One price: US dollars per unit, and its provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub usd: f64,
    /// The unit the price is for ("output minute", "GB").
    pub per: String,
    /// Where the figure comes from.
    pub source: String,
    /// When it was written down (YYYY-MM-DD).
    pub date: String,
}

/// MediaConvert's on-demand prices per output minute, by tier and definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaConvertPrices {
    pub basic_sd: Price,
    pub basic_hd: Price,
    pub basic_uhd: Price,
    pub professional_sd: Price,
    pub professional_hd: Price,
    pub professional_uhd: Price,
    pub av1_sd: Price,
    pub av1_hd: Price,
    pub av1_uhd: Price,
}

impl MediaConvertPrices {
    /// Every price with its key, in the book's order.
    pub(crate) fn entries(&self) -> [(&'static str, &Price); 9] {
        [
            ("mediaconvert.basic_sd", &self.basic_sd),
            ("mediaconvert.basic_hd", &self.basic_hd),
            ("mediaconvert.basic_uhd", &self.basic_uhd),
            ("mediaconvert.professional_sd", &self.professional_sd),
            ("mediaconvert.professional_hd", &self.professional_hd),
            ("mediaconvert.professional_uhd", &self.professional_uhd),
            ("mediaconvert.av1_sd", &self.av1_sd),
            ("mediaconvert.av1_hd", &self.av1_hd),
            ("mediaconvert.av1_uhd", &self.av1_uhd),
        ]
    }
}

/// Object storage per GB-month, by class, and what reading the archive class back costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoragePrices {
    pub standard: Price,
    pub infrequent: Price,
    /// The class cold assets move to.
    pub archive: Price,
    /// Per GB read back from the archive class.
    pub archive_retrieval: Price,
}

/// CDN delivery per GB by monthly volume tier, and per request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryPrices {
    pub first_10tb: Price,
    pub next_40tb: Price,
    pub next_100tb: Price,
    pub next_350tb: Price,
    pub next_524tb: Price,
    pub next_4pb: Price,
    pub over_5pb: Price,
    /// Per 10 000 HTTPS requests.
    pub https_requests: Price,
}

/// The GB a month's volume tiers end at (decimal: 1 TB = 1000 GB), in order.
const TIER_ENDS_GB: [f64; 6] = [10e3, 50e3, 150e3, 500e3, 1024e3, 5024e3];

impl DeliveryPrices {
    /// Each volume tier: its key, where it ends (GB in the month; `None`: no end) and its
    /// price.
    pub fn tiers(&self) -> [(&'static str, Option<f64>, &Price); 7] {
        [
            (
                "cloudfront.first_10tb",
                Some(TIER_ENDS_GB[0]),
                &self.first_10tb,
            ),
            (
                "cloudfront.next_40tb",
                Some(TIER_ENDS_GB[1]),
                &self.next_40tb,
            ),
            (
                "cloudfront.next_100tb",
                Some(TIER_ENDS_GB[2]),
                &self.next_100tb,
            ),
            (
                "cloudfront.next_350tb",
                Some(TIER_ENDS_GB[3]),
                &self.next_350tb,
            ),
            (
                "cloudfront.next_524tb",
                Some(TIER_ENDS_GB[4]),
                &self.next_524tb,
            ),
            ("cloudfront.next_4pb", Some(TIER_ENDS_GB[5]), &self.next_4pb),
            ("cloudfront.over_5pb", None, &self.over_5pb),
        ]
    }

    /// What `gb` delivered in one month costs: each GB at the price of the tier it falls
    /// in, as the volume grows through them.
    pub fn transfer_usd(&self, gb: f64) -> f64 {
        let mut usd = 0.0;
        let mut start = 0.0;
        for (_, end, price) in self.tiers() {
            let end = end.unwrap_or(f64::INFINITY);
            if gb <= start {
                break;
            }
            usd += (gb.min(end) - start) * price.usd;
            start = end;
        }
        usd
    }
}

/// Packaging on request, per GB delivered to the CDN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackagingPrices {
    pub vod_packaging: Price,
}

/// The serverless workflow around each job and the metadata table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowPrices {
    pub lambda_requests: Price,
    pub lambda_gb_second: Price,
    pub step_functions_transitions: Price,
    pub dynamodb_writes: Price,
    pub dynamodb_reads: Price,
}

/// DRM licences from a multi-DRM service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrmPrices {
    pub licence: Price,
}

/// A whole price book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceBook {
    /// What the book prices ("AWS us-east-1, on demand").
    pub name: String,
    pub currency: String,
    pub mediaconvert: MediaConvertPrices,
    pub s3: StoragePrices,
    pub cloudfront: DeliveryPrices,
    pub mediapackage: PackagingPrices,
    pub workflow: WorkflowPrices,
    pub drm: DrmPrices,
}

/// The built-in book, compiled in.
const BUILT_IN: &str = include_str!("../prices/aws.toml");

impl PriceBook {
    /// The built-in book.
    pub fn built_in() -> PriceBook {
        // The built-in book is checked by a test; a broken one is a build defect.
        PriceBook::parse(BUILT_IN).expect("the built-in price book parses")
    }

    /// The book written in `text`, every price checked.
    pub fn parse(text: &str) -> Result<PriceBook> {
        let book: PriceBook = toml::from_str(text).map_err(|e| Error::Parse(e.to_string()))?;
        for (key, price) in book.entries() {
            if !(price.usd.is_finite() && price.usd >= 0.0) {
                return Err(Error::BadPrice {
                    key: key.to_string(),
                    value: price.usd,
                });
            }
        }
        Ok(book)
    }

    /// Every price with its key, in the book's order.
    pub fn entries(&self) -> Vec<(&'static str, &Price)> {
        let mut all = self.mediaconvert.entries().to_vec();
        all.extend([
            ("s3.standard", &self.s3.standard),
            ("s3.infrequent", &self.s3.infrequent),
            ("s3.archive", &self.s3.archive),
            ("s3.archive_retrieval", &self.s3.archive_retrieval),
        ]);
        all.extend(self.cloudfront.tiers().map(|(key, _, p)| (key, p)));
        let w = &self.workflow;
        all.extend([
            ("cloudfront.https_requests", &self.cloudfront.https_requests),
            (
                "mediapackage.vod_packaging",
                &self.mediapackage.vod_packaging,
            ),
            ("workflow.lambda_requests", &w.lambda_requests),
            ("workflow.lambda_gb_second", &w.lambda_gb_second),
            (
                "workflow.step_functions_transitions",
                &w.step_functions_transitions,
            ),
            ("workflow.dynamodb_writes", &w.dynamodb_writes),
            ("workflow.dynamodb_reads", &w.dynamodb_reads),
            ("drm.licence", &self.drm.licence),
        ]);
        all
    }

    /// The built-in book as text, to start a user's own from.
    pub fn built_in_text() -> &'static str {
        BUILT_IN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_book_parses_and_every_price_has_a_source_and_a_date() {
        let book = PriceBook::built_in();
        assert_eq!(book.currency, "USD");
        for (key, p) in book.entries() {
            assert!(!p.source.is_empty() && p.date.len() == 10, "{key}");
        }
        for (key, p) in book.mediaconvert.entries() {
            assert_eq!(p.per, "output minute", "{key}");
        }
        assert_eq!(book.s3.standard.per, "GB-month");
        assert_eq!(book.cloudfront.first_10tb.per, "GB");
        assert_eq!(book.mediaconvert.basic_hd.usd, 0.015);
        assert_eq!(book.mediaconvert.professional_hd.usd, 0.03);
        assert_eq!(book.entries().len(), 9 + 4 + 8 + 1 + 5 + 1);
    }

    #[test]
    fn delivery_is_priced_tier_by_tier() {
        let cf = PriceBook::built_in().cloudfront;
        assert_eq!(cf.transfer_usd(0.0), 0.0);
        assert!((cf.transfer_usd(1000.0) - 85.0).abs() < 1e-9);
        // 10 TB at 0.085, then 40 TB at 0.080.
        assert!((cf.transfer_usd(50e3) - (850.0 + 3200.0)).abs() < 1e-6);
        // Every tier through 5 PB, then 1 PB more at the last price.
        let through_5pb = 850.0 + 3200.0 + 6000.0 + 14_000.0 + 15_720.0 + 100_000.0;
        assert!((cf.transfer_usd(5024e3) - through_5pb).abs() < 1e-3);
        assert!((cf.transfer_usd(6024e3) - (through_5pb + 20_000.0)).abs() < 1e-3);
    }

    #[test]
    fn a_missing_or_negative_price_is_named() {
        let missing = BUILT_IN
            .lines()
            .filter(|l| !l.starts_with("professional_hd"))
            .collect::<Vec<_>>()
            .join("\n");
        let e = PriceBook::parse(&missing).unwrap_err().to_string();
        assert!(e.contains("professional_hd"), "{e}");
        let negative = BUILT_IN.replace("usd = 0.045,", "usd = -0.045,");
        let e = PriceBook::parse(&negative).unwrap_err().to_string();
        assert!(
            e.contains("mediaconvert.av1_hd") && e.contains("-0.045"),
            "{e}"
        );
        let negative = BUILT_IN.replace("usd = 0.023,", "usd = -0.023,");
        let e = PriceBook::parse(&negative).unwrap_err().to_string();
        assert!(e.contains("s3.standard"), "{e}");
        let e = PriceBook::parse(&BUILT_IN.replace("usd = 0.0005,", "usd = -1.0,"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("drm.licence"), "{e}");
        let missing = BUILT_IN
            .lines()
            .filter(|l| !l.starts_with("next_350tb"))
            .collect::<Vec<_>>()
            .join("\n");
        let e = PriceBook::parse(&missing).unwrap_err().to_string();
        assert!(e.contains("next_350tb"), "{e}");
        let nan = BUILT_IN.replace("usd = 0.045,", "usd = nan,");
        let e = PriceBook::parse(&nan).unwrap_err().to_string();
        assert!(e.contains("mediaconvert.av1_hd"), "{e}");
        let unknown = format!(
            "{BUILT_IN}\nbasic_8k = {{ usd = 1.0, per = \"x\", source = \"x\", date = \"x\" }}\n"
        );
        let e = PriceBook::parse(&unknown).unwrap_err().to_string();
        assert!(e.contains("basic_8k"), "{e}");
        assert!(PriceBook::parse("not toml [").is_err());
    }
}
