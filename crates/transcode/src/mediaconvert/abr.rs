//! `OutputGroups[].AutomatedEncodingSettings.AbrSettings` (MediaConvert's Automated ABR):
//! read as the template's per-title ladder ([`LadderMode::PerTitle`]). Both choose the
//! renditions from an analysis of the title within the same kind of bounds: a ceiling and
//! a floor of bit rate, a number of renditions, a quality cap for the top rendition, and
//! the sizes it may use.
//!
//! | AWS (`AbrSettings`)         | openvod (`[ladder]`, `video.rungs`)                       |
//! |-----------------------------|-----------------------------------------------------------|
//! | `MaxAbrBitrate`             | `max_bitrate`                                             |
//! | `MinAbrBitrate`             | `min_bitrate`                                             |
//! | `MaxRenditions`             | `max_rungs`                                               |
//! | `MaxQualityLevel`           | `top_quality`, through [`top_quality_for_level`]          |
//! | `ALLOWED_RENDITIONS` rule   | the candidate rungs (their `Height`s)                     |
//! | `MIN_BOTTOM_RENDITION_SIZE` | candidates below its `Height` left out                    |
//!
//! Fields left out keep openvod's defaults (`[ladder]` of the built-in template), which
//! differ from MediaConvert's for two of them: `MinAbrBitrate` 150 kb/s (AWS: 600 kb/s)
//! and `MaxRenditions` 6 (AWS: 15). A job without `MaxAbrBitrate` gets AWS's ceiling of
//! 8 Mb/s, not openvod's 5 Mb/s (the built-in ladder's top cap). Without an
//! `ALLOWED_RENDITIONS` rule the candidates are the built-in ladder's heights.
//!
//! `MIN_TOP_RENDITION_SIZE`, `FORCE_INCLUDE_RENDITIONS` and an allowed rendition with
//! `Required: ENABLED` ask for a rendition the analysis might not choose; openvod's hull
//! cannot be made to keep one, so they are refused rather than ignored.

use serde_json::Value;

use super::cursor::Obj;
use super::values::{array, err, index, int, num, quoted, text, CHANGES};
use super::Importer;
use crate::per_title::{LadderMode, LadderSettings};
use crate::template::{JobTemplate, LadderRung};
use crate::Result;

/// What an Automated ABR group asks of the ladder.
pub(super) struct AbrLadder {
    /// Mode per-title and the bounds `AbrSettings` gives.
    pub(super) settings: LadderSettings,
    /// The heights the analysis may choose from, largest first.
    pub(super) heights: Vec<u32>,
}

/// MediaConvert's QVBR quality levels and the quality score (0-100, see `quality`) that
/// openvod's encode at that level reaches on a typical title: level 8 is openvod's
/// default (x264 CRF 22), which its score puts about where an encode is hard to tell
/// from the source (94); each level is 2 CRF steps, about 3 points down to level 5 and
/// more below, where artefacts grow quickly; level 10 (CRF 18) is near-transparent.
/// Between anchors the score is interpolated linearly; the table must rise.
const LEVEL_SCORES: [(f64, f64); 5] = [
    (1.0, 60.0),
    (5.0, 85.0),
    (7.0, 91.0),
    (8.0, 94.0),
    (10.0, 97.0),
];

/// `MaxAbrBitrate` when a job leaves it out, as AWS documents it.
const AWS_MAX_ABR_BITRATE: u64 = 8_000_000;

/// The `top_quality` score for a QVBR level (`MaxQualityLevel`, 1 to 10, fractions
/// allowed): linear between the [`LEVEL_SCORES`] anchors, held at the ends, and kept
/// within the 30..=100 that [`LadderSettings::validate`] accepts.
pub(super) fn top_quality_for_level(level: f64) -> f64 {
    let (first, last) = (LEVEL_SCORES[0], LEVEL_SCORES[LEVEL_SCORES.len() - 1]);
    let score = if level.is_nan() || level <= first.0 {
        first.1
    } else if level >= last.0 {
        last.1
    } else {
        LEVEL_SCORES
            .windows(2)
            .find(|w| level <= w[1].0)
            .map_or(last.1, |w| {
                let ((l0, s0), (l1, s1)) = (w[0], w[1]);
                s0 + (s1 - s0) * (level - l0) / (l1 - l0)
            })
    };
    score.clamp(30.0, 100.0)
}

