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

/// Object storage per GB-month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoragePrices {
    pub standard: Price,
}

/// CDN delivery per GB.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryPrices {
    pub first_10tb: Price,
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
        all.push(("s3.standard", &self.s3.standard));
        all.push(("cloudfront.first_10tb", &self.cloudfront.first_10tb));
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
