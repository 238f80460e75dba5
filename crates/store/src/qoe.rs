//! Viewers' sessions per asset, as each origin saw them (written whole, read back to be
//! merged and summarised by the caller).

use crate::db::col;
use crate::{Db, Result};

/// One session as one origin saw it. `figures` is the caller's own encoding (JSON); the
/// store does not read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QoeSessionRow {
    pub asset_id: String,
    pub session_id: String,
    pub origin_id: String,
    pub first_ms: i64,
    pub last_ms: i64,
    pub figures: String,
}

impl Db {
    /// Writes each row whole (replacing that origin's earlier row of the session), in one
    /// transaction. Rows of an asset deleted since are skipped.
    pub async fn put_qoe_sessions(&self, rows: &[QoeSessionRow]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for r in rows {
            sqlx::query(
                "INSERT INTO qoe_sessions (asset_id, session_id, origin_id, first_ms, last_ms, figures) \
                 SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM assets WHERE id = $1) \
                 ON CONFLICT (asset_id, session_id, origin_id) DO UPDATE SET \
                 first_ms = $4, last_ms = $5, figures = $6",
            )
            .bind(&r.asset_id)
            .bind(&r.session_id)
            .bind(&r.origin_id)
            .bind(r.first_ms)
            .bind(r.last_ms)
            .bind(&r.figures)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The rows of `asset`'s sessions that began at or after `since_ms`, newest first, at
    /// most `limit`.
    pub async fn qoe_sessions(
        &self,
        asset: &str,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<QoeSessionRow>> {
        let rows = sqlx::query(
            "SELECT asset_id, session_id, origin_id, first_ms, last_ms, figures FROM qoe_sessions \
             WHERE asset_id = $1 AND first_ms >= $2 ORDER BY first_ms DESC LIMIT $3",
        )
        .bind(asset)
        .bind(since_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(QoeSessionRow {
                    asset_id: col(row, "asset_id")?,
                    session_id: col(row, "session_id")?,
                    origin_id: col(row, "origin_id")?,
                    first_ms: col(row, "first_ms")?,
                    last_ms: col(row, "last_ms")?,
                    figures: col(row, "figures")?,
                })
            })
            .collect()
    }

    /// Deletes the sessions last active before `before_ms`; returns how many rows went.
    pub async fn drop_qoe_before(&self, before_ms: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM qoe_sessions WHERE last_ms < $1")
            .bind(before_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
