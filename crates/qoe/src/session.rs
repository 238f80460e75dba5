//! One viewing session as one origin saw it: the CMCD of its requests and the player's
//! own reports, folded into counts and sums that merge across origins.

use serde::{Deserialize, Serialize};

use crate::cmcd::Cmcd;

/// What a request asked for, as the origin knows it (the origin trusts its own routing
/// over the player's `ot`, except to tell video from audio among media segments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    Manifest,
    Init,
    Media,
    Other,
}

/// Longest startup a player may report (10 minutes): a longer figure is a broken clock.
pub const MAX_STARTUP_MS: u64 = 600_000;
/// Longest playing or stalled time one report may carry (two days).
pub const MAX_SESSION_MS: u64 = 172_800_000;
/// Most rebuffering events or errors one report may carry.
pub const MAX_EVENTS: u32 = 100_000;

/// A player's own account of its session, sent by players that cannot send CMCD (or to
/// add what CMCD cannot say: how long it stalled, how long it played). Every figure is
/// the session's total so far, so a report sent twice changes nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlayerReport {
    /// From the play request to the first frame.
    pub startup_ms: Option<u64>,
    pub rebuffers: u32,
    /// Time spent stalled after the first frame.
    pub rebuffer_ms: u64,
    /// Time spent playing.
    pub played_ms: u64,
    pub errors: u32,
    /// The viewer left (or the player gave up) before the first frame.
    pub exited_before_start: bool,
}

/// Why a player report was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("{0} is out of range")]
    OutOfRange(&'static str),
    #[error("a report with a startup time cannot also say the session never started")]
    Contradiction,
}

impl PlayerReport {
    /// Checks every figure against its bound.
    pub fn check(&self) -> Result<(), ReportError> {
        if self.startup_ms.is_some_and(|s| s > MAX_STARTUP_MS) {
            return Err(ReportError::OutOfRange("startup_ms"));
        }
        if self.rebuffer_ms > MAX_SESSION_MS {
            return Err(ReportError::OutOfRange("rebuffer_ms"));
        }
        if self.played_ms > MAX_SESSION_MS {
            return Err(ReportError::OutOfRange("played_ms"));
        }
        if self.rebuffers > MAX_EVENTS {
            return Err(ReportError::OutOfRange("rebuffers"));
        }
        if self.errors > MAX_EVENTS {
            return Err(ReportError::OutOfRange("errors"));
        }
        if self.exited_before_start && (self.startup_ms.is_some() || self.played_ms > 0) {
            return Err(ReportError::Contradiction);
        }
        Ok(())
    }
}

/// How a session went, as far as can be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The first frame was shown.
    Started,
    /// Still active and not started yet.
    Starting,
    /// Left, failed or fetched no media before a first frame.
    NeverStarted,
    /// Fetched media, then went quiet without saying whether it played (a player that
    /// sends neither `su` nor `sta`, and no report).
    Unconfirmed,
}

/// One session's figures, as one origin saw them. Times are milliseconds since the
/// epoch, given by the caller (this crate has no clock).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionFigures {
    pub first_ms: u64,
    pub last_ms: u64,
    pub requests: u32,
    pub media_requests: u32,
    /// Arrival of the first media request made after the first frame (no `su`, or a
    /// `sta` of a started player).
    pub started_ms: Option<u64>,
    /// Requests flagged `bs`: the buffer ran dry since the previous one.
    pub starved: u32,
    /// Σ `br` × `d` over video objects, and Σ `d`: their quotient is the bit rate played.
    pub video_kbps_ms: u64,
    pub video_ms: u64,
    pub throughput_kbps_sum: u64,
    pub throughput_samples: u32,
    pub buffer_ms_sum: u64,
    pub buffer_samples: u32,
    /// Requests of the session the origin answered with an error.
    pub origin_errors: u32,
    /// The player's own report (totals; the latest, largest figures win).
    pub startup_ms: Option<u64>,
    pub player_rebuffers: u32,
    pub rebuffer_ms: u64,
    pub played_ms: u64,
    pub player_errors: u32,
    pub exited_before_start: bool,
}

