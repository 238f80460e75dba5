//! `[tiers]`: when assets not played lately move to the cold class, where cold objects
//! are kept, and what a request for a cold asset is told.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use openvod_store::{ColdStorageClass, Objects, TierSettings};
use serde::{Deserialize, Serialize};

/// Storage tiers. Ready assets not served for `cold_after_days` move (source and
/// outputs) to the cold class: `cold_root` on a local store (default `ROOT/cold`), the
/// S3 storage class `s3_storage_class` on S3 (default `GLACIER_IR`). A request for a
/// cold asset is answered 202 with `Retry-After: retry_after_seconds` while it is
/// restored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TiersSection {
    /// Days without a viewer before an asset moves cold; 0: never on its own (the API's
    /// `POST /v1/assets/{id}/archive` still moves one). Fractions are allowed.
    pub cold_after_days: f64,
    /// How often movers look for assets to archive.
    pub check_every_seconds: u64,
    /// A local store's cold folder; empty: `ROOT/cold`.
    pub cold_root: PathBuf,
    /// The storage class of cold objects on S3: `STANDARD_IA`, `ONEZONE_IA` or
    /// `GLACIER_IR` (classes that read back at once).
    pub s3_storage_class: ColdStorageClass,
    pub retry_after_seconds: u64,
    /// How long the hot copies of an archived asset stay, for answers already under way.
    pub grace_seconds: u64,
}

impl Default for TiersSection {
    fn default() -> Self {
        TiersSection {
            cold_after_days: 0.0,
            check_every_seconds: 3600,
            cold_root: PathBuf::new(),
            s3_storage_class: ColdStorageClass::default(),
            retry_after_seconds: 5,
            grace_seconds: 30,
        }
    }
}

impl TiersSection {
    /// The movers' settings, checked.
    pub fn settings(&self) -> Result<TierSettings> {
        let days = self.cold_after_days;
        if !(days.is_finite() && (0.0..=36_500.0).contains(&days)) {
            bail!("config: tiers.cold_after_days is {days}: a number of days from 0 to 36500");
        }
        if self.check_every_seconds == 0 {
            bail!("config: tiers.check_every_seconds must be at least 1");
        }
        Ok(TierSettings {
            cold_after: (days > 0.0).then(|| Duration::from_secs_f64(days * 86_400.0)),
            archive_every: Duration::from_secs(self.check_every_seconds),
            grace: Duration::from_secs(self.grace_seconds),
            ..TierSettings::default()
        })
    }

    /// The HTTP side's view of the tiers.
    pub fn server(&self) -> Result<openvod_server::tiers::TiersConfig> {
        Ok(openvod_server::tiers::TiersConfig {
            settings: self.settings()?,
            retry_after: Duration::from_secs(self.retry_after_seconds.clamp(1, 3600)),
        })
    }

    /// `objects` (a local store at `hot_root`, or S3) with its cold class placed as
    /// configured. A cold folder that is the hot one would have every archive remove its
    /// own copies: refused.
    pub fn place(&self, objects: Objects, hot_root: Option<&std::path::Path>) -> Result<Objects> {
        let objects = objects.with_cold_class(self.s3_storage_class);
        if self.cold_root.as_os_str().is_empty() {
            return Ok(objects);
        }
        if let Some(hot) = hot_root {
            std::fs::create_dir_all(&self.cold_root)
                .map_err(|e| anyhow::anyhow!("config: tiers.cold_root: {e}"))?;
            let same = |a: &std::path::Path, b: &std::path::Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b);
            if same(hot, &self.cold_root) {
                bail!(
                    "config: tiers.cold_root {} is the store's own folder: give the cold class a folder of its own",
                    self.cold_root.display()
                );
            }
        }
        objects
            .with_cold_root(&self.cold_root)
            .map_err(|e| anyhow::anyhow!("config: tiers.cold_root: {e}"))
    }
}
