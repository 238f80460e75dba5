use std::path::{Path, PathBuf};

/// Errors of probing, transcoding and packaging.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} was not found on PATH: install it (Debian: apt-get install ffmpeg)")]
    ToolMissing(&'static str),
    #[error("{input}: {reason}")]
    Probe { input: String, reason: String },
    #[error("{input}: {reason}")]
    Unsupported { input: String, reason: String },
    /// The source's detected format is not on the demuxer allow-list.
    #[error("{input}: {reason}")]
    UnacceptedFormat {
        input: String,
        /// ffmpeg's name of the detected format, e.g. "hls".
        format: String,
        reason: String,
    },
    /// A dub whose length is not the title's (see `dub`).
    #[error("{input}: {reason}")]
    LengthMismatch { input: String, reason: String },
    /// The source could not be decoded in full (see `integrity`).
    #[error("{input}: {reason}")]
    DamagedSource { input: String, reason: String },
    #[error("template {0}")]
    Template(String),
    #[error("MediaConvert job: {0}")]
    MediaConvert(String),
    #[error("ffmpeg failed ({status}): {message}")]
    Ffmpeg { status: String, message: String },
    #[error("ffmpeg took longer than {seconds} s and was stopped")]
    Timeout { seconds: u64 },
    #[error("{}: {source}", path.display())]
    Media {
        path: PathBuf,
        #[source]
        source: openvod_media::Error,
    },
    /// A subtitle file that is not usable timed text.
    #[error("{}: {source}", path.display())]
    Subtitles {
        path: PathBuf,
        #[source]
        source: openvod_media::text::TextError,
    },
    #[error("{0}")]
    Output(String),
    /// A clip's range that the title does not hold (see `clip`).
    #[error("{0}")]
    Range(String),
    #[error("cancelled")]
    Cancelled,
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
