//! The event outbox: every state change appends an event in the same transaction, and
//! the event stream and webhook deliveries read it in order, from any process.

use serde::Serialize;

use crate::db::col;
use crate::{Db, Result};

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub seq: i64,
    pub asset_id: Option<String>,
    pub kind: String,
    pub payload: serde_json::Value,
    pub created_at: i64,
}

pub(crate) async fn append_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    asset_id: Option<&str>,
    kind: &str,
    payload: &serde_json::Value,
    now: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO events (asset_id, kind, payload, created_at) VALUES ($1, $2, $3, $4)")
        .bind(asset_id)
        .bind(kind)
        .bind(payload.to_string())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Appends an event of `kind` about asset `id` whose payload is the id alone.
pub(crate) async fn append_asset_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    kind: &str,
    now: i64,
) -> Result<()> {
    append_event(tx, Some(id), kind, &serde_json::json!({ "id": id }), now).await
}

impl Db {
    /// Appends an event outside any other change (progress reports).
    pub async fn append_event(
        &self,
        asset_id: Option<&str>,
        kind: &str,
        payload: &serde_json::Value,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        append_event(&mut tx, asset_id, kind, payload, crate::now_ms()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Events after `seq`, oldest first, at most `limit`.
    pub async fn events_after(&self, seq: i64, limit: u32) -> Result<Vec<Event>> {
        let rows = sqlx::query(
            "SELECT seq, asset_id, kind, payload, created_at FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(seq)
        .bind(i64::from(limit.clamp(1, 10_000)))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let payload: String = col(row, "payload")?;
            out.push(Event {
                seq: col(row, "seq")?,
                asset_id: col(row, "asset_id")?,
                kind: col(row, "kind")?,
                payload: serde_json::from_str(&payload)?,
                created_at: col(row, "created_at")?,
            });
        }
        Ok(out)
    }

    /// The newest event's sequence number (0 when there is none).
    pub async fn last_event_seq(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS n FROM events")
            .fetch_one(&self.pool)
            .await?;
        col(&row, "n")
    }
}
