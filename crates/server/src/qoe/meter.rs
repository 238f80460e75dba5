//! Viewers' sessions as this origin sees them, kept in memory and written to the
//! database every few seconds.
//!
//! Each origin writes its own row per session, whole (`SessionFigures` as JSON), so a
//! write that is retried or repeated changes nothing, and origins never add to each
//! other's counts; the API merges a session's rows when it reads them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use openvod_qoe::{Cmcd, PlayerReport, Requested, SessionFigures, SessionId};
use openvod_store::{Db, QoeSessionRow};

/// Most sessions one origin follows at once; a new session beyond it is not followed
/// (its requests are still served and still counted in the metrics).
pub const MAX_LIVE: usize = 50_000;
/// A session quiet this long (and written) is forgotten by the origin; its row stays.
const FORGET_AFTER_MS: u64 = 10 * 60_000;
/// Sessions are kept in the database this long after their last request.
pub const RETAIN_MS: u64 = 30 * 86_400_000;

struct LiveSession {
    figures: SessionFigures,
    /// Changed since it was last written.
    dirty: bool,
    /// Its startup went into the metrics already.
    startup_seen: bool,
}

#[derive(Default)]
struct Live {
    sessions: HashMap<(String, SessionId), LiveSession>,
    last_retention_ms: u64,
}

/// The sessions this origin follows.
#[derive(Clone)]
pub struct QoeMeter {
    /// Names this process's rows (one per session per origin process).
    origin_id: Arc<str>,
    live: Arc<Mutex<Live>>,
    /// Players' reports per client address.
    pub(crate) reports: super::limit::ReportLimiter,
}

impl Default for QoeMeter {
    fn default() -> Self {
        QoeMeter {
            origin_id: uuid::Uuid::new_v4().simple().to_string().into(),
            live: Arc::default(),
            reports: super::limit::ReportLimiter::default(),
        }
    }
}

impl QoeMeter {
    /// Counts one request of `asset` that carried CMCD. `answered` is false when the
    /// origin answered with an error; an error never opens a session (a request that
    /// was refused, or named no such object, says nothing of a viewer's playback), but it
    /// counts in a session already followed.
    pub(crate) fn record_request(
        &self,
        asset: &str,
        requested: Requested,
        answered: bool,
        cmcd: &Cmcd,
        now_ms: u64,
    ) {
        metrics::counter!("openvod_cmcd_requests_total", "result" => "read").increment(1);
        if answered {
            request_metrics(requested, cmcd);
        }
        let Some(sid) = &cmcd.session else {
            return;
        };
        self.update(asset, sid, answered, |f| {
            f.record_request(now_ms, requested, answered, cmcd)
        });
    }

    /// Counts a player's own report on its session.
    pub(crate) fn record_report(
        &self,
        asset: &str,
        sid: &SessionId,
        report: &PlayerReport,
        now_ms: u64,
    ) {
        self.update(asset, sid, true, |f| f.record_report(now_ms, report));
    }

    fn update(
        &self,
        asset: &str,
        sid: &SessionId,
        may_open: bool,
        fold: impl FnOnce(&mut SessionFigures),
    ) {
        let Ok(mut live) = self.live.lock() else {
            return;
        };
        let full = live.sessions.len() >= MAX_LIVE;
        let key = (asset.to_owned(), sid.clone());
        let session = match live.sessions.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                if !may_open {
                    return;
                }
                if full {
                    metrics::counter!("openvod_qoe_sessions_dropped_total").increment(1);
                    return;
                }
                metrics::counter!("openvod_qoe_sessions_total").increment(1);
                e.insert(LiveSession {
                    figures: SessionFigures::default(),
                    dirty: false,
                    startup_seen: false,
                })
            }
        };
        let before = session.figures.rebuffers();
        fold(&mut session.figures);
        session.dirty = true;
        let f = &session.figures;
        if f.rebuffers() > before {
            metrics::counter!("openvod_qoe_rebuffers_total")
                .increment(u64::from(f.rebuffers() - before));
        }
        if !session.startup_seen {
            if let Some(ms) = f.startup() {
                session.startup_seen = true;
                metrics::histogram!("openvod_qoe_startup_seconds").record(ms as f64 / 1000.0);
            }
        }
    }

    /// Writes the sessions that changed. On failure they stay marked for the next flush.
    pub async fn flush(&self, db: &Db, now_ms: u64) -> Result<usize, openvod_store::Error> {
        let (rows, retention_due) = {
            let Ok(mut live) = self.live.lock() else {
                return Ok(0);
            };
            let mut rows = Vec::new();
            for ((asset, sid), s) in live.sessions.iter_mut().filter(|(_, s)| s.dirty) {
                s.dirty = false;
                let Ok(figures) = serde_json::to_string(&s.figures) else {
                    continue;
                };
                rows.push(QoeSessionRow {
                    asset_id: asset.clone(),
                    session_id: sid.to_string(),
                    origin_id: self.origin_id.to_string(),
                    first_ms: to_i64(s.figures.first_ms),
                    last_ms: to_i64(s.figures.last_ms),
                    figures,
                });
            }
            live.sessions.retain(|_, s| {
                s.dirty || now_ms.saturating_sub(s.figures.last_ms) < FORGET_AFTER_MS
            });
            let due = now_ms.saturating_sub(live.last_retention_ms) >= 3_600_000;
            if due {
                live.last_retention_ms = now_ms;
            }
            (rows, due)
        };
        if retention_due {
            match db
                .drop_qoe_before(to_i64(now_ms.saturating_sub(RETAIN_MS)))
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "viewer sessions past retention"),
                Err(e) => tracing::warn!(error = %e, "viewer sessions past retention"),
            }
        }
        if rows.is_empty() {
            return Ok(0);
        }
        match db.put_qoe_sessions(&rows).await {
            Ok(()) => Ok(rows.len()),
            Err(e) => {
                if let Ok(mut live) = self.live.lock() {
                    for r in &rows {
                        let Some(sid) = SessionId::parse(&r.session_id) else {
                            continue;
                        };
                        if let Some(s) = live.sessions.get_mut(&(r.asset_id.clone(), sid)) {
                            s.dirty = true;
                        }
                    }
                }
                Err(e)
            }
        }
    }

    /// Flushes every few seconds until `stop` resolves, then once more.
    pub async fn run(&self, db: Db, stop: impl std::future::Future<Output = ()>) {
        crate::usage::flush_until("viewer sessions", stop, || self.flush(&db, now_ms())).await
    }
}

/// Histograms across assets (an asset id is never a label: per-asset figures come from
/// the API).
fn request_metrics(requested: Requested, c: &Cmcd) {
    if requested != Requested::Media {
        return;
    }
    if let (Some(br), true) = (c.bitrate_kbps, c.object_type.is_none_or(|t| t.is_video())) {
        metrics::histogram!("openvod_qoe_bitrate_kbps").record(f64::from(br));
    }
    if let Some(t) = c.throughput_kbps {
        metrics::histogram!("openvod_qoe_throughput_kbps").record(f64::from(t));
    }
    if let Some(b) = c.buffer_ms {
        metrics::histogram!("openvod_qoe_buffer_seconds").record(f64::from(b) / 1000.0);
    }
}

pub(crate) fn now_ms() -> u64 {
    u64::try_from(openvod_store::now_ms()).unwrap_or(0)
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
