//! `uncompressed_header()` (AV1 spec 5.9.2) with the frame size syntax it uses (5.9.5
//! `frame_size`, 5.9.6 `render_size`, 5.9.7 `frame_size_with_refs`, 5.9.8
//! `superres_params`, 5.9.9 `compute_image_size`), read for the number of bits the header
//! takes, the tile layout its tile groups need, and what the reference frame update
//! process (7.20) saves.
//!
//! Reading a header changes no state: it returns a [`FrameHeader`], and the caller saves
//! it into the reference slots once the frame is complete (7.4, 7.20).

use super::bits::{BitReader, Parsed};
use super::film_grain::film_grain_params;
use super::global_motion::global_motion_params;
use super::header_params::{
    cdef_params, coded_lossless, delta_params, loop_filter_params, lr_params, quantization_params,
    segmentation_params, skip_mode_params, tx_and_reference_mode,
};
use super::refs::{
    set_frame_refs, FrameSize, FrameType, RefFrame, RefSlots, SegmentationFeatures, REFS_PER_FRAME,
};
use super::sequence::{SequenceHeader, SELECT};
use super::tile_info::{tile_info, TileLayout};

/// `PRIMARY_REF_NONE` (3).
const PRIMARY_REF_NONE: u32 = 7;
/// `SUPERRES_NUM`, `SUPERRES_DENOM_MIN`, `SUPERRES_DENOM_BITS` (3).
const SUPERRES_NUM: u32 = 8;
const SUPERRES_DENOM_MIN: u32 = 9;
const SUPERRES_DENOM_BITS: u32 = 3;

/// What a frame header decides for the OBUs after it and for later frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameHeader {
    /// `show_existing_frame`: slot `frame_to_show_map_idx` is output again; a key frame
    /// shown this way refreshes every slot with itself (7.21, then 7.20).
    ShowExisting { slot: usize },
    /// A frame whose tile groups follow.
    Coded(CodedFrame),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CodedFrame {
    pub(crate) tiles: TileLayout,
    pub(crate) refresh_frame_flags: u8,
    /// What 7.20 saves into the refreshed slots.
    pub(crate) saved: RefFrame,
}

/// Where a header is read: the sequence header in force, the reference slots, and the
/// OBU extension's layer ids (which operating points' decoder models apply, 5.9.2).
pub(crate) struct HeaderContext<'a> {
    pub(crate) seq: &'a SequenceHeader,
    pub(crate) refs: &'a RefSlots,
    pub(crate) temporal_id: u8,
    pub(crate) spatial_id: u8,
}

