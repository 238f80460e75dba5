//! `tile_info()` (AV1 spec 5.9.15, with `tile_log2` of 5.9.16): how a frame is cut into
//! tiles, which decides how tile groups are read (5.11.1).

use super::bits::{invalid, tile_log2, BitReader, Parsed};

/// `MAX_TILE_WIDTH`, `MAX_TILE_AREA`, `MAX_TILE_ROWS`, `MAX_TILE_COLS` (3).
const MAX_TILE_WIDTH: u32 = 4096;
const MAX_TILE_AREA: u32 = 4096 * 2304;
const MAX_TILE_ROWS: u32 = 64;
const MAX_TILE_COLS: u32 = 64;

/// The tiles of a frame, as tile groups read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TileLayout {
    pub(crate) cols: u32,
    pub(crate) rows: u32,
    pub(crate) cols_log2: u32,
    pub(crate) rows_log2: u32,
    /// `TileSizeBytes`: bytes of each `tile_size_minus_1` (meaningless with one tile).
    pub(crate) size_bytes: u32,
}

impl TileLayout {
    /// `NumTiles`.
    pub(crate) fn count(&self) -> u32 {
        self.cols * self.rows
    }
}

/// 5.9.15 for a frame of `mi_cols` by `mi_rows` mode info units.
pub(crate) fn tile_info(
    r: &mut BitReader<'_>,
    mi_cols: u32,
    mi_rows: u32,
    use_128x128_superblock: bool,
) -> Parsed<TileLayout> {
    let (sb_cols, sb_rows, sb_shift) = if use_128x128_superblock {
        ((mi_cols + 31) >> 5, (mi_rows + 31) >> 5, 5)
    } else {
        ((mi_cols + 15) >> 4, (mi_rows + 15) >> 4, 4)
    };
    let sb_size = sb_shift + 2;
    let max_tile_width_sb = MAX_TILE_WIDTH >> sb_size;
    let mut max_tile_area_sb = MAX_TILE_AREA >> (2 * sb_size);
    let min_log2_tile_cols = tile_log2(max_tile_width_sb, sb_cols);
    let max_log2_tile_cols = tile_log2(1, sb_cols.min(MAX_TILE_COLS));
    let max_log2_tile_rows = tile_log2(1, sb_rows.min(MAX_TILE_ROWS));
    let min_log2_tiles = min_log2_tile_cols.max(tile_log2(max_tile_area_sb, sb_rows * sb_cols));

    let (cols, rows, cols_log2, rows_log2);
    if r.flag()? {
        // uniform_tile_spacing_flag
        let mut log2 = min_log2_tile_cols;
        while log2 < max_log2_tile_cols && r.flag()? {
            log2 += 1;
        }
        cols_log2 = log2;
        let tile_width_sb = (sb_cols + (1 << cols_log2) - 1) >> cols_log2;
        cols = sb_cols.div_ceil(tile_width_sb);
        let mut log2 = min_log2_tiles.saturating_sub(cols_log2);
        while log2 < max_log2_tile_rows && r.flag()? {
            log2 += 1;
        }
        rows_log2 = log2;
        let tile_height_sb = (sb_rows + (1 << rows_log2) - 1) >> rows_log2;
        rows = sb_rows.div_ceil(tile_height_sb);
    } else {
        let mut widest_tile_sb = 0;
        let mut start_sb = 0;
        let mut count = 0;
        while start_sb < sb_cols {
            let max_width = (sb_cols - start_sb).min(max_tile_width_sb);
            let size_sb = r.ns(max_width)? + 1;
            widest_tile_sb = widest_tile_sb.max(size_sb);
            start_sb += size_sb;
            count += 1;
        }
        cols = count;
        cols_log2 = tile_log2(1, cols);
        max_tile_area_sb = if min_log2_tiles > 0 {
            (sb_rows * sb_cols) >> (min_log2_tiles + 1)
        } else {
            sb_rows * sb_cols
        };
        let max_tile_height_sb = (max_tile_area_sb / widest_tile_sb).max(1);
        let mut start_sb = 0;
        let mut count = 0;
        while start_sb < sb_rows {
            let max_height = (sb_rows - start_sb).min(max_tile_height_sb);
            start_sb += r.ns(max_height)? + 1;
            count += 1;
        }
        rows = count;
        rows_log2 = tile_log2(1, rows);
    }
    // Conformance limits (5.9.15 semantics); they also bound NumTiles at 4096.
    if cols > MAX_TILE_COLS || rows > MAX_TILE_ROWS {
        return invalid(format!("{cols} x {rows} tiles (at most 64 x 64)"));
    }
    let size_bytes = if cols_log2 > 0 || rows_log2 > 0 {
        r.skip((cols_log2 + rows_log2) as usize)?; // context_update_tile_id
        r.f(2)? + 1
    } else {
        4
    };
    Ok(TileLayout {
        cols,
        rows,
        cols_log2,
        rows_log2,
        size_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_spacing_counts_tiles_from_the_log2_increments() {
        // 1280x720 in 64x64 superblocks: 20 x 12 superblocks (mi 320 x 180).
        // uniform = 1, one column increment then stop (0), one row increment then stop,
        // context_update_tile_id (2 bits), tile_size_bytes_minus_1 = 3.
        let bytes = pack("1 10 10 00 11");
        let mut r = BitReader::new(&bytes);
        let t = tile_info(&mut r, 320, 180, false).unwrap();
        assert_eq!((t.cols, t.rows, t.cols_log2, t.rows_log2), (2, 2, 1, 1));
        assert_eq!(t.size_bytes, 4);
        assert_eq!(r.position(), 1 + 2 + 2 + 2 + 2);
        // One tile: nothing after the two stop bits.
        let mut r = BitReader::new(&[0b1000_0000]);
        let t = tile_info(&mut r, 320, 180, false).unwrap();
        assert_eq!((t.cols, t.rows, t.count()), (1, 1, 1));
        assert_eq!(r.position(), 3);
    }

    #[test]
    fn explicit_spacing_reads_each_tile_width() {
        // 640x360: 10 x 6 superblocks. Columns of 4 and 6 superblocks: ns(10) = 3 codes
        // 3 in three bits (w = 4, m = 6: values under 6 take three bits), then ns(6) = 5
        // (w = 3, m = 2: five is 0b11 then 1). One row: ns(6) = 5. Then one bit of
        // context_update_tile_id and tile_size_bytes_minus_1 = 1.
        let bits = "0 011 111 111 0 01";
        let bytes = pack(bits);
        let mut r = BitReader::new(&bytes);
        let t = tile_info(&mut r, 160, 90, false).unwrap();
        assert_eq!((t.cols, t.rows, t.cols_log2, t.rows_log2), (2, 1, 1, 0));
        assert_eq!(t.size_bytes, 2);
        assert_eq!(r.position(), 13);
    }

    fn pack(bits: &str) -> Vec<u8> {
        let bits: Vec<u8> = bits.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        bits.chunks(8)
            .map(|c| {
                c.iter()
                    .chain(std::iter::repeat(&b'0'))
                    .take(8)
                    .fold(0u8, |acc, &b| (acc << 1) | (b - b'0'))
            })
            .collect()
    }
}
