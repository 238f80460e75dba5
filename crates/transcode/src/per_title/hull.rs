//! From measured sample encodes to a ladder: the quality/bit-rate curve of each
//! resolution, their upper convex hull, and the rungs chosen on it. Pure arithmetic, no
//! processes.

use serde::{Deserialize, Serialize};

/// One encode of the excerpts: a resolution at a CRF, what it cost and how it looks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub width: u32,
    pub height: u32,
    pub crf: u8,
    /// Mean bit rate over the excerpts, bits per second.
    pub bitrate: u64,
    /// Quality score at the display size (see `quality`).
    pub score: f64,
    /// Encoded at the lowest sampled CRF under the ladder's ceiling, and held by it: the
    /// best picture the ceiling allows at this size. Its rate is the ceiling's, not its
    /// CRF's, so it is no point of its size's CRF curve and is never interpolated.
    #[serde(default, skip_serializing_if = "is_false")]
    pub capped: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A rung of a per-title ladder: a point of the hull and the cap it is encoded under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChosenRung {
    pub name: String,
    pub width: u32,
    pub height: u32,
    /// CRF in the analysed codec's scale.
    pub crf: u8,
    /// The bit rate the analysis measured (or interpolated) at this point.
    pub expected_bitrate: u64,
    /// The rate cap of the encode (`-maxrate`).
    pub max_bitrate: u64,
    /// The quality score the analysis expects.
    pub score: f64,
    /// Chosen from an encode held by the ceiling (see [`CurvePoint::capped`]): the cap,
    /// not the CRF, sets its picture, and it keeps the CRF it was sampled at.
    #[serde(default, skip_serializing_if = "is_false")]
    pub capped: bool,
}

/// The bounds a per-title ladder is chosen within.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HullBounds {
    pub min_bitrate: u64,
    pub max_bitrate: u64,
    pub max_rungs: usize,
    /// The top rung stops at the first hull point at or above this score.
    pub top_score: f64,
    /// The least score step between neighbouring rungs: a smaller one is not seen.
    pub min_step: f64,
}

/// Each rung costs at least this many times the bit rate of the rung below: a closer
/// pair adds storage and a switch without a step a viewer sees.
pub(super) const MIN_RATE_RATIO: f64 = 1.5;

/// A point this many times cheaper than the rung above is a rung even without a visible
/// quality step below it: a viewer whose bandwidth falls in a wider gap would drop to far
/// less than the network carries. (Where the hull runs straight from a point less than
/// this far down to one farther, the gap is wider: the points in between lie under the
/// hull, a worse picture for their rate than the rungs at either end.)
const MAX_RATE_RATIO: f64 = 4.0;

/// How much better a smaller size must score than the top size held by the ceiling to
/// take the top rung from it. The held encode is the fixed ladder's own top rung in all
/// but its CRF, and the samples misjudge sizes against each other by more than their
/// rounding: on a 60 s grain title they put 720p 0.7 points ahead of 1080p held at
/// 5 Mb/s, where the title's full encodes put 1080p 1.9 points ahead. Within this margin
/// the top size keeps the top rung, as a viewer with the bandwidth for it expects.
const HELD_TOP_MARGIN: f64 = 1.5;

/// The cap over the expected bit rate: the excerpts are a sample, and a harder scene
/// elsewhere in the title may take twice their mean before the cap costs it quality.
const CAP_HEADROOM: f64 = 2.0;

/// The rate cap of a rung expected at `bitrate`: [`CAP_HEADROOM`] over it, within the
/// bounds.
fn cap_for(bitrate: u64, bounds: &HullBounds) -> u64 {
    let cap = (bitrate as f64 * CAP_HEADROOM).round() as u64;
    cap.clamp(
        bounds.min_bitrate.min(bounds.max_bitrate),
        bounds.max_bitrate,
    )
}

