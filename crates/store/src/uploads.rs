//! Resumable uploads (tus 1.0): how much of each upload has arrived, and where.

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::assets::new_id;
use crate::db::{col, now_ms};
use crate::{Db, Result};

/// An upload in progress (or finished, with its asset).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Upload {
    pub id: String,
    /// Total bytes announced at creation.
    pub length: i64,
    /// Bytes received and stored so far.
    pub received: i64,
    /// Keys of the stored parts, in order.
    pub parts: Vec<String>,
    pub name: Option<String>,
    pub template: String,
    pub asset_id: Option<String>,
    pub expires_at: i64,
}

const COLUMNS: &str = "id, length, received, parts, name, template, asset_id, expires_at";

fn upload_from(row: &AnyRow) -> Result<Upload> {
    let parts: String = col(row, "parts")?;
    Ok(Upload {
        id: col(row, "id")?,
        length: col(row, "length")?,
        received: col(row, "received")?,
        parts: serde_json::from_str(&parts)?,
        name: col(row, "name")?,
        template: col(row, "template")?,
        asset_id: col(row, "asset_id")?,
        expires_at: col(row, "expires_at")?,
    })
}

impl Db {
    pub async fn create_upload(
        &self,
        length: i64,
        name: Option<&str>,
        template: &str,
        expires_at: i64,
    ) -> Result<Upload> {
        let id = new_id();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO uploads (id, length, received, parts, name, template, expires_at, created_at, updated_at) \
             VALUES ($1, $2, 0, '[]', $3, $4, $5, $6, $6)",
        )
        .bind(&id)
        .bind(length)
        .bind(name)
        .bind(template)
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(Upload {
            id,
            length,
            received: 0,
            parts: Vec::new(),
            name: name.map(str::to_string),
            template: template.to_string(),
            asset_id: None,
            expires_at,
        })
    }

    pub async fn upload(&self, id: &str) -> Result<Option<Upload>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM uploads WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(upload_from).transpose()
    }

    /// Appends a stored part, only if nothing else was appended since `expected_received`
    /// (compare-and-set); returns whether it was appended.
    pub async fn append_upload_part(
        &self,
        id: &str,
        expected_received: i64,
        part_key: &str,
        part_len: i64,
        expires_at: i64,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let Some(row) = sqlx::query(&format!("SELECT {COLUMNS} FROM uploads WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(false);
        };
        let mut upload = upload_from(&row)?;
        if upload.received != expected_received {
            return Ok(false);
        }
        upload.parts.push(part_key.to_string());
        let n = sqlx::query(
            "UPDATE uploads SET received = $1, parts = $2, expires_at = $3, updated_at = $4 WHERE id = $5 AND received = $6",
        )
        .bind(expected_received + part_len)
        .bind(serde_json::to_string(&upload.parts)?)
        .bind(expires_at)
        .bind(now_ms())
        .bind(id)
        .bind(expected_received)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(n.rows_affected() == 1)
    }

    /// Records the asset a finished upload became.
    pub async fn finish_upload(&self, id: &str, asset_id: &str) -> Result<()> {
        sqlx::query(
            "UPDATE uploads SET asset_id = $1, parts = '[]', updated_at = $2 WHERE id = $3",
        )
        .bind(asset_id)
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_upload(&self, id: &str) -> Result<bool> {
        let n = sqlx::query("DELETE FROM uploads WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(n.rows_affected() == 1)
    }

    /// Unfinished uploads whose expiry has passed, for removal.
    pub async fn expired_uploads(&self, now: i64) -> Result<Vec<Upload>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM uploads WHERE expires_at < $1 AND asset_id IS NULL LIMIT 100"
        ))
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(upload_from).collect()
    }
}
