//! A transcode priced before it runs: its CPU time, measured on excerpts of the source
//! (`openvod_transcode::estimate`), at the operator's rate, beside MediaConvert for the
//! same outputs.

use openvod_transcode::estimate::JobEstimate;
use serde::Serialize;

use crate::{EncodeEstimate, OutputRung, OwnRates, PriceBook, Result};

/// A measured transcode, priced both ways.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PricedJob {
    pub estimate: JobEstimate,
    /// The encode on openvod: its CPU time at `vcpu_hour_usd`.
    pub openvod_usd: f64,
    pub vcpu_hour_usd: f64,
    /// The same video outputs on MediaConvert.
    pub mediaconvert: EncodeEstimate,
}

impl PricedJob {
    pub fn new(estimate: JobEstimate, rates: &OwnRates, book: &PriceBook) -> Result<PricedJob> {
        let mediaconvert = EncodeEstimate::new(
            book,
            estimate.duration / 60.0,
            &OutputRung::of_plan(&estimate.plan),
        )?;
        Ok(PricedJob {
            openvod_usd: estimate.cpu_seconds / 3600.0 * rates.vcpu_hour_usd,
            vcpu_hour_usd: rates.vcpu_hour_usd,
            estimate,
            mediaconvert,
        })
    }
}
