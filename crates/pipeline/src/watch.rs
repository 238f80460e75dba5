//! Watch import: objects that appear under a prefix of the source location become assets,
//! each exactly once. This is the S3-event path of the reference architecture done by
//! listing, so that it works on every store (a local folder included).

use std::time::Duration;

use openvod_store::{Db, NewAsset, Objects};

/// What to watch.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchConfig {
    /// Prefix in the source location, e.g. "watch".
    pub prefix: String,
    /// Objects younger than this are left for the next pass: a file still being copied
    /// into a folder must not be imported half-written.
    pub settle: Duration,
    /// Template of the imported assets.
    pub template: String,
    pub max_attempts: u32,
}

/// Imports the objects under the prefix that are not yet assets; returns how many.
pub async fn import_new(
    db: &Db,
    objects: &Objects,
    config: &WatchConfig,
) -> Result<usize, openvod_store::Error> {
    let now = openvod_store::now_ms();
    let settle = i64::try_from(config.settle.as_millis()).unwrap_or(i64::MAX);
    let mut imported = 0;
    for (key, meta) in objects.sources.list(&config.prefix).await? {
        if meta.size == 0 || now - meta.last_modified.timestamp_millis() < settle {
            continue;
        }
        let name = key.rsplit('/').next().map(str::to_string);
        let new = NewAsset {
            source_key: key,
            source_name: name,
            source_size: i64::try_from(meta.size).ok(),
            template: config.template.clone(),
        };
        if db.import_source(new, config.max_attempts).await?.is_some() {
            imported += 1;
        }
    }
    Ok(imported)
}
