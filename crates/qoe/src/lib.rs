//! Viewers' quality of experience.
//!
//! Players say how playback goes in two ways: Common Media Client Data (CTA-5004) on each
//! request they make of the origin ([`cmcd`]), and a small report of their own for what
//! CMCD cannot say ([`PlayerReport`]). The origin folds both into one record per session
//! ([`SessionFigures`], merged across origins) and [`summarise`] turns an asset's sessions
//! into startup times, rebuffering, bit rate, throughput and buffer figures, overall and
//! over time ([`series`]).
//!
//! Pure: no I/O and no clock; times are given by the caller in epoch milliseconds.

pub mod cmcd;
mod session;
mod summary;

pub use cmcd::{Cmcd, CmcdError, ObjectType, PlayerState, SessionId};
pub use session::{
    Outcome, PlayerReport, ReportError, Requested, SessionFigures, MAX_EVENTS, MAX_SESSION_MS,
    MAX_STARTUP_MS,
};
pub use summary::{series, summarise, QoePoint, QoeSummary, Spread, IDLE_MS, MAX_BUCKETS};