impl SessionFigures {
    fn touch(&mut self, at_ms: u64) {
        // Times are epoch milliseconds: 0 is "nothing seen yet".
        if self.last_ms == 0 {
            self.first_ms = at_ms;
        }
        self.first_ms = self.first_ms.min(at_ms);
        self.last_ms = self.last_ms.max(at_ms);
    }

    /// Adds one request that arrived at `at_ms`; `answered` is false when the origin
    /// answered it with an error (then only the error is counted).
    pub fn record_request(&mut self, at_ms: u64, requested: Requested, answered: bool, c: &Cmcd) {
        self.touch(at_ms);
        self.requests = self.requests.saturating_add(1);
        // A stall is a rebuffer only after the first frame: some players (dash.js 5)
        // also flag the empty buffer of startup with `bs`.
        if c.starved && self.started_ms.is_some_and(|s| s < at_ms) {
            self.starved = self.starved.saturating_add(1);
        }
        if !answered {
            self.origin_errors = self.origin_errors.saturating_add(1);
            return;
        }
        if let Some(t) = c.throughput_kbps {
            self.throughput_kbps_sum = self.throughput_kbps_sum.saturating_add(u64::from(t));
            self.throughput_samples = self.throughput_samples.saturating_add(1);
        }
        if requested != Requested::Media {
            return;
        }
        self.media_requests = self.media_requests.saturating_add(1);
        if let Some(b) = c.buffer_ms {
            self.buffer_ms_sum = self.buffer_ms_sum.saturating_add(u64::from(b));
            self.buffer_samples = self.buffer_samples.saturating_add(1);
        }
        let video = c.object_type.is_none_or(|t| t.is_video());
        if let (true, Some(br), Some(d)) = (video, c.bitrate_kbps, c.duration_ms) {
            self.video_kbps_ms = self
                .video_kbps_ms
                .saturating_add(u64::from(br) * u64::from(d));
            self.video_ms = self.video_ms.saturating_add(u64::from(d));
        }
        // CTA-5004 4.3: `su` marks an object needed urgently for startup, a seek or a
        // recovery; the first media request without it comes after the first frame.
        // Version 2 players say their state outright.
        let started = match c.state {
            Some(state) => state.has_started(),
            None => !c.startup,
        };
        if started && self.started_ms.is_none_or(|s| at_ms < s) {
            self.started_ms = Some(at_ms);
        }
    }

    /// Adds a player's report that arrived at `at_ms` (checked by the caller).
    pub fn record_report(&mut self, at_ms: u64, r: &PlayerReport) {
        self.touch(at_ms);
        if let Some(s) = r.startup_ms {
            self.startup_ms = Some(self.startup_ms.map_or(s, |old| old.min(s)));
        }
        self.player_rebuffers = self.player_rebuffers.max(r.rebuffers);
        self.rebuffer_ms = self.rebuffer_ms.max(r.rebuffer_ms);
        self.played_ms = self.played_ms.max(r.played_ms);
        self.player_errors = self.player_errors.max(r.errors);
        self.exited_before_start |= r.exited_before_start;
    }

    /// Adds what another origin saw of the same session.
    pub fn merge(&mut self, o: &SessionFigures) {
        if o.last_ms == 0 {
            return;
        }
        if self.last_ms == 0 {
            *self = o.clone();
            return;
        }
        self.first_ms = self.first_ms.min(o.first_ms);
        self.last_ms = self.last_ms.max(o.last_ms);
        self.requests = self.requests.saturating_add(o.requests);
        self.media_requests = self.media_requests.saturating_add(o.media_requests);
        self.started_ms = min_some(self.started_ms, o.started_ms);
        self.starved = self.starved.saturating_add(o.starved);
        self.video_kbps_ms = self.video_kbps_ms.saturating_add(o.video_kbps_ms);
        self.video_ms = self.video_ms.saturating_add(o.video_ms);
        self.throughput_kbps_sum = self
            .throughput_kbps_sum
            .saturating_add(o.throughput_kbps_sum);
        self.throughput_samples = self.throughput_samples.saturating_add(o.throughput_samples);
        self.buffer_ms_sum = self.buffer_ms_sum.saturating_add(o.buffer_ms_sum);
        self.buffer_samples = self.buffer_samples.saturating_add(o.buffer_samples);
        self.origin_errors = self.origin_errors.saturating_add(o.origin_errors);
        self.startup_ms = min_some(self.startup_ms, o.startup_ms);
        self.player_rebuffers = self.player_rebuffers.max(o.player_rebuffers);
        self.rebuffer_ms = self.rebuffer_ms.max(o.rebuffer_ms);
        self.played_ms = self.played_ms.max(o.played_ms);
        self.player_errors = self.player_errors.max(o.player_errors);
        self.exited_before_start |= o.exited_before_start;
    }

