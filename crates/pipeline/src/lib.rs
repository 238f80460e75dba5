//! The durable workflow: the Step Functions of openvod.
//!
//! An asset moves through the stages probe, validate, transcode, package and publish.
//! Each stage is a task in the database; a [`Worker`] claims one with a lease, renews the
//! lease by heartbeat while it works, and commits the stage's result together with the
//! next task in one transaction (see `openvod_store`). Any worker can run any stage:
//! everything a stage needs comes from the database and the object store, and what it
//! makes goes back there. A worker that dies loses its lease and another one re-runs the
//! stage; stages are idempotent, writing under keys named after the task run and
//! committed by the database write.

mod chunks;
mod clip;
mod config;
mod preview;
mod protect;
mod stages;
pub mod watch;
mod worker;

pub use config::{host_name, PipelineConfig, ValidationPolicy};
pub use worker::Worker;

/// What a stage run ended with, when it did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// The input or the request is at fault; running again cannot help.
    #[error("{message}")]
    Permanent { code: &'static str, message: String },
    /// Something outside failed (store, database, a killed process); worth retrying.
    #[error("{message}")]
    Transient { code: &'static str, message: String },
    /// The lease was lost or the asset cancelled: stop without recording anything.
    #[error("the task was cancelled or its lease was lost")]
    Abandoned,
}

impl StageError {
    pub(crate) fn permanent(code: &'static str, message: impl std::fmt::Display) -> StageError {
        StageError::Permanent {
            code,
            message: message.to_string(),
        }
    }

    pub(crate) fn transient(code: &'static str, message: impl std::fmt::Display) -> StageError {
        StageError::Transient {
            code,
            message: message.to_string(),
        }
    }
}

impl From<openvod_store::Error> for StageError {
    fn from(e: openvod_store::Error) -> StageError {
        if e.is_transient() {
            StageError::transient("storage", e)
        } else {
            StageError::permanent("storage", e)
        }
    }
}

impl From<openvod_drm::packaging::ProtectError> for StageError {
    fn from(e: openvod_drm::packaging::ProtectError) -> StageError {
        if e.is_transient() {
            StageError::transient("key_provider", e)
        } else {
            StageError::permanent("key_provider", e)
        }
    }
}

impl From<openvod_transcode::Error> for StageError {
    fn from(e: openvod_transcode::Error) -> StageError {
        use openvod_transcode::Error as E;
        match e {
            E::Cancelled => StageError::Abandoned,
            E::Probe { .. }
            | E::Unsupported { .. }
            | E::UnacceptedFormat { .. }
            | E::LengthMismatch { .. }
            | E::Media { .. }
            | E::Template(_) => StageError::permanent("invalid_media", e),
            E::DamagedSource { .. } => StageError::permanent("damaged_source", e),
            E::Subtitles { .. } => StageError::permanent("invalid_subtitles", e),
            E::Range(_) => StageError::permanent("invalid_range", e),
            E::Ffmpeg { .. } => StageError::permanent("transcode_failed", e),
            E::Timeout { .. } => StageError::transient("timeout", e),
            E::ToolMissing(_) | E::Io { .. } | E::Output(_) | E::MediaConvert(_) => {
                StageError::transient("worker", e)
            }
        }
    }
}
