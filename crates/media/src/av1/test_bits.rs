//! Hand-made AV1 bitstreams for the reader's tests: a bit writer, OBU framing, and the
//! sequence and frame headers of a small stream written field by field from the syntax
//! tables of the AV1 spec (5.5, 5.9.2), independently of the reader.

use super::TileSpan;

/// Writes bits most significant first.
#[derive(Default)]
pub(crate) struct BitWriter {
    bytes: Vec<u8>,
    bits: usize,
}

impl BitWriter {
    /// `value` in `n` bits.
    pub(crate) fn put(&mut self, n: u32, value: u32) -> &mut Self {
        for i in (0..n).rev() {
            if self.bits.is_multiple_of(8) {
                self.bytes.push(0);
            }
            let bit = ((value >> i) & 1) as u8;
            let last = self.bytes.len() - 1;
            self.bytes[last] |= bit << (7 - self.bits % 8);
            self.bits += 1;
        }
        self
    }

    pub(crate) fn flag(&mut self, on: bool) -> &mut Self {
        self.put(1, u32::from(on))
    }

    /// Zero bits to the next byte boundary (`byte_alignment`).
    pub(crate) fn align(&mut self) -> &mut Self {
        self.bits = self.bits.next_multiple_of(8);
        self
    }

    /// `trailing_bits` (5.3.4): a one, then zeros to the byte boundary.
    pub(crate) fn trailing(&mut self) -> &mut Self {
        self.put(1, 1).align()
    }

    pub(crate) fn bytes(&self) -> Vec<u8> {
        self.bytes.clone()
    }
}

pub(crate) const OBU_SEQUENCE_HEADER: u8 = 1;
pub(crate) const OBU_TEMPORAL_DELIMITER: u8 = 2;
pub(crate) const OBU_FRAME_HEADER: u8 = 3;
pub(crate) const OBU_TILE_GROUP: u8 = 4;
pub(crate) const OBU_METADATA: u8 = 5;
pub(crate) const OBU_FRAME: u8 = 6;
pub(crate) const OBU_REDUNDANT_FRAME_HEADER: u8 = 7;
pub(crate) const OBU_PADDING: u8 = 15;

/// An OBU with a size field.
pub(crate) fn obu(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(kind << 3) | 0x02];
    out.extend(leb128(payload.len() as u64));
    out.extend_from_slice(payload);
    out
}

