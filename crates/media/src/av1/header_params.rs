//! The coding tool parameters of an uncompressed header that come after `tile_info()`
//! (AV1 spec 5.9.12 `quantization_params`, 5.9.13 `read_delta_q`, 5.9.14
//! `segmentation_params`, 5.9.17 `delta_q_params`, 5.9.18 `delta_lf_params`, 5.9.11
//! `loop_filter_params`, 5.9.19 `cdef_params`, 5.9.20 `lr_params`, 5.9.21 `read_tx_mode`,
//! 5.9.23 `frame_reference_mode`, 5.9.22 `skip_mode_params`), read for the number of
//! bits they take and the few values later fields depend on.

use super::bits::{BitReader, Parsed};
use super::refs::{relative_dist, RefSlots, SegmentationFeatures, REFS_PER_FRAME};
use super::sequence::SequenceHeader;

/// `SEG_LVL_ALT_Q` (3).
const SEG_LVL_ALT_Q: usize = 0;
/// `Segmentation_Feature_Bits`, `_Signed` and `_Max` (5.9.14): 8 bits for the
/// quantizer, 6 for each loop filter level, 3 for the reference frame, none for skip and
/// global motion.
const FEATURE_BITS: [u32; 8] = [8, 6, 6, 6, 6, 3, 0, 0];
const FEATURE_SIGNED: [bool; 8] = [true, true, true, true, true, false, false, false];
const FEATURE_MAX: [i32; 8] = [255, 63, 63, 63, 63, 7, 0, 0];

/// What `quantization_params()` decides for losslessness: `base_q_idx`, and whether any
/// of `DeltaQYDc`, `DeltaQUDc`, `DeltaQUAc`, `DeltaQVDc`, `DeltaQVAc` is not zero.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Quantization {
    pub(crate) base_q_idx: u32,
    pub(crate) any_delta: bool,
}

/// 5.9.12 `quantization_params`.
pub(crate) fn quantization_params(
    r: &mut BitReader<'_>,
    seq: &SequenceHeader,
) -> Parsed<Quantization> {
    let base_q_idx = r.f(8)?;
    let mut any_delta = read_delta_q(r)? != 0;
    if seq.num_planes() > 1 {
        let diff_uv_delta = seq.separate_uv_delta_q && r.flag()?;
        let planes = if diff_uv_delta { 4 } else { 2 };
        for _ in 0..planes {
            any_delta |= read_delta_q(r)? != 0;
        }
    }
    if r.flag()? {
        // using_qmatrix: qm_y, qm_u, and qm_v when coded apart.
        r.skip(if seq.separate_uv_delta_q { 12 } else { 8 })?;
    }
    Ok(Quantization {
        base_q_idx,
        any_delta,
    })
}

/// 5.9.13 `read_delta_q`.
fn read_delta_q(r: &mut BitReader<'_>) -> Parsed<i32> {
    if r.flag()? {
        r.su(7)
    } else {
        Ok(0)
    }
}

/// 5.9.14 `segmentation_params`. `previous` holds what `load_previous()` loaded from the
/// primary reference frame (or what `setup_past_independence()` cleared when there is
/// none); returns whether segmentation is on, and the features in force.
pub(crate) fn segmentation_params(
    r: &mut BitReader<'_>,
    primary_ref_frame_none: bool,
    previous: SegmentationFeatures,
) -> Parsed<(bool, SegmentationFeatures)> {
    if !r.flag()? {
        return Ok((false, SegmentationFeatures::default()));
    }
    let update_data = if primary_ref_frame_none {
        true
    } else {
        // segmentation_update_map, then segmentation_temporal_update when it is set.
        if r.flag()? {
            r.skip(1)?;
        }
        r.flag()?
    };
    if !update_data {
        return Ok((true, previous));
    }
    let mut features = SegmentationFeatures::default();
    for segment in 0..features.enabled.len() {
        for j in 0..FEATURE_BITS.len() {
            if !r.flag()? {
                continue;
            }
            features.enabled[segment] |= 1 << j;
            let limit = FEATURE_MAX[j];
            let value = if FEATURE_SIGNED[j] {
                r.su(1 + FEATURE_BITS[j])?.clamp(-limit, limit)
            } else {
                (r.f(FEATURE_BITS[j])? as i32).clamp(0, limit)
            };
            features.data[segment][j] = value as i16;
        }
    }
    Ok((true, features))
}

/// `CodedLossless` (5.9.2): every segment's `get_qindex(1, segmentId)` (7.12.2) is 0 and
/// no quantizer delta is coded.
pub(crate) fn coded_lossless(
    q: Quantization,
    segmentation_enabled: bool,
    features: &SegmentationFeatures,
) -> bool {
    if q.any_delta {
        return false;
    }
    (0..features.enabled.len()).all(|segment| {
        let qindex = if segmentation_enabled && features.is_enabled(segment, SEG_LVL_ALT_Q) {
            (q.base_q_idx as i32 + i32::from(features.data[segment][SEG_LVL_ALT_Q])).clamp(0, 255)
        } else {
            q.base_q_idx as i32
        };
        qindex == 0
    })
}

