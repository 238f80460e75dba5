//! An asset's quality of experience: its sessions summarised, overall and over time.

use serde::Serialize;

use crate::session::{Outcome, SessionFigures};

/// How long a session may stay quiet before it counts as over (a player fetches at
/// least every few segments while it plays or buffers).
pub const IDLE_MS: u64 = 60_000;
/// Most points of a time series.
pub const MAX_BUCKETS: u64 = 200;

/// A spread of times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Spread {
    pub p50: u64,
    pub p90: u64,
    pub max: u64,
}

impl Spread {
    fn of(values: &mut [u64]) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        values.sort_unstable();
        // Nearest rank: the smallest value with at least p % of the values at or below it.
        let rank = |p: usize| values[(values.len() * p).div_ceil(100).max(1) - 1];
        Some(Spread {
            p50: rank(50),
            p90: rank(90),
            max: values[values.len() - 1],
        })
    }
}

/// The sessions of an asset (or of one bucket of time), summarised.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QoeSummary {
    pub sessions: u32,
    pub started: u32,
    pub starting: u32,
    pub never_started: u32,
    pub unconfirmed: u32,
    /// Time to the first frame over the sessions that started (milliseconds).
    pub startup_ms: Option<Spread>,
    /// Rebuffering events over every session, and how many sessions had one.
    pub rebuffers: u32,
    pub sessions_with_rebuffers: u32,
    /// Time stalled over time stalled or playing, from the sessions whose player
    /// reported both (CMCD tells that a buffer ran dry, not for how long).
    pub rebuffer_ratio: Option<f64>,
    /// The bit rate of the video played, weighted by duration (kbit/s).
    pub bitrate_kbps: Option<u32>,
    /// The median over sessions of the throughput their players measured (kbit/s).
    pub throughput_kbps: Option<u32>,
    /// The median over sessions of their mean buffer ahead of the playhead (ms).
    pub buffer_ms: Option<u32>,
    pub origin_errors: u32,
    pub player_errors: u32,
}

/// Summarises `sessions` (each already merged across origins) as of `now_ms`.
pub fn summarise<'a>(
    sessions: impl IntoIterator<Item = &'a SessionFigures>,
    now_ms: u64,
) -> QoeSummary {
    let mut s = QoeSummary::default();
    let mut startups = Vec::new();
    let mut throughputs = Vec::new();
    let mut buffers = Vec::new();
    let (mut stalled, mut watched) = (0u64, 0u64);
    let (mut kbps_ms, mut video_ms) = (0u64, 0u64);
    for f in sessions {
        s.sessions += 1;
        match f.outcome(now_ms, IDLE_MS) {
            Outcome::Started => s.started += 1,
            Outcome::Starting => s.starting += 1,
            Outcome::NeverStarted => s.never_started += 1,
            Outcome::Unconfirmed => s.unconfirmed += 1,
        }
        startups.extend(f.startup());
        let r = f.rebuffers();
        s.rebuffers = s.rebuffers.saturating_add(r);
        s.sessions_with_rebuffers += u32::from(r > 0);
        if f.played_ms > 0 {
            stalled = stalled.saturating_add(f.rebuffer_ms);
            watched = watched.saturating_add(f.played_ms + f.rebuffer_ms);
        }
        kbps_ms = kbps_ms.saturating_add(f.video_kbps_ms);
        video_ms = video_ms.saturating_add(f.video_ms);
        throughputs.extend(f.throughput_kbps().map(u64::from));
        buffers.extend(f.buffer_ms().map(u64::from));
        s.origin_errors = s.origin_errors.saturating_add(f.origin_errors);
        s.player_errors = s.player_errors.saturating_add(f.player_errors);
    }
    s.startup_ms = Spread::of(&mut startups);
    s.rebuffer_ratio = (watched > 0).then(|| stalled as f64 / watched as f64);
    s.bitrate_kbps = (video_ms > 0).then(|| u32::try_from(kbps_ms / video_ms).unwrap_or(u32::MAX));
    let median = |v: &mut Vec<u64>| Spread::of(v).map(|s| u32::try_from(s.p50).unwrap_or(u32::MAX));
    s.throughput_kbps = median(&mut throughputs);
    s.buffer_ms = median(&mut buffers);
    s
}

