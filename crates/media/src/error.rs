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
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
