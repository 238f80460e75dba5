//! Assets: one uploaded source and everything made from it.

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::db::{col, now_ms};
use crate::events::append_asset_event;
use crate::tasks::{insert_task, Stage};
use crate::tiers::StorageState;
use crate::{Db, Error, Result};

/// Where an asset is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AssetStatus {
    Queued,
    Processing,
    /// Still processing, and its preview is published: a player can start it.
    Playable,
    Ready,
    Failed,
    Cancelled,
}

impl AssetStatus {
    /// Every status, in the order an asset goes through them.
    pub const ALL: [AssetStatus; 6] = [
        AssetStatus::Queued,
        AssetStatus::Processing,
        AssetStatus::Playable,
        AssetStatus::Ready,
        AssetStatus::Failed,
        AssetStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AssetStatus::Queued => "queued",
            AssetStatus::Processing => "processing",
            AssetStatus::Playable => "playable",
            AssetStatus::Ready => "ready",
            AssetStatus::Failed => "failed",
            AssetStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<AssetStatus> {
        Some(match s {
            "queued" => AssetStatus::Queued,
            "processing" => AssetStatus::Processing,
            "playable" => AssetStatus::Playable,
            "ready" => AssetStatus::Ready,
            "failed" => AssetStatus::Failed,
            "cancelled" => AssetStatus::Cancelled,
            _ => return None,
        })
    }
}

/// An asset as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Asset {
    pub id: String,
    pub status: AssetStatus,
    pub stage: Option<Stage>,
    /// Percent done of the current stage's work, 0-100.
    pub progress: f64,
    pub source_key: String,
    pub source_name: Option<String>,
    pub source_size: Option<i64>,
    pub template: String,
    pub probe: Option<serde_json::Value>,
    pub renditions: Option<serde_json::Value>,
    pub output_prefix: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// "public" or "signed"; `None` takes the server's default.
    pub playback: Option<String>,
    /// What is wrong with the source but did not stop it: `{"code", "message"}` objects
    /// as the transcode stage recorded them; empty before it ran.
    pub warnings: Vec<serde_json::Value>,
    /// The per-title analysis and the ladder it chose, as the transcode stage recorded
    /// it; `None` for a fixed ladder or before that stage.
    pub ladder: Option<serde_json::Value>,
    /// The poster frame's time, ms, when set through the API; `None`: the frame chosen
    /// with the encode.
    pub poster_time_ms: Option<i64>,
    /// Where its objects are kept: hot, cold, or moving between the two.
    pub storage: StorageState,
    /// For a clip, the range of its parent it was made from (`{"of", "start", "end",
    /// "mode"}`, read by the pipeline); `None` for an asset made from an upload.
    pub clip: Option<serde_json::Value>,
    /// Seconds of the preview published so far; `None` before its first segment.
    pub preview_seconds: Option<f64>,
}

impl Asset {
    /// Where its preview is stored in the output location: beside its presentation, in
    /// the folder no rendition may take (see `openvod_pipeline`'s preview stage).
    pub fn preview_prefix(&self) -> String {
        format!("{}/out/preview", self.id)
    }
}

/// What creating an asset needs.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAsset {
    pub source_key: String,
    pub source_name: Option<String>,
    pub source_size: Option<i64>,
    pub template: String,
}

const COLUMNS: &str = "id, status, stage, progress, source_key, source_name, source_size, template, \
     probe, renditions, output_prefix, error_code, error_message, created_at, updated_at, started_at, finished_at, playback, warnings, ladder, poster_time_ms, storage, clip, preview_seconds";

fn json(text: Option<String>) -> Result<Option<serde_json::Value>> {
    Ok(match text {
        Some(t) => Some(serde_json::from_str(&t)?),
        None => None,
    })
}

fn asset_from(row: &AnyRow) -> Result<Asset> {
    let status: String = col(row, "status")?;
    let stage: Option<String> = col(row, "stage")?;
    Ok(Asset {
        id: col(row, "id")?,
        status: AssetStatus::parse(&status)
            .ok_or_else(|| Error::Conflict(format!("unknown asset status {status:?}")))?,
        stage: stage.as_deref().and_then(Stage::parse),
        progress: col(row, "progress")?,
        source_key: col(row, "source_key")?,
        source_name: col(row, "source_name")?,
        source_size: col(row, "source_size")?,
        template: col(row, "template")?,
        probe: json(col(row, "probe")?)?,
        renditions: json(col(row, "renditions")?)?,
        output_prefix: col(row, "output_prefix")?,
        error_code: col(row, "error_code")?,
        error_message: col(row, "error_message")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
        started_at: col(row, "started_at")?,
        finished_at: col(row, "finished_at")?,
        playback: col(row, "playback")?,
        warnings: match json(col(row, "warnings")?)? {
            Some(serde_json::Value::Array(items)) => items,
            Some(other) => {
                return Err(Error::Conflict(format!(
                    "asset warnings are not a list: {other}"
                )))
            }
            None => Vec::new(),
        },
        ladder: json(col(row, "ladder")?)?,
        poster_time_ms: col(row, "poster_time_ms")?,
        storage: {
            let storage: String = col(row, "storage")?;
            StorageState::parse(&storage)
                .ok_or_else(|| Error::Conflict(format!("unknown storage state {storage:?}")))?
        },
        clip: json(col(row, "clip")?)?,
        preview_seconds: col(row, "preview_seconds")?,
    })
}

