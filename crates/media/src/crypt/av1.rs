//! Subsamples of an AV1 sample (AV1 Codec ISO Media File Format Binding, 7, "Common
//! Encryption"): OBU headers and sizes, temporal delimiters, sequence headers, frame
//! headers (also inside frame OBUs), redundant frame headers, metadata and padding stay
//! clear; in tile group and frame OBUs only the `decode_tile()` bytes of each tile are
//! protected, each tile in a subsample of its own:
//!
//! - `cenc`: the protected bytes are the tile's whole 16-byte blocks counted back from
//!   its last byte, so the partial block, if any, is the clear start of the tile; a tile
//!   under 16 bytes stays clear and joins the clear run around it;
//! - `cbcs`: the protected bytes are the whole tile, partial block included (the pattern
//!   leaves a final partial block clear, ISO/IEC 23001-7, 10.4.2), and every tile with
//!   any byte has a subsample of its own.
//!
//! This is also how Shaka Packager places them, whose output is the reference the tests
//! hold this to byte for byte.

use super::subsample::{finish, push};
use super::{Scheme, Subsample};
use crate::av1::TileSpan;
use crate::Result;

/// The subsamples (`out`, cleared first) of a `len`-byte sample whose tiles are `tiles`,
/// in order, under `scheme`.
pub(super) fn av1_subsamples(
    len: usize,
    tiles: &[TileSpan],
    scheme: Scheme,
    out: &mut Vec<Subsample>,
) -> Result<()> {
    out.clear();
    let mut clear = 0usize;
    let mut end = 0usize;
    for tile in tiles {
        clear += tile.start - end;
        let protected = match scheme {
            Scheme::Cenc => tile.len & !15,
            Scheme::Cbcs => tile.len,
        };
        clear += tile.len - protected;
        if protected > 0 {
            push(out, clear, protected);
            clear = 0;
        }
        end = tile.start + tile.len;
    }
    finish(out, clear + (len - end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(clear: u16, protected: u32) -> Subsample {
        Subsample { clear, protected }
    }

    /// Headers up to byte 20, a tile of 100 bytes, 3 bytes of tile size, a tile of 10, 2
    /// bytes, a tile of 48.
    const TILES: [TileSpan; 3] = [
        TileSpan {
            start: 20,
            len: 100,
        },
        TileSpan {
            start: 123,
            len: 10,
        },
        TileSpan {
            start: 135,
            len: 48,
        },
    ];

    #[test]
    fn cenc_protects_whole_blocks_ending_each_tile() {
        // Then 5 trailing bytes.
        let mut out = Vec::new();
        av1_subsamples(188, &TILES, Scheme::Cenc, &mut out).unwrap();
        // 100 = 4 clear + 96; the 10-byte tile joins the clear run: 3 + 10 + 2.
        assert_eq!(out, vec![sub(24, 96), sub(15, 48), sub(5, 0)]);
        let total: usize = out
            .iter()
            .map(|s| usize::from(s.clear) + s.protected as usize)
            .sum();
        assert_eq!(total, 188);
    }

    #[test]
    fn cbcs_protects_every_tile_whole() {
        let mut out = Vec::new();
        av1_subsamples(183, &TILES, Scheme::Cbcs, &mut out).unwrap();
        assert_eq!(out, vec![sub(20, 100), sub(3, 10), sub(2, 48)]);
        // An empty tile places nothing.
        av1_subsamples(
            30,
            &[TileSpan { start: 30, len: 0 }],
            Scheme::Cbcs,
            &mut out,
        )
        .unwrap();
        assert_eq!(out, vec![sub(30, 0)]);
    }

    #[test]
    fn long_clear_runs_split_at_the_16_bit_field() {
        let tiles = [TileSpan {
            start: 70_000,
            len: 40,
        }];
        let mut out = Vec::new();
        av1_subsamples(70_040, &tiles, Scheme::Cenc, &mut out).unwrap();
        assert_eq!(out, vec![sub(u16::MAX, 0), sub(4473, 32)]);
        av1_subsamples(70_000, &[], Scheme::Cenc, &mut out).unwrap();
        assert_eq!(out, vec![sub(u16::MAX, 0), sub(4465, 0)]);
    }
}
