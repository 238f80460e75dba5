//! `film_grain_params()` (AV1 spec 5.9.30), read for its bits. A frame that reuses a
//! reference frame's parameters (`update_grain` = 0) names the slot and codes nothing
//! more, so no grain state has to be kept across frames.

use super::bits::{BitReader, Parsed};
use super::refs::FrameType;
use super::sequence::SequenceHeader;

/// 5.9.30.
pub(crate) fn film_grain_params(
    r: &mut BitReader<'_>,
    seq: &SequenceHeader,
    frame_type: FrameType,
    show_frame: bool,
    showable_frame: bool,
) -> Parsed<()> {
    if !seq.film_grain_params_present || (!show_frame && !showable_frame) {
        return Ok(());
    }
    if !r.flag()? {
        return Ok(()); // apply_grain
    }
    r.skip(16)?; // grain_seed
    let update_grain = frame_type != FrameType::Inter || r.flag()?;
    if !update_grain {
        r.skip(3)?; // film_grain_params_ref_idx
        return Ok(());
    }
    let num_y_points = r.f(4)?;
    r.skip(16 * num_y_points as usize)?; // point_y_value, point_y_scaling
    let chroma_scaling_from_luma = !seq.mono_chrome && r.flag()?;
    let (num_cb_points, num_cr_points) = if seq.mono_chrome
        || chroma_scaling_from_luma
        || (seq.subsampling_x && seq.subsampling_y && num_y_points == 0)
    {
        (0, 0)
    } else {
        let cb = r.f(4)?;
        r.skip(16 * cb as usize)?;
        let cr = r.f(4)?;
        r.skip(16 * cr as usize)?;
        (cb, cr)
    };
    r.skip(2)?; // grain_scaling_minus_8
    let ar_coeff_lag = r.f(2)? as usize;
    let num_pos_luma = 2 * ar_coeff_lag * (ar_coeff_lag + 1);
    let num_pos_chroma = if num_y_points > 0 {
        r.skip(8 * num_pos_luma)?; // ar_coeffs_y_plus_128
        num_pos_luma + 1
    } else {
        num_pos_luma
    };
    if chroma_scaling_from_luma || num_cb_points > 0 {
        r.skip(8 * num_pos_chroma)?; // ar_coeffs_cb_plus_128
    }
    if chroma_scaling_from_luma || num_cr_points > 0 {
        r.skip(8 * num_pos_chroma)?; // ar_coeffs_cr_plus_128
    }
    r.skip(2 + 2)?; // ar_coeff_shift_minus_6, grain_scale_shift
    if num_cb_points > 0 {
        r.skip(8 + 8 + 9)?; // cb_mult, cb_luma_mult, cb_offset
    }
    if num_cr_points > 0 {
        r.skip(8 + 8 + 9)?; // cr_mult, cr_luma_mult, cr_offset
    }
    r.skip(2) // overlap_flag, clip_to_restricted_range
}