/// 5.9.2 `uncompressed_header`.
pub(crate) fn uncompressed_header(
    r: &mut BitReader<'_>,
    cx: &HeaderContext<'_>,
) -> Parsed<FrameHeader> {
    let seq = cx.seq;
    let (frame_type, show_frame, showable_frame, error_resilient_mode);
    if seq.reduced_still_picture_header {
        (frame_type, show_frame, showable_frame) = (FrameType::Key, true, false);
        error_resilient_mode = true;
    } else {
        if r.flag()? {
            // show_existing_frame
            let slot = r.f(3)? as usize;
            temporal_point_info(r, seq)?;
            if let Some(ids) = seq.frame_ids {
                r.skip(ids.id_len as usize)?; // display_frame_id
            }
            cx.refs.get(slot)?;
            return Ok(FrameHeader::ShowExisting { slot });
        }
        frame_type = FrameType::from_code(r.f(2)?);
        show_frame = r.flag()?;
        if show_frame {
            temporal_point_info(r, seq)?;
        }
        showable_frame = if show_frame {
            frame_type != FrameType::Key
        } else {
            r.flag()?
        };
        error_resilient_mode = frame_type == FrameType::Switch
            || (frame_type == FrameType::Key && show_frame)
            || r.flag()?;
    }
    let frame_is_intra = matches!(frame_type, FrameType::Key | FrameType::IntraOnly);
    let disable_cdf_update = r.flag()?;
    let allow_screen_content_tools = if seq.seq_force_screen_content_tools == SELECT {
        r.flag()?
    } else {
        seq.seq_force_screen_content_tools != 0
    };
    // force_integer_mv is read even for an intra frame, which then forces it on.
    let coded_integer_mv = allow_screen_content_tools
        && if seq.seq_force_integer_mv == SELECT {
            r.flag()?
        } else {
            seq.seq_force_integer_mv != 0
        };
    let force_integer_mv = coded_integer_mv || frame_is_intra;
    if let Some(ids) = seq.frame_ids {
        r.skip(ids.id_len as usize)?; // current_frame_id
    }
    let frame_size_override_flag = match frame_type {
        FrameType::Switch => true,
        _ if seq.reduced_still_picture_header => false,
        _ => r.flag()?,
    };
    let order_hint = r.f(seq.order_hint_bits)?;
    let primary_ref_frame = if frame_is_intra || error_resilient_mode {
        PRIMARY_REF_NONE
    } else {
        r.f(3)?
    };
    buffer_removal_times(r, cx)?;
    let refresh_frame_flags =
        if frame_type == FrameType::Switch || (frame_type == FrameType::Key && show_frame) {
            0xff
        } else {
            r.f(8)? as u8
        };
    if (!frame_is_intra || refresh_frame_flags != 0xff)
        && error_resilient_mode
        && seq.enable_order_hint
    {
        // ref_order_hint[i]: a mismatch only marks the slot invalid (RefValid), which
        // changes no bit count.
        r.skip(8 * seq.order_hint_bits as usize)?;
    }

    let mut ref_frame_idx = [0usize; REFS_PER_FRAME];
    let size;
    let mut allow_intrabc = false;
    let mut allow_high_precision_mv = false;
    if frame_is_intra {
        size = frame_and_render_size(r, seq, frame_size_override_flag)?;
        allow_intrabc =
            allow_screen_content_tools && size.upscaled_width == size.frame_width && r.flag()?;
    } else {
        let short_signaling = seq.enable_order_hint && r.flag()?;
        if short_signaling {
            let last = r.f(3)? as usize;
            let gold = r.f(3)? as usize;
            ref_frame_idx = set_frame_refs(cx.refs, seq.order_hint_bits, order_hint, last, gold);
        }
        for idx in ref_frame_idx.iter_mut() {
            if !short_signaling {
                *idx = r.f(3)? as usize;
            }
            if let Some(ids) = seq.frame_ids {
                r.skip(ids.delta_frame_id_length as usize)?; // delta_frame_id_minus_1
            }
            cx.refs.get(*idx)?;
        }
        size = if frame_size_override_flag && !error_resilient_mode {
            frame_size_with_refs(r, seq, cx.refs, &ref_frame_idx)?
        } else {
            frame_and_render_size(r, seq, frame_size_override_flag)?
        };
        allow_high_precision_mv = !force_integer_mv && r.flag()?;
        if !r.flag()? {
            r.skip(2)?; // is_filter_switchable = 0: interpolation_filter
        }
        r.skip(1)?; // is_motion_mode_switchable
        if !error_resilient_mode && seq.enable_ref_frame_mvs {
            r.skip(1)?; // use_ref_frame_mvs
        }
    }
    if !seq.reduced_still_picture_header && !disable_cdf_update {
        r.skip(1)?; // disable_frame_end_update_cdf
    }
    // load_previous() (7.20's saved segmentation parameters) or
    // setup_past_independence() (cleared ones).
    let previous_segmentation = if primary_ref_frame == PRIMARY_REF_NONE {
        SegmentationFeatures::default()
    } else {
        cx.refs
            .get(ref_frame_idx[primary_ref_frame as usize])?
            .segmentation
    };

    let (mi_cols, mi_rows) = (
        2 * ((size.frame_width + 7) >> 3),
        2 * ((size.frame_height + 7) >> 3),
    );
    let tiles = tile_info(r, mi_cols, mi_rows, seq.use_128x128_superblock)?;
    let q = quantization_params(r, seq)?;
    let (segmentation_enabled, segmentation) = segmentation_params(
        r,
        primary_ref_frame == PRIMARY_REF_NONE,
        previous_segmentation,
    )?;
    delta_params(r, q.base_q_idx, allow_intrabc)?;
    let coded_lossless = coded_lossless(q, segmentation_enabled, &segmentation);
    let all_lossless = coded_lossless && size.frame_width == size.upscaled_width;
    loop_filter_params(r, seq, coded_lossless, allow_intrabc)?;
    cdef_params(r, seq, coded_lossless, allow_intrabc)?;
    lr_params(r, seq, all_lossless, allow_intrabc)?;
    let reference_select = tx_and_reference_mode(r, coded_lossless, frame_is_intra)?;
    skip_mode_params(
        r,
        seq,
        cx.refs,
        &ref_frame_idx,
        order_hint,
        frame_is_intra,
        reference_select,
    )?;
    if !frame_is_intra && !error_resilient_mode && seq.enable_warped_motion {
        r.skip(1)?; // allow_warped_motion
    }
    r.skip(1)?; // reduced_tx_set
    if !frame_is_intra {
        global_motion_params(r, allow_high_precision_mv)?;
    }
    film_grain_params(r, seq, frame_type, show_frame, showable_frame)?;
    Ok(FrameHeader::Coded(CodedFrame {
        tiles,
        refresh_frame_flags,
        saved: RefFrame {
            frame_type,
            order_hint,
            size,
            segmentation,
        },
    }))
}