/// A new identifier: a UUIDv7, so that identifiers sort by creation time.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Inserts a queued asset, its first task and its `asset.created` event.
async fn insert_new(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    new: &NewAsset,
    max_attempts: u32,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO assets (id, status, stage, progress, source_key, source_name, source_size, template, created_at, updated_at) \
         VALUES ($1, 'queued', $2, 0, $3, $4, $5, $6, $7, $7)",
    )
    .bind(id)
    .bind(Stage::FIRST.as_str())
    .bind(&new.source_key)
    .bind(&new.source_name)
    .bind(new.source_size)
    .bind(&new.template)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    insert_task(tx, id, Stage::FIRST, max_attempts, 0, now).await?;
    append_asset_event(tx, id, "asset.created", now).await
}

impl Db {
    /// Creates an asset with its first task and an `asset.created` event, in one
    /// transaction.
    pub async fn create_asset(&self, new: NewAsset, max_attempts: u32) -> Result<Asset> {
        let id = new_id();
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        insert_new(&mut tx, &id, &new, max_attempts, now).await?;
        tx.commit().await?;
        self.asset(&id)
            .await?
            .ok_or(Error::NotFound { what: "asset", id })
    }

    /// Creates a clip of `parent`: an asset of the same source and template, its probe
    /// taken from the parent, whose first task is the transcode stage (which cuts the
    /// parent's renditions as `clip` says), claimable by a worker that encodes `codecs`;
    /// with its `asset.created` event, in one transaction.
    pub async fn create_clip(
        &self,
        parent: &Asset,
        name: &str,
        clip: &serde_json::Value,
        codecs: i64,
        max_attempts: u32,
    ) -> Result<Asset> {
        let id = new_id();
        let now = now_ms();
        let probe = parent.probe.as_ref().map(serde_json::Value::to_string);
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO assets (id, status, stage, progress, source_key, source_name, source_size, template, probe, clip, playback, created_at, updated_at) \
             VALUES ($1, 'queued', $2, 0, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
        )
        .bind(&id)
        .bind(Stage::Transcode.as_str())
        .bind(&parent.source_key)
        .bind(name)
        // The source is the parent's: its bytes are counted there.
        .bind(None::<i64>)
        .bind(&parent.template)
        .bind(probe)
        .bind(clip.to_string())
        .bind(&parent.playback)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        insert_task(&mut tx, &id, Stage::Transcode, max_attempts, codecs, now).await?;
        append_asset_event(&mut tx, &id, "asset.created", now).await?;
        tx.commit().await?;
        self.asset(&id)
            .await?
            .ok_or(Error::NotFound { what: "asset", id })
    }

    /// Sets an asset's playback access ("public", "signed", or `None` for the default).
    pub async fn set_playback(&self, id: &str, playback: Option<&str>) -> Result<Asset> {
        let query = sqlx::query("UPDATE assets SET playback = $1, updated_at = $2 WHERE id = $3")
            .bind(playback.map(str::to_string));
        self.updated(id, query).await
    }

    /// Sets the time of an asset's poster frame (ms), or `None` for the frame chosen with
    /// the encode. The asset's version changes, so that caches take the new poster.
    pub async fn set_poster_time(&self, id: &str, poster_time_ms: Option<i64>) -> Result<Asset> {
        let query =
            sqlx::query("UPDATE assets SET poster_time_ms = $1, updated_at = $2 WHERE id = $3")
                .bind(poster_time_ms);
        self.updated(id, query).await
    }

