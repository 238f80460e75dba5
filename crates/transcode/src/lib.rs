//! Transcoding for openvod: ffprobe and ffmpeg as child processes, ladder planning, job
//! templates, MediaConvert job import, and packaging into a folder through
//! `openvod-media`.
//!
//! ffmpeg runs as a child process, never linked: a crash or hang in a decoder cannot take
//! the caller down, and the process is killed on a deadline. Inputs are opened with
//! `-protocol_whitelist file,pipe` so that a crafted file cannot make ffmpeg read other
//! local files or reach the network.

mod error;
pub mod template;

pub use error::{Error, Result};
pub use template::{JobTemplate, LadderRung};
pub mod probe;
mod process;

pub use probe::{probe, MediaInfo};
pub mod ffmpeg;
pub mod job;
pub mod ladder;
pub mod mediaconvert;
pub mod output;
pub mod package;
