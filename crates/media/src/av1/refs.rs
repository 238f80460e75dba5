//! The reference frame state that changes how many bits later frame headers take: for
//! each of the eight slots, what 7.20 (reference frame update process) saves and 7.21
//! (reference frame loading process) loads, as far as header parsing reads it. Also 7.8
//! (set frame refs process), which derives `ref_frame_idx` from the slots' order hints
//! when a header uses `frame_refs_short_signaling`.
//!
//! Saved CDFs, loop filter deltas, motion vectors and global motion parameters are left
//! out: they change values, not the number of bits read (`decode_subexp` of a global
//! motion parameter depends only on its number of symbols, 5.9.26).

use super::bits::{invalid, Parsed};

/// `NUM_REF_FRAMES` (3).
pub(crate) const NUM_REF_FRAMES: usize = 8;
/// `REFS_PER_FRAME` (3).
pub(crate) const REFS_PER_FRAME: usize = 7;
/// `MAX_SEGMENTS` and `SEG_LVL_MAX` (3).
pub(crate) const MAX_SEGMENTS: usize = 8;
pub(crate) const SEG_LVL_MAX: usize = 8;

/// `frame_type` (6.8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameType {
    Key,
    Inter,
    IntraOnly,
    Switch,
}

impl FrameType {
    pub(crate) fn from_code(code: u32) -> FrameType {
        match code & 3 {
            0 => FrameType::Key,
            1 => FrameType::Inter,
            2 => FrameType::IntraOnly,
            _ => FrameType::Switch,
        }
    }
}

/// The sizes of a frame (5.9.5-5.9.8): `UpscaledWidth`, `FrameWidth`, `FrameHeight`,
/// `RenderWidth`, `RenderHeight`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct FrameSize {
    pub(crate) upscaled_width: u32,
    pub(crate) frame_width: u32,
    pub(crate) frame_height: u32,
    pub(crate) render_width: u32,
    pub(crate) render_height: u32,
}

/// `FeatureEnabled` and `FeatureData` of the segmentation parameters (5.9.14): they
/// decide which segments are lossless, and so whether the loop filter, CDEF, loop
/// restoration and transform mode are coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct SegmentationFeatures {
    /// Bit `j` of `enabled[i]`: `FeatureEnabled[i][j]`.
    pub(crate) enabled: [u8; MAX_SEGMENTS],
    pub(crate) data: [[i16; SEG_LVL_MAX]; MAX_SEGMENTS],
}

impl SegmentationFeatures {
    pub(crate) fn is_enabled(&self, segment: usize, feature: usize) -> bool {
        self.enabled[segment] & (1 << feature) != 0
    }
}

/// What one reference slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RefFrame {
    pub(crate) frame_type: FrameType,
    pub(crate) order_hint: u32,
    pub(crate) size: FrameSize,
    pub(crate) segmentation: SegmentationFeatures,
}

/// The eight reference slots; a slot is empty until a frame is saved into it. Frames are
/// only ever read from slots a conforming stream has filled since its last random access
/// point, so reading an empty one is refused rather than guessed.
#[derive(Debug, Clone, Default)]
pub(crate) struct RefSlots([Option<RefFrame>; NUM_REF_FRAMES]);

impl RefSlots {
    pub(crate) fn get(&self, slot: usize) -> Parsed<&RefFrame> {
        match self.0.get(slot) {
            Some(Some(frame)) => Ok(frame),
            _ => invalid(format!("reference slot {slot} holds no frame")),
        }
    }

    /// `RefOrderHint[slot]`: 0 for an empty slot, as after a key frame's reset (5.9.2).
    pub(crate) fn order_hint(&self, slot: usize) -> u32 {
        self.0
            .get(slot)
            .and_then(|f| f.as_ref())
            .map_or(0, |f| f.order_hint)
    }

    /// 7.20: saves `frame` into every slot whose bit is set in `refresh_frame_flags`.
    pub(crate) fn refresh(&mut self, refresh_frame_flags: u8, frame: &RefFrame) {
        for (i, slot) in self.0.iter_mut().enumerate() {
            if refresh_frame_flags & (1 << i) != 0 {
                *slot = Some(*frame);
            }
        }
    }
}

/// `get_relative_dist(a, b)` (5.9.3) with `OrderHintBits` = `bits` (0 when order hints
/// are off).
pub(crate) fn relative_dist(bits: u32, a: u32, b: u32) -> i32 {
    if bits == 0 {
        return 0;
    }
    let diff = a.wrapping_sub(b) as i32;
    let m = 1i32 << (bits - 1);
    (diff & (m - 1)) - (diff & m)
}

