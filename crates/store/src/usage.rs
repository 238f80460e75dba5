//! What the origin served of each asset, added to in batches.

use serde::Serialize;

use crate::db::{col, now_ms};
use crate::{Db, Result};

/// What the origin served of one asset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ServedUsage {
    /// Body bytes of the 200 and 206 answers to GET (as their Content-Length said).
    pub bytes: u64,
    pub requests: u64,
    /// Of those requests, the ones the shield answered from memory.
    pub shield_hits: u64,
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Db {
    /// Adds each `(asset, served)` to the asset's totals, in one transaction. An asset
    /// deleted since is skipped.
    pub async fn add_served(&self, batch: &[(String, ServedUsage)]) -> Result<()> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        for (asset, served) in batch {
            sqlx::query(
                "INSERT INTO asset_usage (asset_id, served_bytes, served_requests, shield_hits, updated_at) \
                 SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM assets WHERE id = $1) \
                 ON CONFLICT (asset_id) DO UPDATE SET \
                 served_bytes = asset_usage.served_bytes + $2, \
                 served_requests = asset_usage.served_requests + $3, \
                 shield_hits = asset_usage.shield_hits + $4, updated_at = $5",
            )
            .bind(asset)
            .bind(to_i64(served.bytes))
            .bind(to_i64(served.requests))
            .bind(to_i64(served.shield_hits))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// What the origin served of `asset` so far (zeros when nothing).
    pub async fn served(&self, asset: &str) -> Result<ServedUsage> {
        let row = sqlx::query(
            "SELECT served_bytes, served_requests, shield_hits FROM asset_usage WHERE asset_id = $1",
        )
        .bind(asset)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(ServedUsage::default());
        };
        let n = |name: &str| -> Result<u64> { Ok(col::<i64>(&row, name)?.max(0) as u64) };
        Ok(ServedUsage {
            bytes: n("served_bytes")?,
            requests: n("served_requests")?,
            shield_hits: n("shield_hits")?,
        })
    }
}