/// 5.9.17 `delta_q_params` then 5.9.18 `delta_lf_params`.
pub(crate) fn delta_params(
    r: &mut BitReader<'_>,
    base_q_idx: u32,
    allow_intrabc: bool,
) -> Parsed<()> {
    let delta_q_present = base_q_idx > 0 && r.flag()?;
    if delta_q_present {
        r.skip(2)?; // delta_q_res
        if !allow_intrabc && r.flag()? {
            r.skip(3)?; // delta_lf_res, delta_lf_multi
        }
    }
    Ok(())
}

/// 5.9.11 `loop_filter_params`.
pub(crate) fn loop_filter_params(
    r: &mut BitReader<'_>,
    seq: &SequenceHeader,
    coded_lossless: bool,
    allow_intrabc: bool,
) -> Parsed<()> {
    if coded_lossless || allow_intrabc {
        return Ok(());
    }
    let level0 = r.f(6)?;
    let level1 = r.f(6)?;
    if seq.num_planes() > 1 && (level0 != 0 || level1 != 0) {
        r.skip(12)?; // loop_filter_level[2], [3]
    }
    r.skip(3)?; // loop_filter_sharpness
    if r.flag()? && r.flag()? {
        // loop_filter_delta_enabled and loop_filter_delta_update: TOTAL_REFS_PER_FRAME
        // reference deltas, then two mode deltas, each su(1 + 6) when updated.
        for _ in 0..8 + 2 {
            if r.flag()? {
                r.skip(7)?;
            }
        }
    }
    Ok(())
}

/// 5.9.19 `cdef_params`.
pub(crate) fn cdef_params(
    r: &mut BitReader<'_>,
    seq: &SequenceHeader,
    coded_lossless: bool,
    allow_intrabc: bool,
) -> Parsed<()> {
    if coded_lossless || allow_intrabc || !seq.enable_cdef {
        return Ok(());
    }
    r.skip(2)?; // cdef_damping_minus_3
    let cdef_bits = r.f(2)?;
    let per_strength = if seq.num_planes() > 1 { 12 } else { 6 };
    r.skip((1usize << cdef_bits) * per_strength)
}

/// 5.9.20 `lr_params`.
pub(crate) fn lr_params(
    r: &mut BitReader<'_>,
    seq: &SequenceHeader,
    all_lossless: bool,
    allow_intrabc: bool,
) -> Parsed<()> {
    if all_lossless || allow_intrabc || !seq.enable_restoration {
        return Ok(());
    }
    let mut uses_lr = false;
    let mut uses_chroma_lr = false;
    for plane in 0..seq.num_planes() {
        // lr_type 0 is RESTORE_NONE (Remap_Lr_Type).
        if r.f(2)? != 0 {
            uses_lr = true;
            uses_chroma_lr |= plane > 0;
        }
    }
    if uses_lr {
        // lr_unit_shift, then lr_unit_extra_shift with 64x64 superblocks when it is set.
        if r.flag()? && !seq.use_128x128_superblock {
            r.skip(1)?;
        }
        if seq.subsampling_x && seq.subsampling_y && uses_chroma_lr {
            r.skip(1)?; // lr_uv_shift
        }
    }
    Ok(())
}

/// 5.9.21 `read_tx_mode` then 5.9.23 `frame_reference_mode`: returns
/// `reference_select`.
pub(crate) fn tx_and_reference_mode(
    r: &mut BitReader<'_>,
    coded_lossless: bool,
    frame_is_intra: bool,
) -> Parsed<bool> {
    if !coded_lossless {
        r.skip(1)?; // tx_mode_select
    }
    Ok(!frame_is_intra && r.flag()?)
}

/// 5.9.22 `skip_mode_params`: `skip_mode_present` is coded only when a forward and a
/// backward reference (or two forward ones) exist, judged by the slots' order hints.
pub(crate) fn skip_mode_params(
    r: &mut BitReader<'_>,
    seq: &SequenceHeader,
    refs: &RefSlots,
    ref_frame_idx: &[usize; REFS_PER_FRAME],
    order_hint: u32,
    frame_is_intra: bool,
    reference_select: bool,
) -> Parsed<()> {
    if frame_is_intra || !reference_select || !seq.enable_order_hint {
        return Ok(());
    }
    let bits = seq.order_hint_bits;
    let dist = |a: u32, b: u32| relative_dist(bits, a, b);
    let hints = ref_frame_idx.map(|slot| refs.order_hint(slot));
    let mut forward: Option<u32> = None;
    let mut backward: Option<u32> = None;
    for &hint in &hints {
        if dist(hint, order_hint) < 0 {
            if forward.is_none_or(|f| dist(hint, f) > 0) {
                forward = Some(hint);
            }
        } else if dist(hint, order_hint) > 0 && backward.is_none_or(|b| dist(hint, b) < 0) {
            backward = Some(hint);
        }
    }
    let skip_mode_allowed = match (forward, backward) {
        (None, _) => false,
        (Some(_), Some(_)) => true,
        (Some(f), None) => hints.iter().any(|&hint| dist(hint, f) < 0),
    };
    if skip_mode_allowed {
        r.skip(1)?; // skip_mode_present
    }
    Ok(())
}