/// One point of a time series: the sessions that began in `[start_ms, start_ms + width)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QoePoint {
    pub start_ms: u64,
    #[serde(flatten)]
    pub summary: QoeSummary,
}

/// The sessions that began from `from_ms` to `now_ms`, in buckets of `bucket_ms` (widened
/// so that there are at most [`MAX_BUCKETS`]); empty buckets are left out.
pub fn series(
    sessions: &[SessionFigures],
    from_ms: u64,
    now_ms: u64,
    bucket_ms: u64,
) -> (u64, Vec<QoePoint>) {
    let span = now_ms.saturating_sub(from_ms).max(1);
    let width = bucket_ms.max(span.div_ceil(MAX_BUCKETS)).max(1);
    let mut buckets: std::collections::BTreeMap<u64, Vec<&SessionFigures>> = Default::default();
    for f in sessions.iter().filter(|f| f.first_ms >= from_ms) {
        let start = from_ms + (f.first_ms - from_ms) / width * width;
        buckets.entry(start).or_default().push(f);
    }
    let points = buckets
        .into_iter()
        .map(|(start_ms, fs)| QoePoint {
            start_ms,
            summary: summarise(fs, now_ms),
        })
        .collect();
    (width, points)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::PlayerReport;

    fn session(first: u64, startup: Option<u64>, kbps: u64) -> SessionFigures {
        SessionFigures {
            first_ms: first,
            last_ms: first + 10_000,
            requests: 5,
            media_requests: 4,
            started_ms: startup.map(|s| first + s),
            video_kbps_ms: kbps * 8_000,
            video_ms: 8_000,
            throughput_kbps_sum: kbps * 20,
            throughput_samples: 4,
            ..Default::default()
        }
    }

    #[test]
    fn sums_up_outcomes_startups_and_bit_rates() {
        let mut stalled = session(0, Some(400), 1000);
        stalled.starved = 2;
        stalled.record_report(
            9_000,
            &PlayerReport {
                played_ms: 9_000,
                rebuffer_ms: 1_000,
                rebuffers: 1,
                ..Default::default()
            },
        );
        let sessions = [
            session(0, Some(1_000), 3000),
            session(0, Some(2_000), 3000),
            stalled,
            session(0, None, 0),
        ];
        let s = summarise(&sessions, 1_000_000);
        assert_eq!((s.sessions, s.started, s.unconfirmed), (4, 3, 1));
        assert_eq!(
            s.startup_ms,
            Some(Spread {
                p50: 1_000,
                p90: 2_000,
                max: 2_000
            })
        );
        assert_eq!((s.rebuffers, s.sessions_with_rebuffers), (2, 1));
        assert_eq!(s.rebuffer_ratio, Some(0.1));
        assert_eq!(s.bitrate_kbps, Some(1750));
        // Session means 15 000, 15 000, 5 000 and 0: the nearest-rank median is 5 000.
        assert_eq!(s.throughput_kbps, Some(5_000));
    }

    #[test]
    fn no_sessions_say_nothing() {
        let s = summarise(&[], 0);
        assert_eq!(s, QoeSummary::default());
        assert_eq!(series(&[], 0, 10, 1).1, vec![]);
    }

    #[test]
    fn series_buckets_sessions_by_start_and_bounds_the_points() {
        let sessions = [
            session(1_000, Some(1), 1),
            session(1_500, Some(1), 1),
            session(7_000, Some(1), 1),
        ];
        let (width, points) = series(&sessions, 0, 10_000, 5_000);
        assert_eq!(width, 5_000);
        let at: Vec<_> = points
            .iter()
            .map(|p| (p.start_ms, p.summary.sessions))
            .collect();
        assert_eq!(at, vec![(0, 2), (5_000, 1)]);
        let (width, _) = series(&sessions, 0, 10_000_000, 1);
        assert_eq!(width, 50_000);
    }
}