    /// Claims the one change to `id`'s tracks that may be under way, until `until_ms`;
    /// `false` when another holds it, or when the asset is not hot (storage tiers: its
    /// objects are moving or cold). [`Db::end_tracks_edit`] gives it back.
    pub async fn begin_tracks_edit(&self, id: &str, until_ms: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE assets SET tracks_edit_until_ms = $1 WHERE id = $2 AND storage = 'hot' \
             AND (tracks_edit_until_ms IS NULL OR tracks_edit_until_ms < $3)",
        )
        .bind(until_ms)
        .bind(id)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends a change to `id`'s tracks.
    pub async fn end_tracks_edit(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE assets SET tracks_edit_until_ms = NULL WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a ready asset's renditions and warnings after its tracks changed. Its
    /// version (`updated_at`) moves forward by at least one, so that no cache keyed by it
    /// serves the manifests from before.
    pub async fn set_tracks(
        &self,
        id: &str,
        renditions: &serde_json::Value,
        warnings: &[serde_json::Value],
    ) -> Result<Asset> {
        let done = sqlx::query(
            "UPDATE assets SET renditions = $1, warnings = $2, \
             updated_at = CASE WHEN updated_at < $3 THEN $3 ELSE updated_at + 1 END \
             WHERE id = $4",
        )
        .bind(renditions.to_string())
        .bind(serde_json::Value::Array(warnings.to_vec()).to_string())
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        self.changed(id, done.rows_affected()).await
    }

    /// Runs `query` (an update of one asset's field as `$1`, whose `$2` and `$3` it
    /// leaves to bind: the time and the id) and returns the asset as it is now.
    async fn updated<'q>(
        &self,
        id: &'q str,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> Result<Asset> {
        let done = query.bind(now_ms()).bind(id).execute(&self.pool).await?;
        self.changed(id, done.rows_affected()).await
    }

    /// Asset `id` after an update that changed `rows` rows: none is a missing asset.
    async fn changed(&self, id: &str, rows: u64) -> Result<Asset> {
        if rows == 0 {
            return Err(Error::NotFound {
                what: "asset",
                id: id.to_string(),
            });
        }
        self.asset(id).await?.ok_or(Error::NotFound {
            what: "asset",
            id: id.to_string(),
        })
    }

    /// Records the single use of an upload token; `false` when it was used before.
    pub async fn use_upload_token(&self, token_id: &str, upload_id: Option<&str>) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO upload_token_uses (token_id, upload_id, used_at) VALUES ($1, $2, $3) \
             ON CONFLICT (token_id) DO NOTHING",
        )
        .bind(token_id)
        .bind(upload_id.map(str::to_string))
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records which upload a spent upload token created.
    pub async fn bind_upload_token(&self, token_id: &str, upload_id: &str) -> Result<()> {
        sqlx::query("UPDATE upload_token_uses SET upload_id = $1 WHERE token_id = $2")
            .bind(upload_id)
            .bind(token_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The upload an upload token created, if it was used for one.
    pub async fn upload_of_token(&self, token_id: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT upload_id FROM upload_token_uses WHERE token_id = $1")
            .bind(token_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => col(&r, "upload_id")?,
            None => None,
        })
    }

    /// One asset.
    pub async fn asset(&self, id: &str) -> Result<Option<Asset>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM assets WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(asset_from).transpose()
    }

    /// Assets newest first, optionally of one status, `limit` at a time after the asset
    /// `before` (an id from the previous page).
    pub async fn list_assets(
        &self,
        status: Option<AssetStatus>,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Asset>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM assets WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR id < $2) \
             ORDER BY id DESC LIMIT $3"
        ))
        .bind(status.map(AssetStatus::as_str))
        .bind(before)
        .bind(i64::from(limit.clamp(1, 1000)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(asset_from).collect()
    }

    /// Records progress of the running stage; no event (progress events are rate-limited
    /// by the caller).
    pub async fn set_progress(&self, id: &str, progress: f64) -> Result<()> {
        sqlx::query("UPDATE assets SET progress = $1, updated_at = $2 WHERE id = $3 AND status IN ('processing', 'playable')")
            .bind(progress.clamp(0.0, 100.0))
            .bind(now_ms())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes an asset, its tasks and its import record. The caller removes its objects.
    pub async fn delete_asset(&self, id: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM tasks WHERE asset_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM imports WHERE asset_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query("DELETE FROM assets WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if n.rows_affected() > 0 {
            append_asset_event(&mut tx, id, "asset.deleted", now_ms()).await?;
        }
        tx.commit().await?;
        Ok(n.rows_affected() > 0)
    }

    /// Counts of assets by status, for metrics.
    pub async fn count_assets_by_status(&self) -> Result<Vec<(AssetStatus, i64)>> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM assets GROUP BY status")
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::new();
        for row in &rows {
            let status: String = col(row, "status")?;
            if let Some(s) = AssetStatus::parse(&status) {
                out.push((s, col(row, "n")?));
            }
        }
        Ok(out)
    }

    /// Records that the source object `source_key` was imported as a new asset, exactly
    /// once: returns `None` when it already was.
    pub async fn import_source(&self, new: NewAsset, max_attempts: u32) -> Result<Option<Asset>> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let id = new_id();
        let claimed = sqlx::query(
            "INSERT INTO imports (source_key, asset_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (source_key) DO NOTHING",
        )
        .bind(&new.source_key)
        .bind(&id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            return Ok(None);
        }
        insert_new(&mut tx, &id, &new, max_attempts, now).await?;
        tx.commit().await?;
        self.asset(&id).await
    }
}