/// Every integer CRF between the measured ones of each resolution, with bit rate
/// interpolated on a log scale (bit rate falls about exponentially with CRF) and score
/// linearly. The measured points are included; a resolution measured at one CRF gives
/// that point alone, and an encode held by the ceiling stays as it is.
pub fn interpolate(points: &[CurvePoint]) -> Vec<CurvePoint> {
    let mut out: Vec<CurvePoint> = points.iter().filter(|p| p.capped).copied().collect();
    let points: Vec<CurvePoint> = points.iter().filter(|p| !p.capped).copied().collect();
    let points = points.as_slice();
    let mut sizes: Vec<(u32, u32)> = points.iter().map(|p| (p.width, p.height)).collect();
    sizes.sort_unstable();
    sizes.dedup();
    for (w, h) in sizes {
        let mut curve: Vec<&CurvePoint> = points
            .iter()
            .filter(|p| p.width == w && p.height == h && p.bitrate > 0)
            .collect();
        curve.sort_by_key(|p| p.crf);
        curve.dedup_by_key(|p| p.crf);
        if let [only] = curve.as_slice() {
            out.push(**only);
        }
        for pair in curve.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let span = f64::from(b.crf - a.crf);
            let (la, lb) = ((a.bitrate as f64).ln(), (b.bitrate as f64).ln());
            for crf in a.crf..b.crf {
                let t = f64::from(crf - a.crf) / span;
                out.push(CurvePoint {
                    width: w,
                    height: h,
                    crf,
                    bitrate: (la + (lb - la) * t).exp().round() as u64,
                    score: a.score + (b.score - a.score) * t,
                    capped: false,
                });
            }
        }
        if let Some(last) = curve.last().filter(|_| curve.len() > 1) {
            out.push(**last);
        }
    }
    out
}

/// The upper convex hull of score against bit rate, cheapest first, up to its best score:
/// the points no mix of other encodes beats. The rate axis is linear, as in rate-distortion
/// theory: switching between two encodes gives any mix of their rates and scores, so a
/// point under the straight line between two others is never worth encoding. (On a log
/// axis one very costly point, such as film grain reproduced at a low CRF, would hide
/// every point between it and the cheapest.) A point above the hull's best score at a
/// higher rate is never on it (more bits, no better picture).
pub fn upper_hull(points: &[CurvePoint]) -> Vec<CurvePoint> {
    let mut sorted: Vec<CurvePoint> = points
        .iter()
        .filter(|p| p.bitrate > 0 && p.score.is_finite())
        .copied()
        .collect();
    sorted.sort_by(|a, b| a.bitrate.cmp(&b.bitrate).then(b.score.total_cmp(&a.score)));
    let x = |p: &CurvePoint| p.bitrate as f64 / 1e6;
    let mut hull: Vec<CurvePoint> = Vec::new();
    for p in sorted {
        // Monotone chain: drop the last point while it lies under the segment from the
        // one before it to `p`. Points on the segment stay (within rounding): the CRFs
        // interpolated along one resolution's curve are collinear (bit rates are whole
        // numbers, hence the margin), and each is a rung
        // the choice may stop at.
        while hull.len() >= 2 {
            let (a, b) = (hull[hull.len() - 2], hull[hull.len() - 1]);
            let cross =
                (x(&b) - x(&a)) * (p.score - a.score) - (b.score - a.score) * (x(&p) - x(&a));
            if cross > 1e-4 {
                hull.pop();
            } else {
                break;
            }
        }
        hull.push(p);
    }
    // Past the best score the hull only falls: those points cost more for less.
    if let Some(best) = hull
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.score.total_cmp(&b.1.score).then(b.0.cmp(&a.0)))
        .map(|(i, _)| i)
    {
        hull.truncate(best + 1);
    }
    hull
}

