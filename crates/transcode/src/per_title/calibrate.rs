//! Calibrating the fast sample encodes against the ladder's own preset.
//!
//! The samples are encoded with a fast preset to keep the analysis cheap, but a CRF does
//! not mean the same picture in every preset: x264's `superfast` has no lookahead and so
//! no macroblock tree, and at one CRF it spends about twice the bits of `medium` for a
//! better picture. Taken as they are, the samples would choose CRFs that the final encode
//! turns into rungs several points below their targets.
//!
//! So the top size is encoded once more over the same excerpts, with the ladder's preset
//! at one CRF near where top rungs fall (x264's 23, in each codec's scale), in the same
//! process as the samples, and scored with them. Where the fast curve of that size
//! reaches the score the final preset gave tells how far apart the two presets' CRF
//! scales are ([`measure`]). Every point of every curve then moves by that much before
//! the ladder is chosen ([`apply`]): the final preset reaches a point's score that many
//! steps away, at the fast curve's rate there times the ratio of the two presets' rates.
//! So the hull, the ceiling and the rate bounds all see what the ladder's own encode will
//! spend (`medium` spends about half of `superfast`'s bits for the same picture). The
//! encode is made before the ladder is known, so that it costs no decode of its own; the
//! distance between two presets' scales changes little along the scale.

use serde::{Deserialize, Serialize};

use super::hull::CurvePoint;

/// What the calibration encode found and how the ladder moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// The preset of the ladder's encode.
    pub preset: String,
    /// The CRF and size of the calibration encode.
    pub crf: u8,
    pub width: u32,
    pub height: u32,
    /// Score and bit rate of the fast samples at that CRF (interpolated) ...
    pub sample_score: f64,
    pub sample_bitrate: u64,
    /// ... and of the ladder's preset there.
    pub score: f64,
    pub bitrate: u64,
    /// The CRF steps every rung moved (negative: a lower CRF, a better picture).
    pub crf_shift: i8,
    /// The calibration encode or the samples beside it ran into the samples' rate cap
    /// (grain at 1080p): it measured the cap, not the preset, and nothing moved.
    #[serde(default)]
    pub capped: bool,
    /// How much better the ladder's preset looks than the fast one at the same bit rate
    /// (the calibration encode's score against the fast curve's at its rate): what an
    /// encode held by the ceiling, a fast encode at a rate the cap sets, gains in the
    /// ladder's preset.
    #[serde(default)]
    pub gain_at_equal_rate: f64,
}

/// An encode whose mean rate reaches this share of the VBV cap was held by the cap.
const CAPPED_SHARE: f64 = 0.8;

/// Whether an encode that averaged `rate` under the VBV cap `cap` was held by it.
pub(super) fn held(rate: f64, cap: u64) -> bool {
    rate >= CAPPED_SHARE * cap as f64
}

/// The largest shift applied: beyond it the two presets are too far apart for one
/// measurement to be trusted, and the ladder keeps the nearer CRFs.
const MAX_SHIFT: f64 = 8.0;

/// The CRF, fractional, at which the curve `points` of one size (one point per integer
/// CRF, score falling as CRF rises) reaches `score`, within the CRFs measured.
fn crf_for_score(points: &[CurvePoint], score: f64) -> Option<f64> {
    let mut curve: Vec<&CurvePoint> = points.iter().collect();
    curve.sort_by_key(|p| p.crf);
    let (first, last) = (curve.first()?, curve.last()?);
    if score >= first.score {
        return Some(f64::from(first.crf));
    }
    if score <= last.score {
        return Some(f64::from(last.crf));
    }
    curve.windows(2).find_map(|w| {
        let (a, b) = (w[0], w[1]);
        (score <= a.score && score >= b.score).then(|| {
            let t = if a.score > b.score {
                (a.score - score) / (a.score - b.score)
            } else {
                0.0
            };
            f64::from(a.crf) + t * f64::from(b.crf - a.crf)
        })
    })
}

/// The curve of one size: its points in CRF order, encodes held by the ceiling left out
/// (they are no points of the curve).
fn curve_of(points: &[CurvePoint], size: (u32, u32)) -> Vec<CurvePoint> {
    let mut curve: Vec<CurvePoint> = points
        .iter()
        .filter(|p| (p.width, p.height) == size && !p.capped)
        .copied()
        .collect();
    curve.sort_by_key(|p| p.crf);
    curve
}