/// 7.8 set frame refs process: `ref_frame_idx` from `last_frame_idx` and
/// `gold_frame_idx` and the slots' order hints relative to the current frame's.
pub(crate) fn set_frame_refs(
    refs: &RefSlots,
    bits: u32,
    order_hint: u32,
    last_frame_idx: usize,
    gold_frame_idx: usize,
) -> [usize; REFS_PER_FRAME] {
    // Indices into ref_frame_idx of LAST_FRAME..ALTREF_FRAME (LAST_FRAME is 1).
    const LAST: usize = 0;
    const GOLDEN: usize = 3;
    const BWDREF: usize = 4;
    const ALTREF2: usize = 5;
    const ALTREF: usize = 6;
    let mut idx: [Option<usize>; REFS_PER_FRAME] = [None; REFS_PER_FRAME];
    idx[LAST] = Some(last_frame_idx);
    idx[GOLDEN] = Some(gold_frame_idx);
    let mut used = [false; NUM_REF_FRAMES];
    used[last_frame_idx] = true;
    used[gold_frame_idx] = true;
    let cur = 1i32 << bits.saturating_sub(1);
    let shifted: [i32; NUM_REF_FRAMES] =
        std::array::from_fn(|i| cur + relative_dist(bits, refs.order_hint(i), order_hint));

    // find_latest_backward: the latest frame at or after the current one.
    let latest_backward = pick(&shifted, &used, |h, best| {
        h >= cur && best.is_none_or(|b| h >= b)
    });
    if let Some(r) = latest_backward {
        idx[ALTREF] = Some(r);
        used[r] = true;
    }
    // find_earliest_backward, twice.
    for target in [BWDREF, ALTREF2] {
        let earliest_backward = pick(&shifted, &used, |h, best| {
            h >= cur && best.is_none_or(|b| h < b)
        });
        if let Some(r) = earliest_backward {
            idx[target] = Some(r);
            used[r] = true;
        }
    }
    // Ref_Frame_List: LAST2, LAST3, BWDREF, ALTREF2, ALTREF, from find_latest_forward.
    for target in [1, 2, BWDREF, ALTREF2, ALTREF] {
        if idx[target].is_none() {
            let latest_forward = pick(&shifted, &used, |h, best| {
                h < cur && best.is_none_or(|b| h >= b)
            });
            if let Some(r) = latest_forward {
                idx[target] = Some(r);
                used[r] = true;
            }
        }
    }
    // Whatever is left takes the earliest frame of all, used or not.
    let mut earliest = 0;
    for i in 1..NUM_REF_FRAMES {
        if shifted[i] < shifted[earliest] {
            earliest = i;
        }
    }
    idx.map(|i| i.unwrap_or(earliest))
}

/// The unused slot that `better(hint, best_hint_so_far)` keeps last, scanning in order.
fn pick(
    shifted: &[i32; NUM_REF_FRAMES],
    used: &[bool; NUM_REF_FRAMES],
    better: impl Fn(i32, Option<i32>) -> bool,
) -> Option<usize> {
    let mut best: Option<(usize, i32)> = None;
    for (i, &hint) in shifted.iter().enumerate() {
        if !used[i] && better(hint, best.map(|(_, h)| h)) {
            best = Some((i, hint));
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots_with_hints(hints: [u32; NUM_REF_FRAMES]) -> RefSlots {
        let mut refs = RefSlots::default();
        for (i, h) in hints.into_iter().enumerate() {
            refs.refresh(
                1 << i,
                &RefFrame {
                    frame_type: FrameType::Inter,
                    order_hint: h,
                    size: FrameSize::default(),
                    segmentation: SegmentationFeatures::default(),
                },
            );
        }
        refs
    }

    #[test]
    fn relative_distance_wraps_at_the_order_hint_width() {
        assert_eq!(relative_dist(7, 5, 3), 2);
        assert_eq!(relative_dist(7, 3, 5), -2);
        assert_eq!(relative_dist(7, 1, 127), 2);
        assert_eq!(relative_dist(7, 127, 1), -2);
        assert_eq!(relative_dist(0, 9, 1), 0);
    }

    #[test]
    fn short_signaling_fills_every_reference() {
        // Current frame at hint 8; slots hold 7, 6, 4, 0, 10, 12, 9, 5.
        let refs = slots_with_hints([7, 6, 4, 0, 10, 12, 9, 5]);
        let idx = set_frame_refs(&refs, 7, 8, 0, 3);
        // LAST = 0 and GOLDEN = 3 as signalled; ALTREF the latest backward (12, slot 5);
        // BWDREF then ALTREF2 the earliest backward left (9, slot 6; 10, slot 4);
        // LAST2 and LAST3 the latest forward left (6, slot 1; 5, slot 7).
        assert_eq!(idx, [0, 1, 7, 3, 6, 4, 5]);
        // Nothing backward: the backward references fall to forward frames, and what is
        // left takes the earliest frame of all.
        let refs = slots_with_hints([1, 2, 3, 4, 5, 6, 7, 0]);
        let idx = set_frame_refs(&refs, 7, 8, 6, 0);
        assert_eq!(idx, [6, 5, 4, 0, 3, 2, 1]);
    }

    #[test]
    fn empty_slots_are_refused_and_refresh_fills_by_flag() {
        let mut refs = RefSlots::default();
        assert!(refs.get(0).is_err());
        assert!(refs.get(8).is_err());
        let frame = RefFrame {
            frame_type: FrameType::Key,
            order_hint: 3,
            size: FrameSize::default(),
            segmentation: SegmentationFeatures::default(),
        };
        refs.refresh(0b1000_0001, &frame);
        assert_eq!(refs.get(0).unwrap().order_hint, 3);
        assert_eq!(refs.get(7).unwrap().order_hint, 3);
        assert!(refs.get(1).is_err());
        assert_eq!(refs.order_hint(1), 0);
    }
}
