//! The cost model: a price book as data ([`PriceBook`]), and what a job would cost on the
//! AWS reference architecture ([`encode`]: a MediaConvert transcode, priced rung by rung
//! at the tier each rung falls in), and what one asset really cost ([`asset`]: the work
//! and bytes recorded, at the operator's rates and on AWS), and a platform's month
//! ([`platform`]). Pure: the binary reads the files and prints.

pub mod asset;
pub mod encode;
pub mod job;
pub mod platform;
mod price_book;

pub use asset::{AssetCost, AwsCost, OwnCost, OwnRates, ProcessingUsage, StorageClass};
pub use encode::{template_rungs, Definition, EncodeEstimate, OutputRung, RungCost, Tier};
pub use job::PricedJob;
pub use platform::{LadderRates, PlatformAssumptions, PlatformBill, Scenario};
pub use price_book::{
    DeliveryPrices, DrmPrices, MediaConvertPrices, PackagingPrices, Price, PriceBook,
    StoragePrices, WorkflowPrices,
};

/// What can go wrong reading a price book or a rung.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The price book is not the TOML it should be (a missing price is named here).
    #[error("price book: {0}")]
    Parse(String),
    /// A price that cannot be: negative, or not a number.
    #[error("price book: {key} is {value}: a price is a finite number of at least 0")]
    BadPrice { key: String, value: f64 },
    /// A rung that does not read as `CODEC:HEIGHTp[@FPS]`.
    #[error("rung {rung:?}: {reason}")]
    Rung { rung: String, reason: String },
    /// A platform's assumption out of bounds, named.
    #[error("{0}")]
    Assumption(String),
    /// A number of minutes that cannot be priced.
    #[error("{0} minutes: the length is a finite number above 0, at most 100000")]
    Minutes(f64),
}

pub type Result<T> = std::result::Result<T, Error>;