/// The point of `curve` at `crf`, the nearest one when `crf` is outside it.
fn at(curve: &[CurvePoint], crf: i16) -> Option<&CurvePoint> {
    curve.iter().min_by_key(|p| (i16::from(p.crf) - crf).abs())
}

/// The bit rate of `curve` (one size, in CRF order) at `crf`: interpolated between the
/// two points around it on a log scale (rate falls about exponentially with CRF), or
/// extrapolated from its nearest end, so that a point moved past the CRFs sampled still
/// costs what it would. Nothing for a curve of fewer than two points.
fn rate_at(curve: &[CurvePoint], crf: i16) -> Option<f64> {
    let last = curve.len().checked_sub(2)?;
    let k = curve
        .windows(2)
        .position(|w| crf <= i16::from(w[1].crf))
        .unwrap_or(last);
    let (a, b) = (&curve[k], &curve[k + 1]);
    let span = f64::from(i16::from(b.crf) - i16::from(a.crf));
    let (la, lb) = (
        (a.bitrate.max(1) as f64).ln(),
        (b.bitrate.max(1) as f64).ln(),
    );
    let t = if span > 0.0 {
        f64::from(crf - i16::from(a.crf)) / span
    } else {
        0.0
    };
    Some((la + (lb - la) * t).exp())
}

/// The rate the ladder's preset would spend at `crf` on `curve` (the fast samples of the
/// calibration's size, measured CRFs; no score is needed), from the calibration encode's
/// rate at `at_crf`: the fast curve's rate there times the two presets' ratio. Nothing
/// when either encode at `at_crf` was held by the cap: the ratio is then unknown.
pub(super) fn final_rate(
    curve: &[CurvePoint],
    at_crf: u8,
    calibration_rate: u64,
    cap: u64,
    crf: u8,
) -> Option<f64> {
    let mut curve = curve_of(curve, (curve.first()?.width, curve.first()?.height));
    curve.dedup_by_key(|p| p.crf);
    let fast_there = rate_at(&curve, i16::from(at_crf))?;
    if held(calibration_rate as f64, cap) || held(fast_there, cap) {
        return None;
    }
    let fast_here = rate_at(&curve, i16::from(crf))?;
    Some(fast_here * calibration_rate as f64 / fast_there.max(1.0))
}

/// The score of `curve` (one size, in CRF order, rates falling) at `rate`, interpolated
/// on a log scale between the two points around it; nothing outside the curve.
fn score_at_rate(curve: &[CurvePoint], rate: u64) -> Option<f64> {
    let r = (rate.max(1) as f64).ln();
    curve.windows(2).find_map(|w| {
        let (hi, lo) = (w[0], w[1]);
        let (rh, rl) = (
            (hi.bitrate.max(1) as f64).ln(),
            (lo.bitrate.max(1) as f64).ln(),
        );
        (rl <= r && r <= rh).then(|| {
            let t = if rh > rl { (rh - r) / (rh - rl) } else { 0.0 };
            hi.score + (lo.score - hi.score) * t
        })
    })
}

/// What the calibration encode measured: the ladder's preset at `size` and `crf` gave
/// `score` at `bitrate`.
#[derive(Debug, Clone)]
pub(super) struct Measured<'a> {
    pub(super) preset: &'a str,
    pub(super) size: (u32, u32),
    pub(super) crf: u8,
    pub(super) score: f64,
    pub(super) bitrate: u64,
    /// The VBV cap of the calibration and sample encodes, bits per second.
    pub(super) cap: u64,
}

