//! What a transcode costs on MediaConvert: each output rung falls in a tier (by codec,
//! frame rate and dynamic range) and a definition (by height), and is charged per output
//! minute at that tier's price.

use std::fmt;

use openvod_transcode::template::{VideoCodec, VideoSettings};
use serde::Serialize;

use crate::{Error, Price, PriceBook, Result};

/// One video output of a transcode, as the price list sees it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OutputRung {
    pub codec: VideoCodec,
    pub height: u32,
    /// Frames per second.
    pub fps: f64,
    /// High dynamic range (HDR10, HLG).
    pub hdr: bool,
}

impl OutputRung {
    /// The video rungs of an encode plan, as the price list sees them.
    pub fn of_plan(plan: &openvod_transcode::ladder::EncodePlan) -> Vec<OutputRung> {
        let fps = f64::from(plan.frame_rate.0) / f64::from(plan.frame_rate.1.max(1));
        plan.rungs
            .iter()
            .map(|r| OutputRung {
                codec: r.codec,
                height: r.height,
                fps,
                hdr: false,
            })
            .collect()
    }
}

/// The frame rate of a rung that names none.
const DEFAULT_FPS: f64 = 30.0;

/// The most frames per second the Basic tier takes.
const BASIC_MAX_FPS: f64 = 30.0;

/// The tallest rung priced: past 8K there is no price list.
const MAX_HEIGHT: u32 = 4320;

impl std::str::FromStr for OutputRung {
    type Err = Error;

    /// `CODEC:HEIGHTp[@FPS][:hdr]`, as `h264:1080p`, `hevc:2160p@60:hdr`.
    fn from_str(s: &str) -> Result<OutputRung> {
        let bad = |reason: &str| Error::Rung {
            rung: s.to_string(),
            reason: reason.to_string(),
        };
        let mut parts = s.split(':');
        let codec: VideoCodec = parts
            .next()
            .unwrap_or_default()
            .parse()
            .map_err(|e: String| bad(&e))?;
        let picture = parts
            .next()
            .ok_or_else(|| bad("no height: write CODEC:HEIGHTp[@FPS], as h264:1080p@30"))?;
        let hdr = match parts.next() {
            None => false,
            Some("hdr") => true,
            Some(other) => return Err(bad(&format!("unknown flag {other:?} (only hdr)"))),
        };
        if parts.next().is_some() {
            return Err(bad("too many parts: write CODEC:HEIGHTp[@FPS][:hdr]"));
        }
        let (height, fps) = match picture.split_once('@') {
            Some((h, f)) => (h, Some(f)),
            None => (picture, None),
        };
        let height: u32 = height
            .strip_suffix('p')
            .ok_or_else(|| bad("the height ends in p, as 720p"))?
            .parse()
            .map_err(|_| bad("the height is a whole number of lines, as 720p"))?;
        if !(1..=MAX_HEIGHT).contains(&height) {
            return Err(bad(&format!("the height is 1 to {MAX_HEIGHT} lines")));
        }
        let fps = match fps {
            None => DEFAULT_FPS,
            Some(f) => f
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && *f > 0.0 && *f <= 300.0)
                .ok_or_else(|| bad("the frame rate is a number above 0, at most 300"))?,
        };
        Ok(OutputRung {
            codec,
            height,
            fps,
            hdr,
        })
    }
}

impl fmt::Display for OutputRung {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}p@{}", self.codec, self.height, self.fps)?;
        if self.hdr {
            f.write_str(":hdr")?;
        }
        Ok(())
    }
}

/// The video outputs of a template's ladder (every codec's rungs) for a source of `fps`
/// frames per second, at the frame rate the encode would give them (the source's, at
/// most the template's `max_frame_rate`). A source at least as tall as the top rung is
/// assumed: a shorter one loses the rungs above it.
pub fn template_rungs(video: &VideoSettings, fps: f64) -> Vec<OutputRung> {
    let fps = fps.min(video.max_frame_rate);
    video
        .ladder()
        .into_iter()
        .map(|(codec, r)| OutputRung {
            codec,
            height: r.height,
            fps,
            hdr: false,
        })
        .collect()
}

/// MediaConvert's pricing tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// AVC at up to 30 fps, standard dynamic range.
    Basic,
    /// HEVC, more than 30 fps, or HDR.
    Professional,
    /// AV1, priced on its own.
    Av1,
}

/// The output definition a price is given for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Definition {
    /// Under 720 lines.
    Sd,
    /// 720 to 1080 lines.
    Hd,
    /// Over 1080 lines.
    Uhd,
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tier::Basic => "basic",
            Tier::Professional => "professional",
            Tier::Av1 => "av1",
        })
    }
}

