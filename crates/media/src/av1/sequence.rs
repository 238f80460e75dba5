//! The sequence header OBU (AV1 spec 5.5: 5.5.1 `sequence_header_obu`, 5.5.2
//! `color_config`, 5.5.3 `timing_info`, 5.5.4 `decoder_model_info`, 5.5.5
//! `operating_parameters_info`), kept as far as frame headers and the codec string need.

use super::bits::{invalid, BitReader, Parsed};

/// `SELECT_SCREEN_CONTENT_TOOLS` and `SELECT_INTEGER_MV` (3): the frame header says.
pub(crate) const SELECT: u8 = 2;

/// Most operating points a sequence header has (`operating_points_cnt_minus_1` is 5 bits).
const MAX_OPERATING_POINTS: usize = 32;

/// What a sequence header says that decides how frame headers are read, and the fields
/// of the codec string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceHeader {
    /// `seq_profile`.
    pub profile: u8,
    /// `seq_level_idx[0]`: the level of operating point 0.
    pub level_idx: u8,
    /// `seq_tier[0]`: the high tier.
    pub tier: bool,
    /// `BitDepth` (5.5.2).
    pub bit_depth: u8,
    pub(crate) reduced_still_picture_header: bool,
    /// `decoder_model_info_present_flag && !equal_picture_interval`: frame headers carry
    /// a `temporal_point_info`.
    pub(crate) temporal_point_info: bool,
    /// With decoder model info: `frame_presentation_time_length_minus_1 + 1` and
    /// `buffer_removal_time_length_minus_1 + 1`.
    pub(crate) decoder_model: Option<DecoderModel>,
    pub(crate) operating_points: usize,
    pub(crate) operating_point_idc: [u16; MAX_OPERATING_POINTS],
    /// Bit i: `decoder_model_present_for_this_op[i]`.
    pub(crate) decoder_model_present: u32,
    pub(crate) frame_width_bits: u32,
    pub(crate) frame_height_bits: u32,
    pub(crate) max_frame_width: u32,
    pub(crate) max_frame_height: u32,
    /// With `frame_id_numbers_present_flag`: `delta_frame_id_length_minus_2 + 2` and
    /// `idLen`.
    pub(crate) frame_ids: Option<FrameIdLengths>,
    pub(crate) use_128x128_superblock: bool,
    pub(crate) enable_warped_motion: bool,
    pub(crate) enable_order_hint: bool,
    pub(crate) enable_ref_frame_mvs: bool,
    pub(crate) seq_force_screen_content_tools: u8,
    pub(crate) seq_force_integer_mv: u8,
    /// `OrderHintBits`.
    pub(crate) order_hint_bits: u32,
    pub(crate) enable_superres: bool,
    pub(crate) enable_cdef: bool,
    pub(crate) enable_restoration: bool,
    pub(crate) mono_chrome: bool,
    pub(crate) subsampling_x: bool,
    pub(crate) subsampling_y: bool,
    pub(crate) separate_uv_delta_q: bool,
    pub(crate) film_grain_params_present: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DecoderModel {
    pub(crate) buffer_removal_time_length: u32,
    pub(crate) frame_presentation_time_length: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameIdLengths {
    pub(crate) delta_frame_id_length: u32,
    pub(crate) id_len: u32,
}

impl SequenceHeader {
    /// `NumPlanes`.
    pub(crate) fn num_planes(&self) -> u32 {
        if self.mono_chrome {
            1
        } else {
            3
        }
    }

    /// Whether operating point `op` has a decoder model (`decoder_model_present_for_this_op`).
    pub(crate) fn has_decoder_model(&self, op: usize) -> bool {
        self.decoder_model_present & (1 << op) != 0
    }
}

/// 5.5.1 `sequence_header_obu`.
pub(crate) fn sequence_header(r: &mut BitReader<'_>) -> Parsed<SequenceHeader> {
    let profile = r.f(3)? as u8;
    if profile > 2 {
        return invalid(format!("seq_profile {profile} is reserved"));
    }
    r.skip(1)?; // still_picture
    let reduced_still_picture_header = r.flag()?;
    let mut operating_point_idc = [0u16; MAX_OPERATING_POINTS];
    let mut decoder_model_present = 0u32;
    let mut decoder_model = None;
    let mut temporal_point_info = false;
    let (operating_points, level_idx, tier);
    if reduced_still_picture_header {
        operating_points = 1;
        level_idx = r.f(5)? as u8;
        tier = false;
    } else {
        let mut equal_picture_interval = false;
        let mut buffer_delay_length = 0;
        if r.flag()? {
            // 5.5.3 timing_info: num_units_in_display_tick, time_scale.
            r.skip(64)?;
            equal_picture_interval = r.flag()?;
            if equal_picture_interval {
                r.uvlc()?; // num_ticks_per_picture_minus_1
            }
            if r.flag()? {
                // 5.5.4 decoder_model_info.
                buffer_delay_length = r.f(5)? + 1;
                r.skip(32)?; // num_units_in_decoding_tick
                let buffer_removal_time_length = r.f(5)? + 1;
                let frame_presentation_time_length = r.f(5)? + 1;
                decoder_model = Some(DecoderModel {
                    buffer_removal_time_length,
                    frame_presentation_time_length,
                });
            }
        }
        temporal_point_info = decoder_model.is_some() && !equal_picture_interval;
        let initial_display_delay_present = r.flag()?;
        operating_points = r.f(5)? as usize + 1;
        let (mut level0, mut tier0) = (0, false);
        for (i, idc) in operating_point_idc
            .iter_mut()
            .enumerate()
            .take(operating_points)
        {
            *idc = r.f(12)? as u16;
            let level = r.f(5)? as u8;
            let high_tier = level > 7 && r.flag()?;
            if i == 0 {
                (level0, tier0) = (level, high_tier);
            }
            if decoder_model.is_some() && r.flag()? {
                decoder_model_present |= 1 << i;
                // 5.5.5 operating_parameters_info: decoder_buffer_delay,
                // encoder_buffer_delay, low_delay_mode_flag.
                r.skip(2 * buffer_delay_length as usize + 1)?;
            }
            if initial_display_delay_present && r.flag()? {
                r.skip(4)?; // initial_display_delay_minus_1
            }
        }
        (level_idx, tier) = (level0, tier0);
    }
    let frame_width_bits = r.f(4)? + 1;
    let frame_height_bits = r.f(4)? + 1;
    let max_frame_width = r.f(frame_width_bits)? + 1;
    let max_frame_height = r.f(frame_height_bits)? + 1;
    let frame_ids = if !reduced_still_picture_header && r.flag()? {
        let delta_frame_id_length = r.f(4)? + 2;
        let additional = r.f(3)? + 1;
        Some(FrameIdLengths {
            delta_frame_id_length,
            id_len: additional + delta_frame_id_length,
        })
    } else {
        None
    };
    let use_128x128_superblock = r.flag()?;
    r.skip(2)?; // enable_filter_intra, enable_intra_edge_filter
    let mut enable_warped_motion = false;
    let mut enable_order_hint = false;
    let mut enable_ref_frame_mvs = false;
    let mut seq_force_screen_content_tools = SELECT;
    let mut seq_force_integer_mv = SELECT;
    let mut order_hint_bits = 0;
    if !reduced_still_picture_header {
        r.skip(2)?; // enable_interintra_compound, enable_masked_compound
        enable_warped_motion = r.flag()?;
        r.skip(1)?; // enable_dual_filter
        enable_order_hint = r.flag()?;
        if enable_order_hint {
            r.skip(1)?; // enable_jnt_comp
            enable_ref_frame_mvs = r.flag()?;
        }
        seq_force_screen_content_tools = if r.flag()? { SELECT } else { r.f(1)? as u8 };
        seq_force_integer_mv = if seq_force_screen_content_tools > 0 {
            if r.flag()? {
                SELECT
            } else {
                r.f(1)? as u8
            }
        } else {
            SELECT
        };
        if enable_order_hint {
            order_hint_bits = r.f(3)? + 1;
        }
    }
    let enable_superres = r.flag()?;
    let enable_cdef = r.flag()?;
    let enable_restoration = r.flag()?;
    let color = color_config(r, profile)?;
    let film_grain_params_present = r.flag()?;
    Ok(SequenceHeader {
        profile,
        level_idx,
        tier,
        bit_depth: color.bit_depth,
        reduced_still_picture_header,
        temporal_point_info,
        decoder_model,
        operating_points,
        operating_point_idc,
        decoder_model_present,
        frame_width_bits,
        frame_height_bits,
        max_frame_width,
        max_frame_height,
        frame_ids,
        use_128x128_superblock,
        enable_warped_motion,
        enable_order_hint,
        enable_ref_frame_mvs,
        seq_force_screen_content_tools,
        seq_force_integer_mv,
        order_hint_bits,
        enable_superres,
        enable_cdef,
        enable_restoration,
        mono_chrome: color.mono_chrome,
        subsampling_x: color.subsampling_x,
        subsampling_y: color.subsampling_y,
        separate_uv_delta_q: color.separate_uv_delta_q,
        film_grain_params_present,
    })
}

struct ColorConfig {
    bit_depth: u8,
    mono_chrome: bool,
    subsampling_x: bool,
    subsampling_y: bool,
    separate_uv_delta_q: bool,
}

/// 5.5.2 `color_config`; `profile` is at most 2.
fn color_config(r: &mut BitReader<'_>, profile: u8) -> Parsed<ColorConfig> {
    let high_bitdepth = r.flag()?;
    let bit_depth = match (profile, high_bitdepth) {
        (2, true) if r.flag()? => 12,
        (_, true) => 10,
        (_, false) => 8,
    };
    let mono_chrome = profile != 1 && r.flag()?;
    // CP_UNSPECIFIED, TC_UNSPECIFIED, MC_UNSPECIFIED without a colour description.
    let (primaries, transfer, matrix) = if r.flag()? {
        (r.f(8)?, r.f(8)?, r.f(8)?)
    } else {
        (2, 2, 2)
    };
    if mono_chrome {
        r.skip(1)?; // color_range
        return Ok(ColorConfig {
            bit_depth,
            mono_chrome,
            subsampling_x: true,
            subsampling_y: true,
            separate_uv_delta_q: false,
        });
    }
    // CP_BT_709, TC_SRGB, MC_IDENTITY: 4:4:4 RGB, full range, nothing more coded.
    let (subsampling_x, subsampling_y) = if (primaries, transfer, matrix) == (1, 13, 0) {
        (false, false)
    } else {
        r.skip(1)?; // color_range
        let subsampling = match profile {
            0 => (true, true),
            1 => (false, false),
            _ if bit_depth == 12 => {
                let x = r.flag()?;
                (x, x && r.flag()?)
            }
            _ => (true, false),
        };
        if subsampling == (true, true) {
            r.skip(2)?; // chroma_sample_position
        }
        subsampling
    };
    Ok(ColorConfig {
        bit_depth,
        mono_chrome,
        subsampling_x,
        subsampling_y,
        separate_uv_delta_q: r.flag()?,
    })
}