pub(crate) fn leb128(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// The test stream's sequence header: profile 0, level 8 (4.0), 8-bit 4:2:0, frames up
/// to 2048x1024 (11 and 10 bits of size), order hints of 7 bits, warped motion, reference
/// frame motion vectors, CDEF and loop restoration on, no superres, no film grain, no
/// frame ids, no decoder model.
pub(crate) fn sequence_header_payload(max_width: u32, max_height: u32) -> Vec<u8> {
    let mut w = BitWriter::default();
    w.put(3, 0) // seq_profile
        .flag(false) // still_picture
        .flag(false) // reduced_still_picture_header
        .flag(false) // timing_info_present_flag
        .flag(false) // initial_display_delay_present_flag
        .put(5, 0) // operating_points_cnt_minus_1
        .put(12, 0) // operating_point_idc[0]
        .put(5, 8) // seq_level_idx[0]
        .flag(false) // seq_tier[0]
        .put(4, 10) // frame_width_bits_minus_1
        .put(4, 9) // frame_height_bits_minus_1
        .put(11, max_width - 1)
        .put(10, max_height - 1)
        .flag(false) // frame_id_numbers_present_flag
        .flag(false) // use_128x128_superblock
        .flag(true) // enable_filter_intra
        .flag(true) // enable_intra_edge_filter
        .flag(false) // enable_interintra_compound
        .flag(false) // enable_masked_compound
        .flag(true) // enable_warped_motion
        .flag(false) // enable_dual_filter
        .flag(true) // enable_order_hint
        .flag(false) // enable_jnt_comp
        .flag(true) // enable_ref_frame_mvs
        .flag(false) // seq_choose_screen_content_tools
        .put(1, 0) // seq_force_screen_content_tools
        .put(3, 6) // order_hint_bits_minus_1
        .flag(false) // enable_superres
        .flag(true) // enable_cdef
        .flag(true) // enable_restoration
        // color_config
        .flag(false) // high_bitdepth
        .flag(false) // mono_chrome
        .flag(false) // color_description_present_flag
        .flag(false) // color_range
        .put(2, 0) // chroma_sample_position
        .flag(false) // separate_uv_delta_q
        .flag(false) // film_grain_params_present
        .trailing();
    w.bytes()
}

/// A frame of the test stream.
pub(crate) struct Frame {
    pub(crate) kind: FrameKind,
    pub(crate) show_frame: bool,
    pub(crate) order_hint: u32,
    pub(crate) size: Size,
    /// Uniform tile spacing: increments of `TileColsLog2` and `TileRowsLog2` over their
    /// minimum of 0, each followed by a stop bit while under the maximum.
    pub(crate) tiles_log2: (u32, u32),
    /// Superblock columns and rows of the frame, for the stop bits.
    pub(crate) superblocks: (u32, u32),
    /// `tile_size_bytes_minus_1 + 1`.
    pub(crate) tile_size_bytes: u32,
    pub(crate) refresh_frame_flags: u8,
    /// The slot every `ref_frame_idx` names (inter frames).
    pub(crate) ref_slot: u32,
}

/// How a frame's size is coded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Size {
    /// The sequence header's maximum (`frame_size_override_flag` = 0).
    Max,
    /// Coded in the frame (for an inter frame, `frame_size_with_refs` finding none).
    Explicit(u32, u32),
    /// An inter frame's `frame_size_with_refs` taking its first reference's size.
    FirstRef,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameKind {
    Key,
    Inter,
}

/// `uncompressed_header()` of a frame of the test stream (not byte aligned).
pub(crate) fn frame_header(w: &mut BitWriter, f: &Frame) {
    let intra = f.kind == FrameKind::Key;
    w.flag(false); // show_existing_frame
    w.put(2, if intra { 0 } else { 1 }); // frame_type
    w.flag(f.show_frame);
    if !f.show_frame {
        w.flag(true); // showable_frame
    }
    let error_resilient = intra && f.show_frame;
    if !error_resilient {
        w.flag(false); // error_resilient_mode
    }
    w.flag(false); // disable_cdf_update
                   // seq_force_screen_content_tools is 0: no allow_screen_content_tools.
    w.flag(f.size != Size::Max); // frame_size_override_flag
    w.put(7, f.order_hint);
    if !intra && !error_resilient {
        w.put(3, 0); // primary_ref_frame
    }
    if !(intra && f.show_frame) {
        w.put(8, u32::from(f.refresh_frame_flags));
    }
    if intra {
        if let Size::Explicit(width, height) = f.size {
            w.put(11, width - 1).put(10, height - 1);
        }
        w.flag(false); // render_and_frame_size_different
    } else {
        w.flag(false); // frame_refs_short_signaling
        for _ in 0..7 {
            w.put(3, f.ref_slot); // ref_frame_idx
        }
        match f.size {
            Size::Explicit(width, height) => {
                for _ in 0..7 {
                    w.flag(false); // found_ref
                }
                w.put(11, width - 1).put(10, height - 1);
                w.flag(false); // render_and_frame_size_different
            }
            // found_ref on the first reference: its size, nothing more (no superres).
            Size::FirstRef => {
                w.flag(true);
            }
            // frame_size() of the maximum, then render_size().
            Size::Max => {
                w.flag(false);
            }
        }
        w.flag(true); // allow_high_precision_mv
        w.flag(true); // is_filter_switchable
        w.flag(false); // is_motion_mode_switchable
        w.flag(false); // use_ref_frame_mvs
    }
    w.flag(true); // disable_frame_end_update_cdf
                  // tile_info: uniform spacing.
    w.flag(true);
    let (sb_cols, sb_rows) = f.superblocks;
    let max_cols_log2 = super::bits::tile_log2(1, sb_cols.min(64));
    let max_rows_log2 = super::bits::tile_log2(1, sb_rows.min(64));
    for (log2, max) in [
        (f.tiles_log2.0, max_cols_log2),
        (f.tiles_log2.1, max_rows_log2),
    ] {
        for _ in 0..log2 {
            w.flag(true);
        }
        if log2 < max {
            w.flag(false);
        }
    }
    if f.tiles_log2 != (0, 0) {
        w.put(f.tiles_log2.0 + f.tiles_log2.1, 0); // context_update_tile_id
        w.put(2, f.tile_size_bytes - 1);
    }
    // quantization_params: base_q_idx 100, no deltas, no qmatrix.
    w.put(8, 100)
        .flag(false)
        .flag(false)
        .flag(false)
        .flag(false);
    w.flag(false); // segmentation_enabled
    w.flag(false); // delta_q_present
                   // loop_filter_params: levels 0 and 0, sharpness, no deltas.
    w.put(6, 0).put(6, 0).put(3, 0).flag(false);
    // cdef_params: damping, cdef_bits 0, one strength for luma and chroma.
    w.put(2, 0).put(2, 0).put(12, 0);
    // lr_params: RESTORE_NONE for each plane.
    w.put(2, 0).put(2, 0).put(2, 0);
    w.flag(true); // tx_mode_select
    if !intra {
        w.flag(false); // reference_select
        w.flag(false); // allow_warped_motion
    }
    w.flag(false); // reduced_tx_set
    if !intra {
        for _ in 0..7 {
            w.flag(false); // is_global
        }
    }
}

/// A tile group's payload; `range` is `Some((tg_start, tg_end))` to code them.
pub(crate) fn tile_group_payload(
    f: &Frame,
    range: Option<(u32, u32)>,
    tiles: &[Vec<u8>],
) -> Vec<u8> {
    let mut w = BitWriter::default();
    let num_tiles = 1 << (f.tiles_log2.0 + f.tiles_log2.1);
    if num_tiles > 1 {
        w.flag(range.is_some());
        if let Some((start, end)) = range {
            let bits = f.tiles_log2.0 + f.tiles_log2.1;
            w.put(bits, start).put(bits, end);
        }
        w.align();
    }
    let mut out = w.bytes();
    for (i, tile) in tiles.iter().enumerate() {
        if i + 1 < tiles.len() {
            let size = tile.len() as u32 - 1;
            out.extend(&size.to_le_bytes()[..f.tile_size_bytes as usize]);
        }
        out.extend(tile);
    }
    out
}

/// A frame of the test stream with these fields, the rest defaulted.
pub(crate) fn frame(
    kind: FrameKind,
    size: Size,
    superblocks: (u32, u32),
    tiles_log2: (u32, u32),
) -> Frame {
    Frame {
        kind,
        show_frame: true,
        order_hint: 0,
        size,
        tiles_log2,
        superblocks,
        tile_size_bytes: 2,
        refresh_frame_flags: 0x01,
        ref_slot: 0,
    }
}

/// `n` tiles of distinct lengths and contents.
pub(crate) fn tile_bytes(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| vec![0xa0 + i as u8; 40 + 17 * i]).collect()
}