impl Importer<'_> {
    /// `AutomatedEncodingSettings`: its `AbrSettings`, the one key it has.
    pub(super) fn automated_encoding(&mut self, v: &Value, path: &str) -> Result<AbrLadder> {
        let mut o = Obj::new(v, path.to_string())?;
        let (abr, abr_path) = o.need("AbrSettings", "the limits of the Automated ABR stack")?;
        let ladder = self.abr_settings(abr, &abr_path)?;
        o.finish(&mut self.warnings, &[])?;
        Ok(ladder)
    }

    /// `AbrSettings`: the bounds of the ladder and its rules, with AWS's ranges
    /// (`MaxAbrBitrate` and `MinAbrBitrate` 100 kb/s to 100 Mb/s, `MaxRenditions` 3 to 15,
    /// `MaxQualityLevel` 1 to 10).
    fn abr_settings(&mut self, v: &Value, path: &str) -> Result<AbrLadder> {
        let mut o = Obj::new(v, path.to_string())?;
        let mut s = LadderSettings {
            mode: LadderMode::PerTitle,
            max_bitrate: AWS_MAX_ABR_BITRATE,
            ..LadderSettings::default()
        };
        let max = match o.take("MaxAbrBitrate") {
            Some((m, mp)) => {
                s.max_bitrate = int(m, &mp, 100_000, 100_000_000, "bits per second")?;
                Some(mp)
            }
            None => None,
        };
        let min = match o.take("MinAbrBitrate") {
            Some((m, mp)) => {
                s.min_bitrate = int(m, &mp, 100_000, 100_000_000, "bits per second")?;
                Some(mp)
            }
            None => None,
        };
        if s.min_bitrate >= s.max_bitrate {
            // Name the field the job gave; a default on the other side is said to be one.
            let msg = match (&max, &min) {
                (Some(_), Some(_)) => format!(
                    "{} is not above MinAbrBitrate {}: the ceiling must be above the floor",
                    s.max_bitrate, s.min_bitrate
                ),
                (Some(_), None) => format!(
                    "{} is not above openvod's default floor of {} b/s: give MinAbrBitrate too",
                    s.max_bitrate, s.min_bitrate
                ),
                _ => format!(
                    "{} is not below the default ceiling of {} b/s: give MaxAbrBitrate too",
                    s.min_bitrate, s.max_bitrate
                ),
            };
            let at = max.as_deref().or(min.as_deref()).unwrap_or(path);
            return Err(err(at, msg));
        }
        if let Some((r, rp)) = o.take("MaxRenditions") {
            s.max_rungs = int(r, &rp, 3, 15, "renditions")? as u8;
        }
        if let Some((q, qp)) = o.take("MaxQualityLevel") {
            s.top_quality = top_quality_for_level(num(q, &qp, 1.0, 10.0, "(QVBR quality level)")?);
        }
        let mut heights: Option<Vec<u32>> = None;
        let mut min_bottom: Option<(u32, String)> = None;
        if let Some((rules, rules_path)) = o.take("Rules") {
            for (i, rule) in array(rules, &rules_path)?.iter().enumerate() {
                self.abr_rule(rule, &index(&rules_path, i), &mut heights, &mut min_bottom)?;
            }
        }
        o.finish(&mut self.warnings, &[])?;
        let mut heights = heights.unwrap_or_else(|| {
            JobTemplate::default_ladder()
                .video
                .rungs
                .iter()
                .map(|r| r.height)
                .collect()
        });
        heights.sort_unstable_by(|a, b| b.cmp(a));
        heights.dedup();
        if let Some((bottom, bp)) = min_bottom {
            // Every rung is one of the candidates, so leaving out those below the size
            // keeps the lowest rendition at or above it, as AWS's rule does.
            heights.retain(|&h| h >= bottom);
            if heights.is_empty() {
                return Err(err(
                    &bp,
                    format!(
                        "{bottom} pixels is above every candidate height; list sizes at or \
                         above it in an ALLOWED_RENDITIONS rule"
                    ),
                ));
            }
        }
        s.validate()
            .map_err(|e| err(path, format!("the ladder is not valid: {e}")))?;
        Ok(AbrLadder {
            settings: s,
            heights,
        })
    }

    /// One of `Rules`: `Type` and the field of that type.
    fn abr_rule(
        &mut self,
        v: &Value,
        path: &str,
        heights: &mut Option<Vec<u32>>,
        min_bottom: &mut Option<(u32, String)>,
    ) -> Result<()> {
        let mut o = Obj::new(v, path.to_string())?;
        let (t, tp) = o.need("Type", "the rule type")?;
        match text(t, &tp)? {
            "ALLOWED_RENDITIONS" => {
                let (list, lp) = o.need(
                    "AllowedRenditions",
                    "required with Type ALLOWED_RENDITIONS (at least one size)",
                )?;
                if heights.is_some() {
                    return Err(err(
                        &tp,
                        "a second ALLOWED_RENDITIONS rule; list every size in one",
                    ));
                }
                *heights = Some(self.allowed_renditions(list, &lp)?);
            }
            "MIN_BOTTOM_RENDITION_SIZE" => {
                let (size, sp) = o.need(
                    "MinBottomRenditionSize",
                    "required with Type MIN_BOTTOM_RENDITION_SIZE",
                )?;
                if min_bottom.is_some() {
                    return Err(err(&tp, "a second MIN_BOTTOM_RENDITION_SIZE rule"));
                }
                let (height, hp) = self.rule_size(size, &sp)?;
                *min_bottom = Some((height, hp));
            }
            kind @ ("MIN_TOP_RENDITION_SIZE" | "FORCE_INCLUDE_RENDITIONS") => {
                return Err(err(
                    &tp,
                    format!(
                        "{} is not supported: it makes MediaConvert keep a rendition its \
                         analysis might not choose, and openvod's per-title ladder cannot be \
                         made to; use an ALLOWED_RENDITIONS rule (the sizes to choose from) or \
                         MIN_BOTTOM_RENDITION_SIZE; {CHANGES}",
                        quoted(kind)
                    ),
                ))
            }
            other => {
                return Err(err(
                    &tp,
                    format!(
                        "{} is not a rule type (ALLOWED_RENDITIONS, MIN_BOTTOM_RENDITION_SIZE, \
                         MIN_TOP_RENDITION_SIZE or FORCE_INCLUDE_RENDITIONS)",
                        quoted(other)
                    ),
                ))
            }
        }
        // A field of another rule type in this rule is refused here, with the unknown keys.
        o.finish(&mut self.warnings, &[])
    }

    /// `AllowedRenditions`: the sizes the ladder is chosen from, as heights.
    fn allowed_renditions(&mut self, v: &Value, path: &str) -> Result<Vec<u32>> {
        let list = array(v, path)?;
        if list.is_empty() {
            return Err(err(path, "empty; list at least one size"));
        }
        let mut heights = Vec::new();
        for (i, size) in list.iter().enumerate() {
            let size_path = index(path, i);
            let mut o = Obj::new(size, size_path.clone())?;
            if let Some((r, rp)) = o.take("Required") {
                match text(r, &rp)? {
                    "DISABLED" => {}
                    "ENABLED" => {
                        return Err(err(
                            &rp,
                            format!(
                                "\"ENABLED\" is not supported: openvod's per-title ladder \
                                 cannot be made to keep a size its analysis does not choose; \
                                 {CHANGES}"
                            ),
                        ))
                    }
                    other => {
                        return Err(err(
                            &rp,
                            format!(
                                "expected \"ENABLED\" or \"DISABLED\", found {}",
                                quoted(other)
                            ),
                        ))
                    }
                }
            }
            let (height, hp) = self.rule_size_of(&mut o)?;
            if height % 2 == 1 {
                return Err(err(
                    &hp,
                    format!("{height}: heights must be even for 4:2:0"),
                ));
            }
            o.finish(&mut self.warnings, &[])?;
            if !heights.contains(&height) {
                heights.push(height);
            }
        }
        // The template's bound (JobTemplate::validate).
        if heights.len() > 16 {
            return Err(err(
                path,
                format!(
                    "{} different heights; openvod samples at most 16",
                    heights.len()
                ),
            ));
        }
        Ok(heights)
    }

    /// A `{Width, Height}` object of a rule: its height.
    fn rule_size(&mut self, v: &Value, path: &str) -> Result<(u32, String)> {
        let mut o = Obj::new(v, path.to_string())?;
        let size = self.rule_size_of(&mut o)?;
        o.finish(&mut self.warnings, &[])?;
        Ok(size)
    }

    /// `Height` and `Width` of a rule's size (AWS: 32 to 8192 pixels). openvod's rungs
    /// are sized by their short side and keep the source's aspect ratio, so `Height` is
    /// the rung's height; a `Width` that is not 16:9 to it is reported, as an output's.
    fn rule_size_of(&mut self, o: &mut Obj<'_>) -> Result<(u32, String)> {
        let (h, hp) = o.need("Height", "the height of the size")?;
        // AWS accepts 32 to 8192; openvod's rungs are at most 4320 high (8K UHD).
        let height = int(h, &hp, 32, 4320, "pixels")?;
        if let Some((w, wp)) = o.take("Width") {
            let width = int(w, &wp, 32, 8192, "pixels")?;
            let ratio = width as f64 / height as f64;
            if (ratio - 16.0 / 9.0).abs() > 0.02 {
                self.warnings.push(format!(
                    "ignored: {wp} = {width}: openvod keeps the source's aspect ratio, the \
                     size is {height} pixels on its short side"
                ));
            }
        }
        Ok((height as u32, hp))
    }
}