/// Reads the distance between the two presets off the calibration encode and the fast
/// curve of its size (`points`, interpolated). Nothing when there is no fast curve at
/// that size.
pub(super) fn measure(points: &[CurvePoint], measured: &Measured<'_>) -> Option<Calibration> {
    let Measured {
        preset,
        size,
        crf: at_crf,
        score,
        bitrate,
        cap,
    } = *measured;
    let curve = curve_of(points, size);
    let fast = at(&curve, i16::from(at_crf))?;
    let record = |crf_shift: i8, capped: bool| Calibration {
        preset: preset.to_string(),
        crf: at_crf,
        width: size.0,
        height: size.1,
        sample_score: (fast.score * 100.0).round() / 100.0,
        sample_bitrate: fast.bitrate,
        score,
        bitrate,
        crf_shift,
        capped,
        gain_at_equal_rate: score_at_rate(&curve, bitrate)
            .map_or(0.0, |fast| ((score - fast) * 100.0).round() / 100.0),
    };
    // Held by the cap, the two encodes compare two rate controls, not two presets: a
    // shift read off them was +4 on grain, where the presets' own distance is about -3.
    if held(bitrate as f64, cap) || held(fast.bitrate as f64, cap) {
        return Some(record(0, true));
    }
    // The fast preset reaches the final preset's score at CRF `at_crf + d`; the final
    // preset then reaches the fast preset's score `d` steps lower.
    let reached = crf_for_score(&curve, score)?;
    let shift = (f64::from(at_crf) - reached).clamp(-MAX_SHIFT, MAX_SHIFT);
    // A score at or above the best the fast curve reached (a still picture scores 100 at
    // every CRF) says the final preset is at least that good, not how much better: the
    // CRFs may move down, never up.
    let best = curve.iter().map(|p| p.score).fold(f64::MIN, f64::max);
    let shift = if score >= best { shift.min(0.0) } else { shift }.round() as i8;
    Some(record(shift, false))
}

/// `points` (the interpolated fast curves of every size) as the ladder's preset makes
/// them: each point's score at the CRF `crf_shift` steps away (within 1..=`max_crf`, the
/// encoder's range), at the fast curve's rate there times the ratio of the two presets'
/// rates. A calibration held by the cap moves no CRF. An encode held by the ceiling keeps
/// its CRF and rate (the cap, not the CRF, sets its picture) and gains what the ladder's
/// preset gains at an equal rate.
pub(super) fn apply(points: &[CurvePoint], c: &Calibration, max_crf: u8) -> Vec<CurvePoint> {
    let ratio = c.bitrate as f64 / c.sample_bitrate.max(1) as f64;
    let mut curves: Vec<((u32, u32), Vec<CurvePoint>)> = Vec::new();
    for p in points {
        let size = (p.width, p.height);
        if !curves.iter().any(|(s, _)| *s == size) {
            curves.push((size, curve_of(points, size)));
        }
    }
    points
        .iter()
        .map(|p| {
            if p.capped {
                return CurvePoint {
                    score: (p.score + c.gain_at_equal_rate).min(100.0),
                    ..*p
                };
            }
            if c.capped {
                return *p;
            }
            let crf = (i16::from(p.crf) + i16::from(c.crf_shift)).clamp(1, i16::from(max_crf));
            let curve = curves
                .iter()
                .find(|(s, _)| *s == (p.width, p.height))
                .map_or(&[][..], |(_, c)| c.as_slice());
            let rate = rate_at(curve, crf).unwrap_or(p.bitrate as f64);
            CurvePoint {
                crf: crf as u8,
                bitrate: (rate * ratio).round().max(1.0) as u64,
                ..*p
            }
        })
        .collect()
}