    /// The time to the first frame: the player's own figure, else from CMCD the time
    /// from the session's first request to its first request made while playing (an
    /// upper bound: the frame came before that request).
    pub fn startup(&self) -> Option<u64> {
        self.startup_ms.or_else(|| {
            self.started_ms
                .filter(|_| !self.exited_before_start)
                .map(|s| s.saturating_sub(self.first_ms))
        })
    }

    /// Rebuffering events: the player's count, or CMCD's `bs` flags if more were seen
    /// (both describe the same stalls, so they are not added).
    pub fn rebuffers(&self) -> u32 {
        self.starved.max(self.player_rebuffers)
    }

    /// The bit rate of the video played, weighted by each object's duration.
    pub fn bitrate_kbps(&self) -> Option<u32> {
        (self.video_ms > 0).then(|| clamp_u32(self.video_kbps_ms / self.video_ms))
    }

    pub fn throughput_kbps(&self) -> Option<u32> {
        (self.throughput_samples > 0)
            .then(|| clamp_u32(self.throughput_kbps_sum / u64::from(self.throughput_samples)))
    }

    pub fn buffer_ms(&self) -> Option<u32> {
        (self.buffer_samples > 0)
            .then(|| clamp_u32(self.buffer_ms_sum / u64::from(self.buffer_samples)))
    }

    /// How the session went, `now_ms`; a session quiet for `idle_ms` has ended.
    pub fn outcome(&self, now_ms: u64, idle_ms: u64) -> Outcome {
        if self.exited_before_start {
            return Outcome::NeverStarted;
        }
        if self.startup().is_some() || self.played_ms > 0 {
            return Outcome::Started;
        }
        if now_ms.saturating_sub(self.last_ms) < idle_ms {
            return Outcome::Starting;
        }
        if self.media_requests == 0 || self.player_errors > 0 {
            Outcome::NeverStarted
        } else {
            Outcome::Unconfirmed
        }
    }
}