impl AbrLadder {
    /// The candidate rungs: one per height, named `<height>p`. In a per-title ladder their
    /// caps are not used (the analysis sets each rung's); should the template be run as a
    /// fixed ladder (`--ladder fixed`), every rung is capped at the job's ceiling.
    pub(super) fn rungs(&self) -> Vec<LadderRung> {
        self.heights
            .iter()
            .map(|&h| LadderRung {
                name: format!("{h}p"),
                height: h,
                width: None,
                max_bitrate: self.settings.max_bitrate,
                quality: None,
                codec: None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qvbr_levels_map_to_rising_scores_through_the_anchors() {
        assert_eq!(top_quality_for_level(10.0), 97.0);
        assert_eq!(top_quality_for_level(8.0), 94.0);
        assert_eq!(top_quality_for_level(7.0), 91.0);
        assert_eq!(top_quality_for_level(5.0), 85.0);
        assert_eq!(top_quality_for_level(1.0), 60.0);
        // Linear between anchors.
        assert_eq!(top_quality_for_level(9.0), 95.5);
        assert_eq!(top_quality_for_level(7.5), 92.5);
        assert_eq!(top_quality_for_level(3.0), 72.5);
        // Held at the ends, and always a score the ladder accepts.
        assert_eq!(top_quality_for_level(0.0), 60.0);
        assert_eq!(top_quality_for_level(12.0), 97.0);
        assert_eq!(top_quality_for_level(f64::NAN), 60.0);
        let mut last = 0.0;
        for tenth in 10..=100 {
            let s = top_quality_for_level(f64::from(tenth) / 10.0);
            assert!(s >= last, "not rising at level {}", f64::from(tenth) / 10.0);
            assert!((30.0..=100.0).contains(&s));
            last = s;
        }
        assert!(LEVEL_SCORES
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1));
    }
}