impl fmt::Display for Definition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Definition::Sd => "SD",
            Definition::Hd => "HD",
            Definition::Uhd => "UHD",
        })
    }
}

impl OutputRung {
    /// The tier this rung is charged at, and why.
    pub fn tier(&self) -> (Tier, &'static str) {
        match self.codec {
            VideoCodec::Av1 => (Tier::Av1, "AV1"),
            VideoCodec::Hevc => (Tier::Professional, "HEVC needs the Professional tier"),
            VideoCodec::H264 if self.hdr => (Tier::Professional, "HDR needs the Professional tier"),
            VideoCodec::H264 if self.fps > BASIC_MAX_FPS => (
                Tier::Professional,
                "over 30 fps needs the Professional tier",
            ),
            VideoCodec::H264 => (Tier::Basic, "AVC at up to 30 fps"),
        }
    }

    /// The definition this rung is charged at.
    pub fn definition(&self) -> Definition {
        match self.height {
            0..720 => Definition::Sd,
            720..=1080 => Definition::Hd,
            _ => Definition::Uhd,
        }
    }

    /// The price per output minute of this rung in `book`, with its key.
    pub fn price<'a>(&self, book: &'a PriceBook) -> (&'static str, &'a Price) {
        let m = &book.mediaconvert;
        match (self.tier().0, self.definition()) {
            (Tier::Basic, Definition::Sd) => ("mediaconvert.basic_sd", &m.basic_sd),
            (Tier::Basic, Definition::Hd) => ("mediaconvert.basic_hd", &m.basic_hd),
            (Tier::Basic, Definition::Uhd) => ("mediaconvert.basic_uhd", &m.basic_uhd),
            (Tier::Professional, Definition::Sd) => {
                ("mediaconvert.professional_sd", &m.professional_sd)
            }
            (Tier::Professional, Definition::Hd) => {
                ("mediaconvert.professional_hd", &m.professional_hd)
            }
            (Tier::Professional, Definition::Uhd) => {
                ("mediaconvert.professional_uhd", &m.professional_uhd)
            }
            (Tier::Av1, Definition::Sd) => ("mediaconvert.av1_sd", &m.av1_sd),
            (Tier::Av1, Definition::Hd) => ("mediaconvert.av1_hd", &m.av1_hd),
            (Tier::Av1, Definition::Uhd) => ("mediaconvert.av1_uhd", &m.av1_uhd),
        }
    }
}

/// One rung's line of the bill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RungCost {
    pub rung: String,
    pub tier: Tier,
    pub definition: Definition,
    /// Why the rung is in its tier.
    pub reason: &'static str,
    /// The price book's key of the price applied.
    pub price_key: &'static str,
    pub usd_per_minute: f64,
    pub usd: f64,
}

/// What a transcode of `minutes` into `rungs` costs on MediaConvert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EncodeEstimate {
    pub price_book: String,
    pub minutes: f64,
    pub rungs: Vec<RungCost>,
    /// The sum per tier, in the order the tiers first appear.
    pub by_tier: Vec<(Tier, f64)>,
    pub usd: f64,
}

/// The longest title priced: beyond it a length is a mistake, not a movie.
const MAX_MINUTES: f64 = 100_000.0;

