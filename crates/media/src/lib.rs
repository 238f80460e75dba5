//! Pure media formats for openvod: no I/O, no async.
//!
//! The crate reads ISO-BMFF (progressive or fragmented MP4) into [`Track`]s, cuts them into
//! CMAF segments, and writes init segments, media segments, HLS playlists and DASH MPDs.
//! Media bytes are never copied through this crate: a media segment is described as a
//! [`cmaf::SegmentLayout`], a list of generated header bytes and byte ranges of the
//! source file, and the caller moves the bytes with whatever I/O it has.
//!
//! Everything read from a file goes through the [`ByteSource`] trait and every count and
//! size read from a file is bounded (see [`Limits`]) before it is used.

pub mod bmff;
pub mod cmaf;
pub mod codec;
pub mod crypt;
pub mod dash;
mod error;
pub mod hls;
pub mod index;
pub mod package;
pub mod reader;
pub mod segment;
pub mod track;

pub use bmff::ByteSource;
pub use error::{Error, Result};
pub use reader::{read_tracks, Limits};
pub use track::{Sample, Track, TrackKind};
