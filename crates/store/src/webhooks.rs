//! Webhooks: subscriptions, and the deliveries fanned out from the event outbox.
//!
//! Fan-out moves a cursor over the outbox and inserts one delivery per event and
//! matching webhook (unique per pair, so two processes fanning out at once cannot
//! duplicate one). Deliveries are claimed like tasks, with a short lease.

use std::time::Duration;

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::assets::new_id;
use crate::db::{col, now_ms};
use crate::{Backend, Db, Error, Result};

/// A subscription.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    /// Signs every delivery (see the README); shown once, when created.
    #[serde(skip)]
    pub secret: String,
    /// Event kinds, or `["*"]`.
    pub events: Vec<String>,
    pub created_at: i64,
}

/// One delivery of one event to one webhook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    pub id: String,
    pub webhook_id: String,
    pub event_seq: i64,
    pub kind: String,
    pub payload: serde_json::Value,
    /// "pending", "delivered" or "failed".
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A claimed delivery with where and how to send it.
#[derive(Debug, Clone, PartialEq)]
pub struct DueDelivery {
    pub delivery: Delivery,
    pub url: String,
    pub secret: String,
}

fn webhook_from(row: &AnyRow) -> Result<Webhook> {
    let events: String = col(row, "events")?;
    Ok(Webhook {
        id: col(row, "id")?,
        url: col(row, "url")?,
        secret: col(row, "secret")?,
        events: events.split(',').map(str::to_string).collect(),
        created_at: col(row, "created_at")?,
    })
}

fn delivery_from(row: &AnyRow) -> Result<Delivery> {
    let payload: String = col(row, "payload")?;
    Ok(Delivery {
        id: col(row, "id")?,
        webhook_id: col(row, "webhook_id")?,
        event_seq: col(row, "event_seq")?,
        kind: col(row, "kind")?,
        payload: serde_json::from_str(&payload)?,
        status: col(row, "status")?,
        attempts: col(row, "attempts")?,
        next_attempt_at: col(row, "next_attempt_at")?,
        last_status: col(row, "last_status")?,
        last_error: col(row, "last_error")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

const DELIVERY_COLUMNS: &str =
    "id, webhook_id, event_seq, kind, payload, status, attempts, next_attempt_at, \
     last_status, last_error, created_at, updated_at";

impl Db {
    /// Registers a webhook for `events` (kinds, or "*").
    pub async fn create_webhook(
        &self,
        url: &str,
        secret: &str,
        events: &[String],
    ) -> Result<Webhook> {
        let id = new_id();
        let now = now_ms();
        sqlx::query("INSERT INTO webhooks (id, url, secret, events, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&id)
            .bind(url)
            .bind(secret)
            .bind(events.join(","))
            .bind(now)
            .execute(&self.pool)
            .await?;
        // Deliveries start with the events after now.
        let seq = self.last_event_seq().await?;
        sqlx::query(
            "INSERT INTO cursors (name, seq) VALUES ('webhooks', $1) ON CONFLICT (name) DO NOTHING",
        )
        .bind(seq)
        .execute(&self.pool)
        .await?;
        Ok(Webhook {
            id,
            url: url.into(),
            secret: secret.into(),
            events: events.to_vec(),
            created_at: now,
        })
    }

    pub async fn webhooks(&self) -> Result<Vec<Webhook>> {
        let rows =
            sqlx::query("SELECT id, url, secret, events, created_at FROM webhooks ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(webhook_from).collect()
    }

    /// A webhook by its URL, for webhooks given in the configuration.
    pub async fn webhook_by_url(&self, url: &str) -> Result<Option<Webhook>> {
        let row =
            sqlx::query("SELECT id, url, secret, events, created_at FROM webhooks WHERE url = $1")
                .bind(url)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(webhook_from).transpose()
    }

    pub async fn delete_webhook(&self, id: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n.rows_affected() == 1)
    }

    /// The delivery log of a webhook, newest first.
    pub async fn deliveries(&self, webhook_id: &str, limit: u32) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY event_seq DESC LIMIT $2"
        ))
        .bind(webhook_id)
        .bind(i64::from(limit.clamp(1, 1000)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery_from).collect()
    }

    /// Creates the deliveries of up to `limit` new events; returns how many events it
    /// consumed.
    pub async fn fan_out_webhooks(&self, limit: u32) -> Result<usize> {
        let row = sqlx::query("SELECT seq FROM cursors WHERE name = 'webhooks'")
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(0) };
        let from: i64 = col(&row, "seq")?;
        let events = self.events_after(from, limit).await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            return Ok(0);
        };
        let hooks = self.webhooks().await?;
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        // Compare-and-set: only one fan-out moves the cursor over these events.
        let moved = sqlx::query("UPDATE cursors SET seq = $1 WHERE name = 'webhooks' AND seq = $2")
            .bind(last)
            .bind(from)
            .execute(&mut *tx)
            .await?;
        if moved.rows_affected() != 1 {
            return Ok(0);
        }
        for e in &events {
            for h in hooks
                .iter()
                .filter(|h| h.events.iter().any(|k| k == "*" || k == &e.kind))
            {
                sqlx::query(
                    "INSERT INTO webhook_deliveries (id, webhook_id, event_seq, kind, payload, status, attempts, next_attempt_at, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6, $6) ON CONFLICT (webhook_id, event_seq) DO NOTHING",
                )
                .bind(new_id())
                .bind(&h.id)
                .bind(e.seq)
                .bind(&e.kind)
                .bind(e.payload.to_string())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(events.len())
    }

    /// Claims the next due delivery for `lease` (a sender that dies leaves it to be sent
    /// again when the lease ends).
    pub async fn claim_delivery(&self, lease: Duration) -> Result<Option<DueDelivery>> {
        let now = now_ms();
        let lock = match self.backend() {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let row = sqlx::query(&format!(
            "UPDATE webhook_deliveries SET next_attempt_at = $1, attempts = attempts + 1, updated_at = $2 \
             WHERE id = (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $2 \
                         ORDER BY next_attempt_at, event_seq LIMIT 1 {lock}) \
             RETURNING {DELIVERY_COLUMNS}"
        ))
        .bind(now + i64::try_from(lease.as_millis()).unwrap_or(60_000))
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let delivery = delivery_from(&row)?;
        let hook =
            sqlx::query("SELECT id, url, secret, events, created_at FROM webhooks WHERE id = $1")
                .bind(&delivery.webhook_id)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| Error::NotFound {
                    what: "webhook",
                    id: delivery.webhook_id.clone(),
                })?;
        let hook = webhook_from(&hook)?;
        Ok(Some(DueDelivery {
            delivery,
            url: hook.url,
            secret: hook.secret,
        }))
    }

    /// Records an attempt: delivered, to be retried at `retry_at`, or failed for good.
    pub async fn record_delivery(
        &self,
        id: &str,
        delivered: bool,
        http_status: Option<u16>,
        error: Option<&str>,
        retry_at: Option<i64>,
    ) -> Result<()> {
        let status = match (delivered, retry_at) {
            (true, _) => "delivered",
            (false, Some(_)) => "pending",
            (false, None) => "failed",
        };
        sqlx::query(
            "UPDATE webhook_deliveries SET status = $1, last_status = $2, last_error = $3, next_attempt_at = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(status)
        .bind(http_status.map(i64::from))
        .bind(error)
        .bind(retry_at.unwrap_or(0))
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