impl EncodeEstimate {
    /// Prices a transcode of `minutes` of video into `rungs` (each output rung charged
    /// for the whole length).
    pub fn new(book: &PriceBook, minutes: f64, rungs: &[OutputRung]) -> Result<EncodeEstimate> {
        if !(minutes.is_finite() && minutes > 0.0 && minutes <= MAX_MINUTES) {
            return Err(Error::Minutes(minutes));
        }
        let mut lines = Vec::with_capacity(rungs.len());
        let mut by_tier: Vec<(Tier, f64)> = Vec::new();
        for r in rungs {
            let (tier, reason) = r.tier();
            let (key, price) = r.price(book);
            let usd = price.usd * minutes;
            match by_tier.iter_mut().find(|(t, _)| *t == tier) {
                Some((_, sum)) => *sum += usd,
                None => by_tier.push((tier, usd)),
            }
            lines.push(RungCost {
                rung: r.to_string(),
                tier,
                definition: r.definition(),
                reason,
                price_key: key,
                usd_per_minute: price.usd,
                usd,
            });
        }
        let usd = lines.iter().map(|l| l.usd).sum();
        Ok(EncodeEstimate {
            price_book: book.name.clone(),
            minutes,
            rungs: lines,
            by_tier,
            usd,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rungs(list: &[&str]) -> Vec<OutputRung> {
        list.iter().map(|r| r.parse().unwrap()).collect()
    }

    fn cents(usd: f64) -> i64 {
        (usd * 100.0).round() as i64
    }

    #[test]
    fn the_seeds_ninety_minute_movie_costs_ten_dollars_eighty() {
        // 4 H.264 tiers and 2 H.265 tiers, as the seed's worked example.
        let ladder = rungs(&[
            "h264:1080p",
            "h264:1080p",
            "h264:720p",
            "h264:720p",
            "hevc:1080p",
            "hevc:720p",
        ]);
        let e = EncodeEstimate::new(&PriceBook::built_in(), 90.0, &ladder).unwrap();
        assert_eq!(cents(e.usd), 1080);
        assert_eq!(e.by_tier.len(), 2);
        assert_eq!(e.by_tier[0].0, Tier::Basic);
        assert_eq!(cents(e.by_tier[0].1), 540);
        assert_eq!(e.by_tier[1].0, Tier::Professional);
        assert_eq!(cents(e.by_tier[1].1), 540);
        assert!(e.rungs[4].reason.contains("HEVC"));
    }

    #[test]
    fn the_default_ladders_small_rungs_are_priced_as_sd() {
        let ladder = rungs(&["h264:1080p", "h264:720p", "h264:540p", "h264:360p"]);
        let e = EncodeEstimate::new(&PriceBook::built_in(), 90.0, &ladder).unwrap();
        let defs: Vec<Definition> = e.rungs.iter().map(|r| r.definition).collect();
        assert_eq!(
            defs,
            [
                Definition::Hd,
                Definition::Hd,
                Definition::Sd,
                Definition::Sd
            ]
        );
        // 2 x 90 x 0.015 + 2 x 90 x 0.0075
        assert_eq!(cents(e.usd), 405);
    }

    #[test]
    fn frame_rate_hdr_and_av1_move_a_rung_up() {
        let book = PriceBook::built_in();
        let tier = |s: &str| s.parse::<OutputRung>().unwrap().tier().0;
        assert_eq!(tier("h264:1080p@30"), Tier::Basic);
        assert_eq!(tier("h264:1080p@29.97"), Tier::Basic);
        assert_eq!(tier("h264:1080p@60"), Tier::Professional);
        assert_eq!(tier("h264:1080p:hdr"), Tier::Professional);
        assert_eq!(tier("av1:1080p"), Tier::Av1);
        let uhd: OutputRung = "hevc:2160p@60:hdr".parse().unwrap();
        assert_eq!(uhd.definition(), Definition::Uhd);
        assert_eq!(uhd.price(&book).0, "mediaconvert.professional_uhd");
        assert_eq!(uhd.to_string(), "hevc:2160p@60:hdr");
        let e = EncodeEstimate::new(&book, 10.0, &rungs(&["av1:720p"])).unwrap();
        assert_eq!(cents(e.usd), 45);
    }

    #[test]
    fn a_templates_ladder_is_priced_in_each_of_its_codecs() {
        let mut t = openvod_transcode::JobTemplate::load("default").unwrap();
        let book = PriceBook::built_in();
        let one = template_rungs(&t.video, 30.0);
        assert_eq!(one.len(), 4);
        assert!(one
            .iter()
            .all(|r| r.codec == VideoCodec::H264 && r.fps == 30.0));
        // A 60 fps source: the template keeps 60 fps, so every rung is Professional.
        let fast = template_rungs(&t.video, 60.0);
        assert!(fast.iter().all(|r| r.tier().0 == Tier::Professional));
        t.video.codecs = vec![VideoCodec::H264, VideoCodec::Hevc];
        let two = template_rungs(&t.video, 25.0);
        assert_eq!(two.len(), 8);
        let e = EncodeEstimate::new(&book, 90.0, &two).unwrap();
        // H.264: 2 HD + 2 SD at Basic; HEVC: 2 HD + 2 SD at Professional.
        assert_eq!(cents(e.usd), 405 + 810);
    }

    #[test]
    fn a_bad_rung_or_length_is_named() {
        for (rung, says) in [
            ("vp9:720p", "unknown video codec"),
            ("h264", "no height"),
            ("h264:720", "ends in p"),
            ("h264:p", "whole number"),
            ("h264:0p", "1 to 4320"),
            ("h264:99999p", "1 to 4320"),
            ("h264:720p@0", "frame rate"),
            ("h264:720p@nan", "frame rate"),
            ("h264:720p@inf", "frame rate"),
            ("h264:720p:sdr", "unknown flag"),
            ("h264:720p:hdr:x", "too many"),
        ] {
            let e = rung.parse::<OutputRung>().unwrap_err().to_string();
            assert!(e.contains(rung) && e.contains(says), "{rung}: {e}");
        }
        let book = PriceBook::built_in();
        for m in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e9] {
            assert!(EncodeEstimate::new(&book, m, &[]).is_err(), "{m}");
        }
    }
}
