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
//! scales are, and every rung's CRF moves by that much; its expected bit rate follows the
//! ratio of the two presets' rates at that point and the fast curve's slope. The encode
//! is made before the ladder is known, so that it costs no decode of its own; the
//! distance between two presets' scales changes little along the scale.

use serde::{Deserialize, Serialize};

use super::hull::{cap_for, ChosenRung, CurvePoint, HullBounds};

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
}

/// An encode whose mean rate reaches this share of the VBV cap was held by the cap.
const CAPPED_SHARE: f64 = 0.8;

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

/// The point of `points` at `size` and `crf`, the nearest measured CRF when `crf` is
/// outside them.
fn at(points: &[CurvePoint], size: (u32, u32), crf: i16) -> Option<&CurvePoint> {
    points
        .iter()
        .filter(|p| (p.width, p.height) == size)
        .min_by_key(|p| (i16::from(p.crf) - crf).abs())
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

/// Moves `rungs` by what the calibration encode measured. `points` are the interpolated
/// fast curves of every size; CRFs stay within 1..=`max_crf`, the encoder's range.
/// Returns the calibration record; nothing when there is no rung or no fast curve at the
/// calibration's size.
pub(super) fn apply(
    rungs: &mut [ChosenRung],
    points: &[CurvePoint],
    max_crf: u8,
    measured: &Measured<'_>,
    bounds: &HullBounds,
) -> Option<Calibration> {
    if rungs.is_empty() {
        return None;
    }
    let Measured {
        preset,
        size,
        crf: at_crf,
        score,
        bitrate,
        cap,
    } = *measured;
    let curve: Vec<CurvePoint> = points
        .iter()
        .filter(|p| (p.width, p.height) == size)
        .copied()
        .collect();
    let fast = at(&curve, size, i16::from(at_crf))?;
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
    };
    // Held by the cap, the two encodes compare two rate controls, not two presets: a
    // shift read off them was +4 on grain, where the presets' own distance is about -3.
    let held = |rate: u64| rate as f64 >= CAPPED_SHARE * cap as f64;
    if held(bitrate) || held(fast.bitrate) {
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
    let rate_ratio = bitrate as f64 / fast.bitrate.max(1) as f64;
    for r in rungs.iter_mut() {
        let size = (r.width, r.height);
        let crf = (i16::from(r.crf) + i16::from(shift)).clamp(1, i16::from(max_crf));
        let (Some(here), Some(there)) = (at(points, size, i16::from(r.crf)), at(points, size, crf))
        else {
            continue;
        };
        let slope = there.bitrate as f64 / here.bitrate.max(1) as f64;
        r.crf = crf as u8;
        r.expected_bitrate = (r.expected_bitrate as f64 * rate_ratio * slope).round() as u64;
        r.max_bitrate = cap_for(r.expected_bitrate, bounds);
    }
    Some(record(shift, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::per_title::hull::tests::{bounds, point};
    use crate::per_title::hull::{choose, interpolate, upper_hull};

    /// The calibration made at the top rung's size and CRF.
    fn at_top(
        rungs: &[ChosenRung],
        preset: &'static str,
        score: f64,
        bitrate: u64,
    ) -> Measured<'static> {
        Measured {
            preset,
            size: (rungs[0].width, rungs[0].height),
            crf: rungs[0].crf,
            score,
            bitrate,
            cap: 100_000_000_000,
        }
    }

    #[test]
    fn a_calibration_off_the_top_rung_moves_the_ladder_by_the_same_distance() {
        let points = interpolate(&[
            point(1080, 19, 13_000, 100.0),
            point(1080, 26, 8_000, 96.0),
            point(1080, 33, 3_500, 90.0),
            point(360, 19, 1_200, 75.0),
            point(360, 33, 220, 70.0),
        ]);
        let mut rungs = choose(&upper_hull(&points), &bounds());
        let before = rungs.clone();
        assert_eq!(before[0].crf, 27);
        // Measured at CRF 23 (the fast curve: 97.71 there): the final preset's 95.14 is
        // the fast curve's at about CRF 27.5, so 4 steps lower (rounded from 4.5 up).
        let m = Measured {
            preset: "medium",
            size: (1920, 1080),
            crf: 23,
            score: 95.14,
            bitrate: 9_000_000,
            cap: 100_000_000_000,
        };
        let c = apply(&mut rungs, &points, 51, &m, &bounds()).unwrap();
        assert_eq!((c.crf, c.width, c.height), (23, 1920, 1080));
        assert!(c.crf_shift == -4 || c.crf_shift == -5, "{c:?}");
        for (r, b) in rungs.iter().zip(&before) {
            assert_eq!(i16::from(r.crf), i16::from(b.crf) + i16::from(c.crf_shift));
        }
    }

    #[test]
    fn a_preset_that_scores_lower_at_one_crf_moves_every_rung_down_the_crf_scale() {
        // The fast curve of 1080p: 100 at CRF 19, 96 at 26, 90 at 33; 360p below.
        let points = interpolate(&[
            point(1080, 19, 13_000, 100.0),
            point(1080, 26, 8_000, 96.0),
            point(1080, 33, 3_500, 90.0),
            point(360, 19, 1_200, 75.0),
            point(360, 26, 470, 73.0),
            point(360, 33, 220, 70.0),
        ]);
        let mut rungs = choose(&upper_hull(&points), &bounds());
        let before = rungs.clone();
        let top = &before[0];
        assert_eq!((top.height, top.crf), (1080, 27));
        // The final preset gives 91.75 at CRF 27, which the fast curve reaches at about
        // CRF 31.0: the final preset needs about 4 steps lower.
        let m = at_top(&rungs, "medium", 91.75, 3_400_000);
        let c = apply(&mut rungs, &points, 51, &m, &bounds()).unwrap();
        assert_eq!(c.crf_shift, -4);
        assert_eq!(c.crf, 27);
        for (r, b) in rungs.iter().zip(&before) {
            assert_eq!(i16::from(r.crf), i16::from(b.crf) - 4, "{}", r.name);
            assert!(r.max_bitrate >= r.expected_bitrate.min(bounds().max_bitrate));
            // Scores stay the targets.
            assert_eq!(r.score, b.score);
        }
        // The top rung's rate: the final preset's measured rate, times the fast curve's
        // slope from CRF 27 to 23.
        let slope = at(&points, (1920, 1080), 23).unwrap().bitrate as f64
            / at(&points, (1920, 1080), 27).unwrap().bitrate as f64;
        let expected = (before[0].expected_bitrate as f64
            * (3_400_000.0 / before[0].expected_bitrate as f64)
            * slope)
            .round() as u64;
        assert_eq!(rungs[0].expected_bitrate, expected);
    }

    #[test]
    fn presets_that_agree_leave_the_ladder_alone_and_shifts_are_bounded() {
        let points = interpolate(&[point(720, 20, 4_000, 97.0), point(720, 40, 200, 60.0)]);
        let mut rungs = choose(&upper_hull(&points), &bounds());
        let before = rungs.clone();
        let score = before[0].score;
        let m = at_top(&rungs, "medium", score, before[0].expected_bitrate);
        let c = apply(&mut rungs, &points, 51, &m, &bounds()).unwrap();
        assert_eq!(c.crf_shift, 0);
        assert_eq!(rungs, before);
        // A final preset far worse than anything sampled moves at most 8 steps.
        let mut rungs = before.clone();
        let m = at_top(&rungs, "medium", 10.0, 100_000);
        let c = apply(&mut rungs, &points, 51, &m, &bounds()).unwrap();
        assert_eq!(c.crf_shift, -8);
        let m = at_top(&before, "medium", 90.0, 1);
        assert_eq!(apply(&mut [], &points, 51, &m, &bounds()), None);
        // No fast curve at the calibration's size: nothing moves.
        let elsewhere = Measured {
            size: (1, 1),
            ..m.clone()
        };
        let mut rungs = before.clone();
        assert_eq!(apply(&mut rungs, &points, 51, &elsewhere, &bounds()), None);
        assert_eq!(rungs, before);
        // A preset far better than the samples moves the CRFs up, but never past what the
        // encoder takes.
        let steep = interpolate(&[point(720, 40, 300, 80.0), point(720, 50, 100, 60.0)]);
        let mut rungs = choose(&upper_hull(&steep), &bounds());
        assert_eq!(rungs[0].crf, 40);
        let m = at_top(&rungs, "slow", 99.0, 300_000);
        let c = apply(&mut rungs, &steep, 45, &m, &bounds()).unwrap();
        assert_eq!(
            c.crf_shift, 0,
            "99 is above the curve: no farther than its first CRF"
        );
        let mut rungs = vec![ChosenRung {
            crf: 48,
            ..choose(&upper_hull(&steep), &bounds())[0].clone()
        }];
        let m = at_top(&rungs, "slow", 68.0, 100_000);
        let c = apply(&mut rungs, &steep, 51, &m, &bounds()).unwrap();
        assert_eq!(c.crf_shift, 2);
        assert_eq!(rungs[0].crf, 50);
        let mut rungs = vec![ChosenRung {
            crf: 48,
            ..choose(&upper_hull(&steep), &bounds())[0].clone()
        }];
        let m = at_top(&rungs, "slow", 68.0, 100_000);
        apply(&mut rungs, &steep, 49, &m, &bounds()).unwrap();
        assert_eq!(rungs[0].crf, 49, "clamped to the encoder's largest CRF");
    }

    #[test]
    fn a_saturated_calibration_never_raises_the_crfs() {
        // A still picture: 100 at CRF 19 and 26, 99.2 at 33; the top rung is CRF 33. The
        // final preset also gives 100 at CRF 23, which says nothing about CRF 33.
        let points = interpolate(&[
            point(360, 19, 13_000, 100.0),
            point(360, 26, 11_400, 100.0),
            point(360, 33, 10_300, 99.2),
        ]);
        let mut rungs = choose(&upper_hull(&points), &bounds());
        let before = rungs.clone();
        let m = Measured {
            preset: "veryfast",
            size: (640, 360),
            crf: 23,
            score: 100.0,
            bitrate: 10_000,
            cap: 100_000_000_000,
        };
        let c = apply(&mut rungs, &points, 51, &m, &bounds()).unwrap();
        assert_eq!(c.crf_shift, 0);
        assert_eq!(
            rungs.iter().map(|r| r.crf).collect::<Vec<_>>(),
            before.iter().map(|r| r.crf).collect::<Vec<_>>()
        );
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
        let mut rungs = choose(&upper_hull(&points), &bounds());
        let before = rungs.clone();
        let m = Measured {
            preset: "medium",
            size: (1920, 1080),
            crf: 23,
            score: 46.14,
            bitrate: 11_190_000,
            cap: 10_000_000,
        };
        let c = apply(&mut rungs, &points, 51, &m, &bounds()).unwrap();
        assert!(c.capped, "{c:?}");
        assert_eq!(c.crf_shift, 0);
        assert_eq!(rungs, before);
        // The same encodes under a cap they never reach: a shift.
        let free = Measured {
            cap: 100_000_000,
            ..m
        };
        let mut rungs = before.clone();
        let c = apply(&mut rungs, &points, 51, &free, &bounds()).unwrap();
        assert!(!c.capped);
    }

    #[test]
    fn the_crf_of_a_score_is_read_off_the_curve() {
        let curve = interpolate(&[point(720, 20, 4_000, 97.0), point(720, 30, 1_000, 87.0)]);
        assert_eq!(crf_for_score(&curve, 92.0), Some(25.0));
        assert_eq!(crf_for_score(&curve, 99.0), Some(20.0));
        assert_eq!(crf_for_score(&curve, 50.0), Some(30.0));
        assert_eq!(crf_for_score(&[], 50.0), None);
    }
}
