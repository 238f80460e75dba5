use std::io;

/// Errors from reading or packaging media.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("read failed at byte {offset}: {source}")]
    Read {
        offset: u64,
        #[source]
        source: io::Error,
    },
    /// A [`crate::cmaf::SegmentSink`] failed to write out bytes of a segment.
    #[error("write failed at byte {offset} of the segment: {source}")]
    Write {
        offset: u64,
        #[source]
        source: io::Error,
    },
    #[error("not an MP4 file: {0}")]
    NotMp4(String),
    #[error("the file is truncated: {0}")]
    Truncated(String),
    #[error("malformed '{kind}' box at byte {offset}: {reason}")]
    Malformed {
        kind: String,
        offset: u64,
        reason: String,
    },
    #[error("{what} is {value}, over the limit of {limit}")]
    Limit {
        what: &'static str,
        value: u64,
        limit: u64,
    },
    #[error("unsupported media: {0}")]
    Unsupported(String),
    #[error("invalid packaging settings: {0}")]
    Settings(String),
    /// The presentation has no such object (a path to a rendition, a segment, a
    /// manifest or a copy it does not have).
    #[error("no object {0}")]
    NoObject(String),
    /// What the packager made disagrees with what it planned: a bug, reported rather
    /// than written.
    #[error("internal packaging error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