/// Where the tiles of a tile group payload starting at `at` lie.
pub(crate) fn spans(
    at: usize,
    f: &Frame,
    range: Option<(u32, u32)>,
    tiles: &[Vec<u8>],
) -> Vec<TileSpan> {
    let num_tiles = 1 << (f.tiles_log2.0 + f.tiles_log2.1);
    let header_bits = match (num_tiles > 1, range) {
        (false, _) => 0,
        (true, None) => 1,
        (true, Some(_)) => 1 + 2 * (f.tiles_log2.0 + f.tiles_log2.1) as usize,
    };
    let mut pos = at + header_bits.div_ceil(8);
    let mut out = Vec::new();
    for (i, tile) in tiles.iter().enumerate() {
        if i + 1 < tiles.len() {
            pos += f.tile_size_bytes as usize;
        }
        out.push(TileSpan {
            start: pos,
            len: tile.len(),
        });
        pos += tile.len();
    }
    out
}

/// Appends a frame OBU to `sample`; returns its tiles' spans.
pub(crate) fn push_frame(sample: &mut Vec<u8>, f: &Frame, tiles: &[Vec<u8>]) -> Vec<TileSpan> {
    let mut w = BitWriter::default();
    frame_header(&mut w, f);
    w.align();
    let mut payload = w.bytes();
    let header_len = payload.len();
    payload.extend(tile_group_payload(f, None, tiles));
    let at = sample.len() + 1 + leb128(payload.len() as u64).len() + header_len;
    sample.extend(obu(OBU_FRAME, &payload));
    spans(at, f, None, tiles)
}

pub(crate) fn sequence_header(width: u32, height: u32) -> Vec<u8> {
    obu(OBU_SEQUENCE_HEADER, &sequence_header_payload(width, height))
}

/// An `stsd` of one `av01` sample entry whose `av1C` carries `config_obus`.
pub(crate) fn av01_stsd(config_obus: &[u8]) -> Vec<u8> {
    let mut av1c = Vec::new();
    av1c.extend_from_slice(&(8 + 4 + config_obus.len() as u32).to_be_bytes());
    av1c.extend_from_slice(b"av1C");
    av1c.extend_from_slice(&[0x81, 0, 0, 0]);
    av1c.extend_from_slice(config_obus);
    // SampleEntry (8 + 8) and VisualSampleEntry (70) fields, zero but the data
    // reference index.
    let mut entry = vec![0u8; 86];
    entry[..4].copy_from_slice(&((86 + av1c.len()) as u32).to_be_bytes());
    entry[4..8].copy_from_slice(b"av01");
    entry[15] = 1;
    entry.extend_from_slice(&av1c);
    let mut stsd = Vec::new();
    stsd.extend_from_slice(&((16 + entry.len()) as u32).to_be_bytes());
    stsd.extend_from_slice(b"stsd");
    stsd.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
    stsd.extend_from_slice(&entry);
    stsd
}