/// 5.9.31 `temporal_point_info`, present when the decoder model times frames one by one.
fn temporal_point_info(r: &mut BitReader<'_>, seq: &SequenceHeader) -> Parsed<()> {
    match seq.decoder_model {
        Some(model) if seq.temporal_point_info => {
            r.skip(model.frame_presentation_time_length as usize)
        }
        _ => Ok(()),
    }
}

/// `buffer_removal_time` of every operating point with a decoder model that holds this
/// OBU's layer (5.9.2).
fn buffer_removal_times(r: &mut BitReader<'_>, cx: &HeaderContext<'_>) -> Parsed<()> {
    let seq = cx.seq;
    let Some(model) = seq.decoder_model else {
        return Ok(());
    };
    if !r.flag()? {
        return Ok(()); // buffer_removal_time_present_flag
    }
    for op in 0..seq.operating_points {
        if !seq.has_decoder_model(op) {
            continue;
        }
        let idc = u32::from(seq.operating_point_idc[op]);
        let in_temporal_layer = (idc >> cx.temporal_id) & 1 != 0;
        let in_spatial_layer = (idc >> (u32::from(cx.spatial_id) + 8)) & 1 != 0;
        if idc == 0 || (in_temporal_layer && in_spatial_layer) {
            r.skip(model.buffer_removal_time_length as usize)?;
        }
    }
    Ok(())
}

/// 5.9.5 `frame_size` with 5.9.8 `superres_params`; the render size is still to read.
fn frame_size(
    r: &mut BitReader<'_>,
    seq: &SequenceHeader,
    frame_size_override_flag: bool,
) -> Parsed<FrameSize> {
    let (width, height) = if frame_size_override_flag {
        (
            r.f(seq.frame_width_bits)? + 1,
            r.f(seq.frame_height_bits)? + 1,
        )
    } else {
        (seq.max_frame_width, seq.max_frame_height)
    };
    superres_params(r, seq, width, height)
}

/// 5.9.8 `superres_params` for a frame `upscaled_width` wide: the coded `FrameWidth`.
fn superres_params(
    r: &mut BitReader<'_>,
    seq: &SequenceHeader,
    upscaled_width: u32,
    frame_height: u32,
) -> Parsed<FrameSize> {
    let denom = if seq.enable_superres && r.flag()? {
        r.f(SUPERRES_DENOM_BITS)? + SUPERRES_DENOM_MIN
    } else {
        SUPERRES_NUM
    };
    let frame_width = (u64::from(upscaled_width) * u64::from(SUPERRES_NUM) + u64::from(denom / 2))
        / u64::from(denom);
    Ok(FrameSize {
        upscaled_width,
        frame_width: frame_width as u32,
        frame_height,
        render_width: upscaled_width,
        render_height: frame_height,
    })
}

/// `frame_size()` then `render_size()`.
fn frame_and_render_size(
    r: &mut BitReader<'_>,
    seq: &SequenceHeader,
    frame_size_override_flag: bool,
) -> Parsed<FrameSize> {
    let size = frame_size(r, seq, frame_size_override_flag)?;
    render_size(r, size)
}

/// 5.9.6 `render_size`.
fn render_size(r: &mut BitReader<'_>, mut size: FrameSize) -> Parsed<FrameSize> {
    if r.flag()? {
        size.render_width = r.f(16)? + 1;
        size.render_height = r.f(16)? + 1;
    }
    Ok(size)
}

/// 5.9.7 `frame_size_with_refs`: the size of the first reference frame that says so, or
/// one coded here.
fn frame_size_with_refs(
    r: &mut BitReader<'_>,
    seq: &SequenceHeader,
    refs: &RefSlots,
    ref_frame_idx: &[usize; REFS_PER_FRAME],
) -> Parsed<FrameSize> {
    for &slot in ref_frame_idx {
        if r.flag()? {
            // found_ref
            let reference = refs.get(slot)?.size;
            let mut size =
                superres_params(r, seq, reference.upscaled_width, reference.frame_height)?;
            size.render_width = reference.render_width;
            size.render_height = reference.render_height;
            return Ok(size);
        }
    }
    frame_and_render_size(r, seq, true)
}