/// Whether an encode held by the ceiling still tells something once the curves are
/// calibrated: only where the ladder's preset cannot reach its picture at that size under
/// the ceiling. Where it can (a flat title: `medium` at CRF 19 spent 3.4 Mb/s where
/// `superfast` ran into the 5 Mb/s ceiling), the curve's own points under the ceiling are
/// what the rung would be, and the held encode would only cap it at the ceiling for
/// nothing.
pub(super) fn ceiling_binds(points: &[CurvePoint], held: &CurvePoint, ceiling: u64) -> bool {
    !points.iter().any(|p| {
        !p.capped
            && (p.width, p.height) == (held.width, held.height)
            && p.score >= held.score
            && p.bitrate <= ceiling
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::per_title::hull::tests::{bounds, point};
    use crate::per_title::hull::{choose, interpolate, upper_hull, HullBounds};

    /// The calibration encode at 1080p CRF 23, under a cap it never reaches.
    fn at_1080p(preset: &'static str, score: f64, bitrate: u64) -> Measured<'static> {
        Measured {
            preset,
            size: (1920, 1080),
            crf: 23,
            score,
            bitrate,
            cap: 100_000_000_000,
        }
    }

    /// The fast curves of a title: 1080p 100 at CRF 19, 96 at 26, 90 at 33; 360p below.
    fn fast_curves() -> Vec<CurvePoint> {
        interpolate(&[
            point(1080, 19, 13_000, 100.0),
            point(1080, 26, 8_000, 96.0),
            point(1080, 33, 3_500, 90.0),
            point(360, 19, 1_200, 75.0),
            point(360, 26, 470, 73.0),
            point(360, 33, 220, 70.0),
        ])
    }

    #[test]
    fn every_point_moves_by_the_presets_distance_at_the_final_presets_rate() {
        let points = fast_curves();
        // The final preset gives 95.14 at CRF 23, which the fast curve reaches at about
        // CRF 27.5: the final preset reaches each score about 4.5 steps lower (-4 or -5
        // as it rounds), and spends 9 Mb/s where the fast one spent its rate at 23.
        let c = measure(&points, &at_1080p("medium", 95.14, 9_000_000)).unwrap();
        assert_eq!((c.crf, c.width, c.height), (23, 1920, 1080));
        assert!(c.crf_shift == -4 || c.crf_shift == -5, "{c:?}");
        assert!(!c.capped);
        let fast_23 = points
            .iter()
            .find(|p| p.height == 1080 && p.crf == 23)
            .unwrap();
        assert_eq!(c.sample_bitrate, fast_23.bitrate);
        let ratio = 9_000_000.0 / fast_23.bitrate as f64;
        let moved = apply(&points, &c, 51);
        assert_eq!(moved.len(), points.len());
        for (m, p) in moved.iter().zip(&points) {
            // Same picture, CRF moved, rate the fast curve's at the new CRF times the ratio.
            assert_eq!(m.score, p.score);
            assert_eq!(i16::from(m.crf), i16::from(p.crf) + i16::from(c.crf_shift));
            let curve = curve_of(&points, (p.width, p.height));
            let fast = rate_at(&curve, i16::from(m.crf)).unwrap();
            assert_eq!(m.bitrate, (fast * ratio).round() as u64);
        }
        // Past the CRFs sampled (19 moved to 15 or 14), the rate goes on rising as the
        // curve rises from 26 to 19.
        let top = moved
            .iter()
            .filter(|p| p.height == 1080)
            .min_by_key(|p| p.crf)
            .unwrap();
        assert!(top.crf < 19);
        assert!(top.bitrate as f64 > 13_000_000.0 * ratio, "{top:?}");
        // The ladder is chosen from the moved points: its top rung reaches the target at
        // a CRF the final preset needs for it.
        let rungs = choose(&upper_hull(&moved), &bounds());
        assert!(rungs[0].score >= 95.0 && rungs[0].crf < 26, "{rungs:?}");
    }

    #[test]
    fn presets_that_agree_move_nothing_and_shifts_are_bounded() {
        let points = interpolate(&[point(720, 20, 4_000, 97.0), point(720, 40, 200, 60.0)]);
        let same_rate = *points.iter().find(|p| p.crf == 23).unwrap();
        let m = Measured {
            size: (1280, 720),
            ..at_1080p("medium", same_rate.score, same_rate.bitrate)
        };
        let c = measure(&points, &m).unwrap();
        assert_eq!(c.crf_shift, 0);
        assert_eq!(apply(&points, &c, 51), points);
        // A final preset far worse than anything sampled moves at most 8 steps.
        let m = Measured {
            score: 10.0,
            bitrate: 100_000,
            ..m
        };
        assert_eq!(measure(&points, &m).unwrap().crf_shift, -8);
        // No fast curve at the calibration's size: nothing to measure.
        let elsewhere = Measured {
            size: (1, 1),
            ..m.clone()
        };
        assert_eq!(measure(&points, &elsewhere), None);
        // A preset far better than the samples moves the CRFs up, but never past what the
        // encoder takes.
        let steep = interpolate(&[point(720, 40, 300, 80.0), point(720, 50, 100, 60.0)]);
        let m = Measured {
            crf: 48,
            score: 68.0,
            bitrate: 100_000,
            ..m
        };
        let c = measure(&steep, &m).unwrap();
        assert_eq!(c.crf_shift, 2);
        let moved = apply(&steep, &c, 49);
        assert_eq!(moved.iter().map(|p| p.crf).max(), Some(49), "clamped");
        // 99 is above the fast curve: no farther than its first CRF.
        let m = Measured {
            crf: 40,
            score: 99.0,
            ..m
        };
        assert_eq!(measure(&steep, &m).unwrap().crf_shift, 0);
    }

    #[test]
    fn a_saturated_calibration_never_raises_the_crfs() {
        // A still picture: 100 at CRF 19 and 26, 99.2 at 33. The final preset also gives
        // 100 at CRF 23, which says nothing about CRF 33.
        let points = interpolate(&[
            point(360, 19, 13_000, 100.0),
            point(360, 26, 11_400, 100.0),
            point(360, 33, 10_300, 99.2),
        ]);
        let m = Measured {
            preset: "veryfast",
            size: (640, 360),
            crf: 23,
            score: 100.0,
            bitrate: 10_000,
            cap: 100_000_000_000,
        };
        let c = measure(&points, &m).unwrap();
        assert_eq!(c.crf_shift, 0);
        let moved = apply(&points, &c, 51);
        assert!(moved.iter().zip(&points).all(|(m, p)| m.crf == p.crf));
    }

    #[test]
    fn a_calibration_held_by_the_rate_cap_moves_nothing() {
        // Grain: at 1080p the fast samples at CRF 19 and 26 both ran into the 10 Mb/s
        // cap, so the curve even rises from 19 to 26.
        let points = interpolate(&[
            point(1080, 19, 12_800, 45.85),
            point(1080, 26, 12_100, 46.31),
            point(1080, 33, 5_500, 42.53),
            point(720, 26, 4_900, 39.84),
            point(720, 33, 980, 36.04),
        ]);
        let m = Measured {
            preset: "medium",
            size: (1920, 1080),
            crf: 23,
            score: 46.14,
            bitrate: 11_190_000,
            cap: 10_000_000,
        };
        let c = measure(&points, &m).unwrap();
        assert!(c.capped, "{c:?}");
        assert_eq!(c.crf_shift, 0);
        assert_eq!(apply(&points, &c, 51), points);
        // The same encodes under a cap they never reach: a shift.
        let free = Measured {
            cap: 100_000_000,
            ..m
        };
        assert!(!measure(&points, &free).unwrap().capped);
    }

    #[test]
    fn an_encode_held_by_the_ceiling_counts_only_where_the_final_preset_needs_more() {
        let held = CurvePoint {
            capped: true,
            ..point(1080, 19, 5_200, 94.0)
        };
        let mut measured = vec![
            point(1080, 19, 9_000, 96.0),
            point(1080, 26, 4_000, 91.0),
            point(1080, 33, 1_500, 84.0),
        ];
        measured.push(held);
        let points = interpolate(&measured);
        // The fast preset needs over 5 Mb/s for 94: the ceiling binds.
        assert!(ceiling_binds(&points, &held, 5_000_000));
        // The final preset at half the fast preset's rate, same scale: it reaches 94
        // under the ceiling, and the held encode tells nothing.
        let c = measure(&points, &at_1080p("medium", 93.14, 2_870_000)).unwrap();
        assert_eq!(c.crf_shift, 0);
        let moved = apply(&points, &c, 51);
        let h = *moved.iter().find(|p| p.capped).unwrap();
        assert_eq!((h.crf, h.bitrate), (held.crf, held.bitrate), "not moved");
        assert!((h.score - (held.score + c.gain_at_equal_rate)).abs() < 1e-9);
        assert!(!ceiling_binds(&moved, &held, 5_000_000));
        // Under a ceiling the final preset cannot reach 94 under either, it binds again.
        assert!(ceiling_binds(&moved, &held, 2_000_000));
        // A held encode is the top rung where it binds, capped at the ceiling.
        let b = HullBounds {
            max_bitrate: 2_000_000,
            ..bounds()
        };
        let admitted: Vec<CurvePoint> = moved
            .iter()
            .filter(|p| match p.capped {
                true => ceiling_binds(&moved, p, b.max_bitrate),
                false => p.bitrate <= b.max_bitrate,
            })
            .copied()
            .collect();
        let rungs = choose(&upper_hull(&admitted), &b);
        assert!(rungs[0].capped && rungs[0].crf == 19, "{rungs:?}");
        assert_eq!(rungs[0].max_bitrate, 2_000_000);
    }

    #[test]
    fn an_encode_held_by_the_ceiling_gains_what_the_preset_gains_at_an_equal_rate() {
        let held = CurvePoint {
            capped: true,
            ..point(1080, 19, 4_900, 92.09)
        };
        let mut measured = fast_curves();
        measured.push(held);
        // Medium at CRF 23: 95.6 at 8 Mb/s, where the fast curve gives 96 (CRF 26).
        let c = measure(&measured, &at_1080p("medium", 95.0, 8_000_000)).unwrap();
        assert_eq!(c.gain_at_equal_rate, -1.0);
        let moved = apply(&measured, &c, 51);
        let h = moved.iter().find(|p| p.capped).unwrap();
        assert_eq!((h.crf, h.bitrate), (19, 4_900_000));
        assert!((h.score - 91.09).abs() < 1e-9);
        // Held calibrations too: both ran at about the cap, an equal rate.
        let held_cal = Measured {
            cap: 9_000_000,
            ..at_1080p("medium", 97.0, 8_000_000)
        };
        let c = measure(&measured, &held_cal).unwrap();
        assert!(c.capped && c.gain_at_equal_rate == 1.0, "{c:?}");
        assert_eq!(
            score_at_rate(&curve_of(&measured, (1920, 1080)), 20_000_000),
            None
        );
    }

    #[test]
    fn the_final_presets_rate_is_read_off_the_rates_alone() {
        // Moderate motion's top size: superfast at CRF 19, 26 and 33; medium at CRF 23
        // spent 6.19 Mb/s where superfast's curve gives 9.64 there.
        let curve = [
            point(1080, 19, 13_000, 0.0),
            point(1080, 26, 7_700, 0.0),
            point(1080, 33, 3_300, 0.0),
        ];
        let fast_23 = 13_000_000.0 * (7_700.0_f64 / 13_000.0).powf(4.0 / 7.0);
        let r = final_rate(&curve, 23, 6_190_000, 20_000_000, 19).unwrap();
        assert!(
            (r - 13_000_000.0 * 6_190_000.0 / fast_23).abs() < 1.0,
            "{r}"
        );
        assert!(r > 8_000_000.0 && r < 8_700_000.0, "{r}");
        // At a measured CRF the curve's own rate; past its end, extrapolated.
        let at_33 = final_rate(&curve, 23, 6_190_000, 20_000_000, 33).unwrap();
        assert!((at_33 - 3_300_000.0 * 6_190_000.0 / fast_23).abs() < 1.0);
        assert!(final_rate(&curve, 23, 6_190_000, 20_000_000, 40).unwrap() < at_33);
        // Held by the cap (either encode at CRF 23): unknown.
        assert_eq!(final_rate(&curve, 23, 6_190_000, 7_000_000, 19), None);
        assert_eq!(final_rate(&curve, 23, 1_000_000, 11_000_000, 19), None);
        assert_eq!(final_rate(&[], 23, 1, 1, 19), None);
    }

    #[test]
    fn the_crf_of_a_score_is_read_off_the_curve() {
        let curve = interpolate(&[point(720, 20, 4_000, 97.0), point(720, 30, 1_000, 87.0)]);
        assert_eq!(crf_for_score(&curve, 92.0), Some(25.0));
        assert_eq!(crf_for_score(&curve, 99.0), Some(20.0));
        assert_eq!(crf_for_score(&curve, 50.0), Some(30.0));
        assert_eq!(crf_for_score(&[], 50.0), None);
        // Rates past the ends follow the nearest segment on a log scale.
        let rate = |crf| rate_at(&curve, crf).unwrap().round();
        assert_eq!(rate(25), 2_000_000.0);
        assert!((rate(18) - 5_278_032.0).abs() < 50.0, "{}", rate(18));
        assert!(rate(35) < 1_000_000.0);
        assert_eq!(rate_at(&[], 20), None);
        assert_eq!(rate_at(&curve[..1], 18), None, "one point gives no slope");
    }
}