fn min_some(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn clamp_u32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmcd::{ObjectType, PlayerState};

    fn video(su: bool, bs: bool, br: u32) -> Cmcd {
        Cmcd {
            object_type: Some(ObjectType::Video),
            bitrate_kbps: Some(br),
            duration_ms: Some(2000),
            buffer_ms: Some(4000),
            throughput_kbps: Some(10_000),
            startup: su,
            starved: bs,
            version: 1,
            ..Cmcd::default()
        }
    }

    #[test]
    fn startup_is_the_first_request_made_while_playing() {
        let mut s = SessionFigures::default();
        s.record_request(1_000, Requested::Manifest, true, &Cmcd::default());
        s.record_request(1_200, Requested::Media, true, &video(true, false, 800));
        assert_eq!(s.startup(), None);
        assert_eq!(s.outcome(1_300, 60_000), Outcome::Starting);
        s.record_request(3_500, Requested::Media, true, &video(false, false, 2400));
        assert_eq!(s.startup(), Some(2_500));
        assert_eq!(s.outcome(100_000, 60_000), Outcome::Started);
        // Two seconds at 800 and two at 2400: 1600 played on average.
        assert_eq!(s.bitrate_kbps(), Some(1600));
        assert_eq!(s.buffer_ms(), Some(4000));
    }

    #[test]
    fn a_version_2_state_says_when_playback_started() {
        let mut s = SessionFigures::default();
        let mut c = video(true, false, 800);
        c.state = Some(PlayerState::Playing);
        s.record_request(10, Requested::Media, true, &c);
        s.record_request(5, Requested::Manifest, true, &Cmcd::default());
        assert_eq!(s.startup(), Some(5));
    }

    #[test]
    fn audio_objects_do_not_count_as_the_bit_rate_played() {
        let mut s = SessionFigures::default();
        let mut c = video(false, false, 128);
        c.object_type = Some(ObjectType::Audio);
        s.record_request(1, Requested::Media, true, &c);
        assert_eq!(s.bitrate_kbps(), None);
    }

    #[test]
    fn errors_and_stalls_are_counted() {
        let mut s = SessionFigures::default();
        // The empty buffer of startup is not a rebuffer.
        s.record_request(0, Requested::Media, true, &video(true, true, 1));
        s.record_request(1, Requested::Media, true, &video(false, false, 1));
        s.record_request(2, Requested::Media, true, &video(true, true, 1));
        s.record_request(3, Requested::Media, false, &video(false, false, 1));
        assert_eq!(
            (s.rebuffers(), s.origin_errors, s.media_requests),
            (1, 1, 3)
        );
        // The player's report of the same stall does not double it.
        s.record_report(
            4,
            &PlayerReport {
                rebuffers: 1,
                played_ms: 3,
                ..Default::default()
            },
        );
        assert_eq!(s.rebuffers(), 1);
    }

    #[test]
    fn sessions_that_never_started() {
        let mut quiet = SessionFigures::default();
        quiet.record_request(1, Requested::Manifest, true, &Cmcd::default());
        assert_eq!(quiet.outcome(2, 60_000), Outcome::Starting);
        assert_eq!(quiet.outcome(70_000, 60_000), Outcome::NeverStarted);
        let mut left = SessionFigures::default();
        left.record_report(
            1,
            &PlayerReport {
                exited_before_start: true,
                ..Default::default()
            },
        );
        assert_eq!(left.outcome(2, 60_000), Outcome::NeverStarted);
        let mut mute = SessionFigures::default();
        mute.record_request(1, Requested::Media, true, &video(true, false, 1));
        assert_eq!(mute.outcome(70_000, 60_000), Outcome::Unconfirmed);
    }

    #[test]
    fn reports_are_totals_and_merges_add_what_each_origin_saw() {
        let r = PlayerReport {
            startup_ms: Some(900),
            rebuffers: 2,
            rebuffer_ms: 1500,
            played_ms: 30_000,
            ..Default::default()
        };
        let mut a = SessionFigures::default();
        a.record_report(10, &r);
        a.record_report(20, &r);
        assert_eq!(
            (a.player_rebuffers, a.rebuffer_ms, a.startup()),
            (2, 1500, Some(900))
        );
        let mut b = SessionFigures::default();
        b.record_request(4, Requested::Media, true, &video(false, false, 1000));
        b.record_request(5, Requested::Media, true, &video(false, true, 1000));
        a.merge(&b);
        assert_eq!(
            (a.first_ms, a.last_ms, a.requests, a.starved),
            (4, 20, 2, 1)
        );
        assert_eq!(a.rebuffers(), 2);
        assert_eq!(a.bitrate_kbps(), Some(1000));
    }

    #[test]
    fn reports_are_checked() {
        let ok = PlayerReport {
            startup_ms: Some(1),
            ..Default::default()
        };
        assert_eq!(ok.check(), Ok(()));
        let slow = PlayerReport {
            startup_ms: Some(MAX_STARTUP_MS + 1),
            ..Default::default()
        };
        assert_eq!(slow.check(), Err(ReportError::OutOfRange("startup_ms")));
        let both = PlayerReport {
            startup_ms: Some(1),
            exited_before_start: true,
            ..Default::default()
        };
        assert_eq!(both.check(), Err(ReportError::Contradiction));
    }
}
