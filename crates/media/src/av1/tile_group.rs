//! `tile_group_obu()` (AV1 spec 5.11.1): where each tile's `decode_tile()` bytes lie.
//! Only the tile group's few header bits and each tile's `tile_size_minus_1` are read.

use super::bits::{BitReader, Fault};
use super::tile_info::TileLayout;
use super::{fault, malformed, TileSpan};
use crate::sample_bytes::SampleBytes;
use crate::Result;

/// Bytes a tile group header takes at most: `tile_start_and_end_present_flag` and two
/// tile numbers of at most 12 bits (64 x 64 tiles), then byte alignment.
const MAX_HEADER: usize = 4;

/// Reads the tile group at `at..at + size` of the sample, appending its tiles to
/// `tiles`; returns `tg_end`.
pub(crate) fn tile_group(
    sample: &mut impl SampleBytes,
    at: usize,
    size: usize,
    layout: &TileLayout,
    tiles: &mut Vec<TileSpan>,
) -> Result<u32> {
    let num_tiles = layout.count();
    let head = sample.get(at, size.min(MAX_HEADER))?;
    let mut r = BitReader::new(head);
    let read = |r: &mut BitReader<'_>| -> std::result::Result<(u32, u32), Fault> {
        let present = num_tiles > 1 && r.flag()?;
        let range = if present {
            let bits = layout.cols_log2 + layout.rows_log2;
            (r.f(bits)?, r.f(bits)?)
        } else {
            (0, num_tiles - 1)
        };
        r.byte_alignment()?;
        Ok(range)
    };
    let (start, end) = read(&mut r).map_err(|f| fault("tile group", at, r.position(), f))?;
    if start > end || end >= num_tiles {
        return Err(malformed(
            "tile group",
            at,
            format!("tiles {start} to {end} of a frame of {num_tiles}"),
        ));
    }
    let mut pos = at + r.position() / 8;
    let mut left = size - r.position() / 8;
    let size_bytes = layout.size_bytes as usize;
    for tile in start..=end {
        let len = if tile == end {
            left
        } else {
            if size_bytes > left {
                return Err(malformed(
                    "tile group",
                    pos,
                    "a tile size field runs past its tile group".to_string(),
                ));
            }
            let field = sample.get(pos, size_bytes)?;
            // tile_size_minus_1, le(TileSizeBytes): the field holds exactly its bytes.
            let len = BitReader::new(field)
                .le(layout.size_bytes)
                .map_err(|f| fault("tile group", pos, 0, f))? as usize
                + 1;
            pos += size_bytes;
            left -= size_bytes;
            if len > left {
                return Err(malformed(
                    "tile group",
                    pos - size_bytes,
                    format!(
                        "tile {tile} of {len} bytes runs past the {left} bytes left in its tile group"
                    ),
                ));
            }
            len
        };
        tiles.push(TileSpan { start: pos, len });
        pos += len;
        left -= len;
    }
    Ok(end)
}
