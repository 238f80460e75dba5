//! Transcoding for openvod: ffprobe and ffmpeg as child processes, ladder planning, job
//! templates, MediaConvert job import, and packaging into a folder through
//! `openvod-media`.
//!
//! ffmpeg runs as a child process, never linked: a crash or hang in a decoder cannot take
//! the caller down, and the process is killed on a deadline. A source is only ever opened
//! through [`SourceFile`], which gives ffprobe and ffmpeg a demuxer allow-list and the
//! `file` protocol alone, so a crafted file cannot make them read other files or reach
//! the network (see `source`). After an encode, [`integrity::check`] compares what was
//! encoded with what the source declares, so a decoder that gave up part-way does not
//! pass for a finished job.

mod error;
pub mod template;

pub use error::{Error, Result};
pub use template::{JobTemplate, LadderRung};
pub mod decode_log;
pub mod integrity;
pub mod probe;
mod process;
pub mod source;

pub use probe::{probe, MediaInfo};
pub use source::SourceFile;
pub mod chunks;
pub mod clip;
pub mod downloads;
pub mod dub;
pub mod estimate;
pub mod ffmpeg;
pub mod images;
pub mod job;
pub mod ladder;
pub mod mediaconvert;
pub mod output;
pub mod package;
pub mod per_title;
pub mod preview;
pub mod quality;
