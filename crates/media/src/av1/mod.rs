//! An AV1 bitstream reader for placing subsamples (AV1 Bitstream & Decoding Process
//! Specification, with errata; AV1 Codec ISO Media File Format Binding).
//!
//! Common Encryption of AV1 protects the `decode_tile()` bytes of every tile and leaves
//! everything else clear (AV1-ISOBMFF, 7). Tile data starts after a frame header whose
//! length is known only by reading it to the end, and how many bits a frame header takes
//! depends on the sequence header and on what earlier frames left in the eight reference
//! slots (their sizes, order hints, frame types and segmentation features). So the reader
//! follows the decoding process's header state across the samples of a track, as far as
//! bit counts need it, and reads no tile data:
//!
//! - [`bits`]: the descriptors of 4.10;
//! - [`obu`]: OBU headers and sizes (5.3);
//! - [`sequence`]: the sequence header (5.5);
//! - [`frame_header`]: the uncompressed header (5.9.2) and frame sizes (5.9.5-5.9.9), with
//!   [`tile_info`] (5.9.15), [`header_params`] (5.9.11-5.9.23), [`global_motion`]
//!   (5.9.24-5.9.28) and [`film_grain`] (5.9.30);
//! - [`refs`]: the reference slots (7.20, 7.21) and 7.8's `set_frame_refs`;
//! - [`tile_group`]: tile groups (5.11.1);
//! - [`stream`]: the walk over the OBUs of a sample (5.3.1, 5.9.1, 5.10, 7.4).
//!
//! Every length read from a sample is checked against the bytes left before use, and a
//! malformed sample is an [`Error::Malformed`] naming the byte offset in the sample.

mod bits;
mod film_grain;
mod frame_header;
mod global_motion;
mod header_params;
mod obu;
mod refs;
mod sequence;
mod stream;
mod tile_group;
mod tile_info;

pub use sequence::SequenceHeader;
pub(crate) use stream::first_sequence_header;
pub use stream::{sequence_header_in, Av1Stream};

use crate::Error;
use bits::Fault;

/// The `decode_tile()` bytes of one tile (including its trailing bits): `len` bytes at
/// `start` of the sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileSpan {
    pub start: usize,
    pub len: usize,
}

fn malformed(what: &str, offset: usize, reason: String) -> Error {
    Error::Malformed {
        kind: format!("AV1 {what}"),
        offset: offset as u64,
        reason,
    }
}

/// A fault at bit `bit` of a structure starting at byte `at` of the sample.
fn fault(what: &str, at: usize, bit: usize, fault: Fault) -> Error {
    let reason = match fault {
        Fault::Truncated => format!("the {what} runs past the end of its OBU"),
        Fault::Invalid(reason) => reason,
    };
    malformed(what, at + bit / 8, reason)
}

#[cfg(test)]
pub(crate) mod test_bits;
#[cfg(test)]
mod tests;
