//! What the origin serves of each asset, counted in memory and added to the database
//! in batches (one write per asset every few seconds, not one per segment).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openvod_store::{Db, ServedUsage};

/// How often the counts go to the database.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);

/// Served bytes and requests per asset since the last flush. The keys are ids of ready
/// assets the origin answered for, so the map holds at most one entry per such asset.
#[derive(Clone, Default)]
pub struct ServedMeter {
    pending: Arc<Mutex<HashMap<String, ServedUsage>>>,
}

impl ServedMeter {
    /// Counts one answer of `bytes` body bytes for `asset`.
    pub(crate) fn record(&self, asset: &str, bytes: u64, shield_hit: bool) {
        if let Ok(mut pending) = self.pending.lock() {
            let one = ServedUsage {
                bytes,
                requests: 1,
                shield_hits: u64::from(shield_hit),
            };
            add(pending.entry(asset.to_string()).or_default(), one);
        }
    }

    /// Adds what was counted to the database. On failure the counts are kept for the
    /// next flush, added to what comes in meanwhile.
    pub async fn flush(&self, db: &Db) -> Result<usize, openvod_store::Error> {
        let batch: Vec<(String, ServedUsage)> = match self.pending.lock() {
            Ok(mut pending) => pending.drain().collect(),
            Err(_) => return Ok(0),
        };
        if batch.is_empty() {
            return Ok(0);
        }
        match db.add_served(&batch).await {
            Ok(()) => Ok(batch.len()),
            Err(e) => {
                if let Ok(mut pending) = self.pending.lock() {
                    for (asset, s) in batch {
                        add(pending.entry(asset).or_default(), s);
                    }
                }
                Err(e)
            }
        }
    }

    /// Flushes every [`FLUSH_EVERY`] until `stop` resolves, then once more.
    pub async fn run(&self, db: Db, stop: impl std::future::Future<Output = ()>) {
        flush_until("served bytes", stop, || self.flush(&db)).await
    }
}

/// Runs `flush` every [`FLUSH_EVERY`] until `stop` resolves, then once more; a failure is
/// logged under `what` (what failed stays for the next flush).
pub(crate) async fn flush_until<F, T>(
    what: &str,
    stop: impl std::future::Future<Output = ()>,
    mut flush: impl FnMut() -> F,
) where
    F: std::future::Future<Output = Result<T, openvod_store::Error>>,
{
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(FLUSH_EVERY) => {}
        }
        if let Err(e) = flush().await {
            tracing::warn!(error = %e, "{what}: kept for the next flush");
        }
    }
    if let Err(e) = flush().await {
        tracing::warn!(error = %e, "{what}: lost at shutdown");
    }
}

fn add(total: &mut ServedUsage, more: ServedUsage) {
    total.bytes = total.bytes.saturating_add(more.bytes);
    total.requests = total.requests.saturating_add(more.requests);
    total.shield_hits = total.shield_hits.saturating_add(more.shield_hits);
}