/// Chooses the rungs from `points` (the encodes the ceiling admits, measured and
/// interpolated), on their upper convex hull: the top rung is the cheapest hull point at
/// or above the target score within the rate bounds (the best one when none reaches it;
/// an encode held by the ceiling is within them, and is the top rung when it scores
/// within [`HELD_TOP_MARGIN`] of that best one), and each rung below is the best point
/// at least [`MIN_RATE_RATIO`] cheaper and `min_step` worse than the one above (or, where
/// no such point is within [`MAX_RATE_RATIO`], the best point that far down), down to
/// the minimum bit rate or the rung count.
/// Rungs come out best first, named by height (`720p`, and `720p-2` for a second rung
/// of one height).
pub fn choose(points: &[CurvePoint], bounds: &HullBounds) -> Vec<ChosenRung> {
    let hull = upper_hull(points);
    let within: Vec<&CurvePoint> = hull
        .iter()
        .filter(|p| p.capped || p.bitrate <= bounds.max_bitrate)
        .collect();
    // Nothing under the ceiling: the cheapest point, so that the title still plays.
    let Some(mut top) = within
        .iter()
        .find(|p| p.score >= bounds.top_score)
        .or(within.last())
        .copied()
        .or(hull.first())
    else {
        return Vec::new();
    };
    // Short of the target, a smaller size within the samples' error of the top size held
    // by the ceiling leaves it the top rung (the held point, a little under the best
    // score at the ceiling's rate, is then off the hull).
    if !top.capped && top.score < bounds.top_score {
        if let Some(held) = points
            .iter()
            .filter(|p| p.capped && p.score >= top.score - HELD_TOP_MARGIN)
            .max_by(|a, b| a.score.total_cmp(&b.score))
        {
            top = held;
        }
    }
    let mut picked = vec![*top];
    while picked.len() < bounds.max_rungs.max(1) {
        let above = picked[picked.len() - 1];
        let next = within
            .iter()
            .filter(|p| {
                let ratio = above.bitrate as f64 / p.bitrate as f64;
                ratio >= MIN_RATE_RATIO
                    && (p.score <= above.score - bounds.min_step || ratio >= MAX_RATE_RATIO)
                    && p.bitrate >= bounds.min_bitrate
            })
            .max_by(|a, b| a.score.total_cmp(&b.score));
        match next {
            Some(p) => picked.push(**p),
            None => break,
        }
    }
    let mut names: Vec<String> = Vec::new();
    picked
        .into_iter()
        .map(|p| {
            let base = format!("{}p", p.height.min(p.width));
            let mut name = base.clone();
            let mut k = 2;
            while names.contains(&name) {
                name = format!("{base}-{k}");
                k += 1;
            }
            names.push(name.clone());
            ChosenRung {
                name,
                width: p.width,
                height: p.height,
                crf: p.crf,
                // A held encode may run over the cap at its start, on a full buffer.
                expected_bitrate: if p.capped {
                    p.bitrate.min(bounds.max_bitrate)
                } else {
                    p.bitrate
                },
                max_bitrate: cap_for(p.bitrate, bounds),
                score: (p.score * 100.0).round() / 100.0,
                capped: p.capped,
            }
        })
        .collect()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A 16:9 point `height` pixels high.
    pub(in crate::per_title) fn point(height: u32, crf: u8, kbps: u64, score: f64) -> CurvePoint {
        CurvePoint {
            width: height * 16 / 9,
            height,
            crf,
            bitrate: kbps * 1000,
            score,
            capped: false,
        }
    }

    pub(in crate::per_title) fn bounds() -> HullBounds {
        HullBounds {
            min_bitrate: 100_000,
            max_bitrate: 10_000_000,
            max_rungs: 6,
            top_score: 95.0,
            min_step: 6.0,
        }
    }

    #[test]
    fn interpolates_every_crf_between_the_measured_ones() {
        let pts = interpolate(&[point(720, 20, 4000, 96.0), point(720, 24, 1000, 88.0)]);
        let crfs: Vec<u8> = pts.iter().map(|p| p.crf).collect();
        assert_eq!(crfs, [20, 21, 22, 23, 24]);
        // Geometric in rate, linear in score.
        assert_eq!(pts[2].bitrate, 2_000_000);
        assert_eq!(pts[2].score, 92.0);
        assert_eq!(interpolate(&[point(360, 30, 300, 70.0)]).len(), 1);
    }

    #[test]
    fn the_hull_keeps_what_no_other_resolution_beats() {
        // 1080p wins at high rates, 360p at low ones; 720p at 1500 kb/s sits under the
        // segment between its neighbours and is dropped.
        let pts = [
            point(1080, 20, 6000, 97.0),
            point(1080, 26, 2500, 92.0),
            point(720, 26, 1500, 84.0),
            point(360, 26, 500, 78.0),
            point(360, 32, 200, 62.0),
            // Worse and dearer than 1080p at 6000: never on the hull.
            point(540, 18, 7000, 92.0),
        ];
        let hull = upper_hull(&pts);
        let kept: Vec<(u32, u64)> = hull.iter().map(|p| (p.height, p.bitrate / 1000)).collect();
        assert_eq!(kept, [(360, 200), (360, 500), (1080, 2500), (1080, 6000)]);
        for w in hull.windows(2) {
            assert!(w[1].bitrate > w[0].bitrate && w[1].score > w[0].score);
        }
    }

    #[test]
    fn the_top_rung_stops_at_the_target_and_rungs_step_visibly() {
        let hull = upper_hull(&interpolate(&[
            point(1080, 18, 8000, 98.0),
            point(1080, 24, 3000, 94.0),
            point(1080, 30, 1200, 86.0),
            point(540, 18, 3000, 90.0),
            point(540, 24, 1100, 84.0),
            point(540, 30, 450, 74.0),
            point(360, 24, 500, 75.0),
            point(360, 30, 200, 64.0),
            point(360, 36, 90, 50.0),
        ]));
        let rungs = choose(&hull, &bounds());
        // The cheapest point at or above 95: interpolated between CRF 18 and 24 of 1080p.
        assert_eq!(rungs[0].height, 1080);
        assert!(rungs[0].score >= 95.0 && rungs[0].score < 96.0, "{rungs:?}");
        assert!(rungs[0].crf > 18 && rungs[0].crf < 24);
        for w in rungs.windows(2) {
            assert!(w[1].score <= w[0].score - 6.0, "{rungs:?}");
            assert!(w[1].expected_bitrate as f64 * 1.5 <= w[0].expected_bitrate as f64);
        }
        // The bottom stays above the minimum rate.
        assert!(rungs.last().unwrap().expected_bitrate >= 100_000);
        for r in &rungs {
            assert_eq!(
                r.max_bitrate,
                (r.expected_bitrate * 2).clamp(100_000, 10_000_000)
            );
        }
        // Fewer rungs when asked.
        let two = choose(
            &hull,
            &HullBounds {
                max_rungs: 2,
                ..bounds()
            },
        );
        assert_eq!(two.len(), 2);
        assert_eq!(two[0], rungs[0]);
    }

    #[test]
    fn a_flat_title_gets_a_cheaper_top_than_a_busy_one() {
        let flat = upper_hull(&interpolate(&[
            point(1080, 20, 400, 99.0),
            point(1080, 28, 150, 96.0),
            point(1080, 36, 60, 90.0),
            point(360, 28, 40, 80.0),
        ]));
        let busy = upper_hull(&interpolate(&[
            point(1080, 20, 9000, 93.0),
            point(1080, 28, 3000, 85.0),
            point(1080, 36, 1000, 72.0),
            point(360, 28, 700, 70.0),
        ]));
        let (f, b) = (choose(&flat, &bounds()), choose(&busy, &bounds()));
        assert!(
            f[0].expected_bitrate * 10 < b[0].expected_bitrate,
            "{f:?} {b:?}"
        );
        // The busy title never reaches 95 under the ceiling: its best point is the top.
        assert_eq!(b[0].crf, 20);
        // Nothing under the ceiling at all: the cheapest point, so the title plays.
        let tight = choose(
            &busy,
            &HullBounds {
                max_bitrate: 50_000,
                ..bounds()
            },
        );
        assert_eq!(tight.len(), 1);
        assert_eq!(tight[0].height, 360);
        assert_eq!(choose(&[], &bounds()), Vec::new());
    }

    #[test]
    fn an_encode_held_by_the_ceiling_weighs_the_top_size_against_the_smaller() {
        // Grain under a 5 Mb/s ceiling: every CRF of 1080p runs far past it, so without
        // the held encode the best point under it is 720p's.
        let measured = [
            point(1080, 19, 30_000, 48.0),
            point(1080, 26, 12_000, 44.0),
            point(720, 26, 4_600, 40.0),
            point(720, 33, 1_500, 36.0),
            CurvePoint {
                capped: true,
                ..point(1080, 19, 5_600, 42.0)
            },
        ];
        let b = HullBounds {
            max_bitrate: 5_000_000,
            ..bounds()
        };
        let points = interpolate(&measured);
        // Passed through, never a point of 1080p's curve.
        assert_eq!(points.iter().filter(|p| p.capped).count(), 1);
        assert!(points
            .iter()
            .filter(|p| p.height == 1080 && !p.capped)
            .all(|p| p.bitrate >= 12_000_000));
        let admitted: Vec<CurvePoint> = points
            .iter()
            .filter(|p| p.capped || p.bitrate <= b.max_bitrate)
            .copied()
            .collect();
        let rungs = choose(&upper_hull(&admitted), &b);
        assert_eq!(rungs[0].height, 1080, "{rungs:?}");
        assert!(rungs[0].capped);
        assert_eq!(rungs[0].crf, 19);
        // The buffer's first fill ran it over the cap; the rung expects the cap.
        assert_eq!(rungs[0].expected_bitrate, 5_000_000);
        assert_eq!(rungs[0].max_bitrate, 5_000_000);
        assert!(rungs[1..].iter().all(|r| !r.capped && r.height == 720));
        // Where 720p under the ceiling looks a little better than 1080p held by it, within
        // the samples' error between sizes, 1080p keeps the top; where it looks clearly
        // better, 720p takes it.
        let top_with_held_at = |score: f64| {
            let held = CurvePoint {
                score,
                ..measured[4]
            };
            let measured = [measured[0], measured[1], measured[2], measured[3], held];
            let admitted: Vec<CurvePoint> = interpolate(&measured)
                .into_iter()
                .filter(|p| p.capped || p.bitrate <= b.max_bitrate)
                .collect();
            let rungs = choose(&admitted, &b);
            (rungs[0].height, rungs[0].capped)
        };
        assert_eq!(top_with_held_at(39.0), (1080, true));
        assert_eq!(top_with_held_at(38.0), (720, false));
    }

    #[test]
    fn rungs_are_at_most_four_times_apart_where_the_hull_allows() {
        // Grain: the score barely moves with rate, so no point is a visible step below
        // the top; rungs still cover the rates in between.
        let hull = upper_hull(&[
            point(360, 33, 250, 38.0),
            point(540, 26, 1000, 42.0),
            point(720, 26, 2000, 44.0),
            point(1080, 26, 4000, 46.0),
            point(1080, 24, 8000, 48.0),
        ]);
        let rungs = choose(&hull, &bounds());
        let rates: Vec<u64> = rungs.iter().map(|r| r.expected_bitrate / 1000).collect();
        assert_eq!(rates, [8000, 2000, 250]);
    }

    #[test]
    fn names_are_unique_when_a_height_repeats() {
        let hull = upper_hull(&interpolate(&[
            point(1080, 20, 4000, 99.0),
            point(1080, 40, 100, 60.0),
        ]));
        let rungs = choose(&hull, &bounds());
        assert!(rungs.len() >= 3, "{rungs:?}");
        assert_eq!(rungs[0].name, "1080p");
        assert_eq!(rungs[1].name, "1080p-2");
        assert_eq!(rungs[2].name, "1080p-3");
    }
}
