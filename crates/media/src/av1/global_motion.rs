//! `global_motion_params()` (AV1 spec 5.9.24), `read_global_param()` (5.9.25) and the
//! sub-exponential codes they use (5.9.26 `decode_signed_subexp_with_ref`, 5.9.27
//! `decode_unsigned_subexp_with_ref`, 5.9.28 `decode_subexp`).
//!
//! Only the number of bits matters here. A parameter is coded relative to the previous
//! frame's (`PrevGmParams`), but that reference only recenters the decoded value: the
//! bits `decode_subexp(numSyms)` reads depend on `numSyms` alone, which comes from the
//! motion type and `allow_high_precision_mv`, never from earlier frames.

use super::bits::{BitReader, Parsed};

/// `GM_ABS_ALPHA_BITS`, `GM_ABS_TRANS_ONLY_BITS`, `GM_ABS_TRANS_BITS` (3).
const GM_ABS_ALPHA_BITS: u32 = 12;
const GM_ABS_TRANS_ONLY_BITS: u32 = 9;
const GM_ABS_TRANS_BITS: u32 = 12;

/// The motion types of 5.9.24 (`IDENTITY` needs no parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum MotionType {
    Identity,
    Translation,
    RotZoom,
    Affine,
}

/// 5.9.24 for an inter frame (an intra frame codes none).
pub(crate) fn global_motion_params(
    r: &mut BitReader<'_>,
    allow_high_precision_mv: bool,
) -> Parsed<()> {
    // LAST_FRAME to ALTREF_FRAME.
    for _ in 0..7 {
        let kind = if !r.flag()? {
            MotionType::Identity
        } else if r.flag()? {
            MotionType::RotZoom
        } else if r.flag()? {
            MotionType::Translation
        } else {
            MotionType::Affine
        };
        if kind >= MotionType::RotZoom {
            let params = if kind == MotionType::Affine { 4 } else { 2 };
            for _ in 0..params {
                read_global_param(r, GM_ABS_ALPHA_BITS)?;
            }
        }
        if kind >= MotionType::Translation {
            let abs_bits = if kind == MotionType::Translation {
                GM_ABS_TRANS_ONLY_BITS - u32::from(!allow_high_precision_mv)
            } else {
                GM_ABS_TRANS_BITS
            };
            for _ in 0..2 {
                read_global_param(r, abs_bits)?;
            }
        }
    }
    Ok(())
}

/// 5.9.25: a parameter in `-(1 << abs_bits) ..= 1 << abs_bits`, read with
/// `decode_signed_subexp_with_ref`, which codes `decode_subexp(2 * mx + 1)`.
fn read_global_param(r: &mut BitReader<'_>, abs_bits: u32) -> Parsed<()> {
    let mx = 1u32 << abs_bits;
    decode_subexp(r, 2 * mx + 1)
}

/// 5.9.28 `decode_subexp(numSyms)`, for its bits.
fn decode_subexp(r: &mut BitReader<'_>, num_syms: u32) -> Parsed<()> {
    let mut i = 0;
    let mut mk = 0u32;
    let k = 3;
    loop {
        let b2 = if i > 0 { k + i - 1 } else { k };
        let a = 1u32 << b2;
        if num_syms <= mk + 3 * a {
            r.ns(num_syms - mk)?; // subexp_final_bits
            return Ok(());
        }
        if !r.flag()? {
            r.skip(b2 as usize)?; // subexp_bits
            return Ok(());
        }
        // subexp_more_bits
        i += 1;
        mk += a;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subexp_codes_take_the_bits_of_their_branch() {
        // numSyms 8193 (mx = 4096): a 0 after the first flag reads 3 more bits.
        let mut r = BitReader::new(&[0b0000_0000]);
        decode_subexp(&mut r, 8193).unwrap();
        assert_eq!(r.position(), 4);
        // 1 then 0: b2 = 3 again, 3 bits.
        let mut r = BitReader::new(&[0b1000_0000]);
        decode_subexp(&mut r, 8193).unwrap();
        assert_eq!(r.position(), 5);
        // Small numSyms go straight to ns: numSyms 17 <= 3 * 8 takes ns(17): 4 or 5 bits.
        let mut r = BitReader::new(&[0]);
        decode_subexp(&mut r, 17).unwrap();
        assert_eq!(r.position(), 4);
    }

    #[test]
    fn an_all_identity_frame_takes_seven_bits() {
        let mut r = BitReader::new(&[0, 0]);
        global_motion_params(&mut r, true).unwrap();
        assert_eq!(r.position(), 7);
        // A translation-only LAST_FRAME without high precision: is_global, !rot_zoom,
        // is_translation, then two parameters of numSyms 2^9 + 1 (each 0 then 3 bits).
        let mut r = BitReader::new(&[0b1010_0000, 0, 0]);
        global_motion_params(&mut r, false).unwrap();
        assert_eq!(r.position(), 3 + 4 + 4 + 6);
    }
}
