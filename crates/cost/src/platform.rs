//! A platform's month on the AWS reference architecture, line by line: CloudFront for
//! what viewers watch, MediaPackage for what the CDN fetches on a miss, MediaConvert for
//! the uploads, S3 for the catalogue, the serverless workflow and metadata table, and
//! DRM licences. Every figure follows from stated assumptions ([`PlatformAssumptions`])
//! and the template's ladder ([`LadderRates`]), and each scenario shows what per-title
//! ladders and HEVC change, at the savings openvod's own benchmarks measured.

use openvod_transcode::template::VideoCodec;
use openvod_transcode::JobTemplate;
use serde::Serialize;

use crate::{template_rungs, EncodeEstimate, Error, OutputRung, PriceBook, Result};

/// The bytes a per-title ladder keeps of the fixed ladder's: `bench/per_title.sh` measured
/// 43 % fewer on average over its four 60 s 1080p sources, at the fixed ladder's quality.
pub const PER_TITLE_BYTES: f64 = 0.57;

/// The bytes HEVC keeps of H.264's at equal quality: `CODECS=h264,hevc,av1
/// bench/per_title.sh` measured 83 % (x265 against x264, both `medium`, same caps).
pub const HEVC_BYTES: f64 = 0.83;

/// How many state transitions, Lambda invocations and metadata writes one job takes in
/// the reference architecture's workflow (ingest, probe, encode, package, publish, notify,
/// with their choice and wait states).
const TRANSITIONS_PER_JOB: f64 = 20.0;
const LAMBDAS_PER_JOB: f64 = 6.0;
/// Each invocation: 1 GB of memory for 2 s.
const LAMBDA_GB_SECONDS: f64 = 2.0;
const METADATA_WRITES_PER_JOB: f64 = 10.0;
/// Each playback session reads the asset's record twice (the page, the player's URL)
/// and writes one view record.
const READS_PER_SESSION: f64 = 2.0;
const WRITES_PER_SESSION: f64 = 1.0;

const GB: f64 = 1e9;

/// What the month is assumed to be. Every field is printed with the bill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlatformAssumptions {
    /// Daily active viewers.
    pub daily_viewers: f64,
    /// Minutes each watches a day.
    pub minutes_per_day: f64,
    /// The renditions viewers watch, in equal shares (names of the template's rungs).
    pub renditions: Vec<String>,
    /// Plays started per viewer per day: each takes a DRM licence and metadata reads.
    pub sessions_per_day: f64,
    /// The share of bytes the CDN answers from its cache; the rest is fetched from the
    /// packager.
    pub cache_hit_ratio: f64,
    /// New titles a day, each encoded into the whole ladder.
    pub uploads_per_day: f64,
    /// A title's length.
    pub title_minutes: f64,
    /// Titles kept.
    pub catalogue_titles: f64,
    /// The uploaded source's bit rate (a mezzanine file), kept beside the outputs.
    pub source_mbps: f64,
    /// The share of the catalogue moved to the archive class (not played lately).
    pub cold_share: f64,
    /// The share of viewing on players that take HEVC, in the HEVC scenario.
    pub hevc_share: f64,
    /// Whether every play takes a DRM licence.
    pub drm: bool,
    /// Days in the month.
    pub days: f64,
}

impl Default for PlatformAssumptions {
    /// The seed's platform: 2 million daily viewers watching half an hour of 720p.
    fn default() -> Self {
        PlatformAssumptions {
            daily_viewers: 2_000_000.0,
            minutes_per_day: 30.0,
            renditions: vec!["720p".into()],
            sessions_per_day: 2.0,
            cache_hit_ratio: 0.95,
            uploads_per_day: 100.0,
            title_minutes: 45.0,
            catalogue_titles: 20_000.0,
            source_mbps: 20.0,
            cold_share: 0.0,
            hevc_share: 0.7,
            drm: true,
            days: 30.0,
        }
    }
}

impl PlatformAssumptions {
    /// Checks every figure, naming the one out of bounds.
    pub fn check(&self) -> Result<()> {
        let bad = |name: &str, v: f64, bounds: &str| {
            Err(Error::Assumption(format!("{name} is {v}: {bounds}")))
        };
        for (name, v, max) in [
            ("dau", self.daily_viewers, 1e10),
            ("minutes-per-day", self.minutes_per_day, 1440.0),
            ("sessions-per-day", self.sessions_per_day, 1000.0),
            ("uploads-per-day", self.uploads_per_day, 1e7),
            ("title-minutes", self.title_minutes, 100_000.0),
            ("catalogue", self.catalogue_titles, 1e9),
            ("source-mbps", self.source_mbps, 10_000.0),
            ("days", self.days, 31.0),
        ] {
            if !(v.is_finite() && v >= 0.0 && v <= max) {
                return bad(name, v, &format!("a number from 0 to {max}"));
            }
        }
        for (name, v) in [
            ("cache-hit", self.cache_hit_ratio),
            ("cold-share", self.cold_share),
            ("hevc-share", self.hevc_share),
        ] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return bad(name, v, "a share from 0 to 1");
            }
        }
        if self.title_minutes <= 0.0 {
            return bad("title-minutes", self.title_minutes, "above 0");
        }
        if self.renditions.is_empty() {
            return Err(Error::Assumption(
                "no rendition: name at least one the viewers watch".into(),
            ));
        }
        Ok(())
    }
}

/// A template's ladder as the bill needs it: each rung's name, output and peak bit rate,
/// the audio's bit rate, and the segment length.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LadderRates {
    pub template: String,
    pub rungs: Vec<(String, OutputRung, u64)>,
    pub audio_bits_per_second: u64,
    pub segment_seconds: f64,
}

impl LadderRates {
    /// The first codec's ladder of `template` (H.264 in the built-in templates) at 30 fps.
    pub fn of_template(template: &JobTemplate) -> LadderRates {
        let fps = 30.0;
        let first = template.video.ladder_codecs().first().copied();
        let outputs = template_rungs(&template.video, fps);
        let rungs = template
            .video
            .ladder()
            .into_iter()
            .zip(outputs)
            .filter(|((codec, _), _)| Some(*codec) == first)
            .map(|((_, r), out)| (r.name, out, r.max_bitrate))
            .collect();
        LadderRates {
            template: template.name.clone(),
            rungs,
            audio_bits_per_second: template.audio.as_ref().map_or(0, |a| a.bitrate),
            segment_seconds: template.packaging.segment_seconds,
        }
    }

    /// The peak bit rate of rendition `name` with its audio.
    fn viewed_bits_per_second(&self, name: &str) -> Result<u64> {
        self.rungs
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, bps)| bps + self.audio_bits_per_second)
            .ok_or_else(|| {
                let names: Vec<&str> = self.rungs.iter().map(|(n, _, _)| n.as_str()).collect();
                Error::Assumption(format!(
                    "rendition {name:?} is not in template {:?}, which has {}",
                    self.template,
                    names.join(", ")
                ))
            })
    }

    /// Every rung with the audio, as stored for one title.
    fn ladder_bits_per_second(&self) -> u64 {
        self.rungs.iter().map(|(_, _, bps)| bps).sum::<u64>() + self.audio_bits_per_second
    }
}

/// A way of running the platform, by what it encodes and how many bytes viewers fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// The template's fixed ladder in H.264, as the reference architecture runs it.
    FixedLadder,
    /// A ladder chosen per title: the same quality in fewer bytes.
    PerTitle,
    /// Per-title ladders in H.264 and HEVC; players that take HEVC get it.
    PerTitleHevc,
}

impl Scenario {
    pub const ALL: [Scenario; 3] = [
        Scenario::FixedLadder,
        Scenario::PerTitle,
        Scenario::PerTitleHevc,
    ];

    fn describe(self, hevc_share: f64) -> String {
        match self {
            Scenario::FixedLadder => "the template's fixed H.264 ladder".into(),
            Scenario::PerTitle => format!(
                "per-title ladders: {:.0} % of the fixed ladder's bytes",
                PER_TITLE_BYTES * 100.0
            ),
            Scenario::PerTitleHevc => format!(
                "per-title ladders in H.264 and HEVC, {:.0} % of viewing in HEVC at {:.0} % of H.264's bytes",
                hevc_share * 100.0,
                HEVC_BYTES * 100.0
            ),
        }
    }

    /// Viewers' bytes against the fixed ladder's.
    fn viewing_bytes(self, hevc_share: f64) -> f64 {
        match self {
            Scenario::FixedLadder => 1.0,
            Scenario::PerTitle => PER_TITLE_BYTES,
            Scenario::PerTitleHevc => {
                PER_TITLE_BYTES * (hevc_share * HEVC_BYTES + (1.0 - hevc_share))
            }
        }
    }

    /// Stored output bytes against the fixed ladder's, and the ladders encoded.
    fn ladders(self) -> (f64, &'static [VideoCodec]) {
        match self {
            Scenario::FixedLadder => (1.0, &[VideoCodec::H264]),
            Scenario::PerTitle => (PER_TITLE_BYTES, &[VideoCodec::H264]),
            Scenario::PerTitleHevc => (
                PER_TITLE_BYTES * (1.0 + HEVC_BYTES),
                &[VideoCodec::H264, VideoCodec::Hevc],
            ),
        }
    }
}

/// One line of a month's bill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BillLine {
    /// The AWS service.
    pub service: &'static str,
    /// What it is charged for, with the quantity.
    pub basis: String,
    pub usd: f64,
}

/// One scenario's month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioBill {
    pub scenario: Scenario,
    pub description: String,
    /// What viewers fetched from the CDN in the month.
    pub delivered_gb: f64,
    pub lines: Vec<BillLine>,
    pub usd: f64,
}

/// A platform's month, in every scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlatformBill {
    pub price_book: String,
    pub assumptions: PlatformAssumptions,
    pub ladder: LadderRates,
    pub scenarios: Vec<ScenarioBill>,
}

impl PlatformBill {
    /// The month of `assumptions` with `ladder`, priced in `book`.
    pub fn new(
        book: &PriceBook,
        assumptions: &PlatformAssumptions,
        ladder: &LadderRates,
    ) -> Result<PlatformBill> {
        assumptions.check()?;
        let a = assumptions;
        let mut viewed_bps = 0.0;
        for name in &a.renditions {
            viewed_bps += ladder.viewed_bits_per_second(name)? as f64;
        }
        viewed_bps /= a.renditions.len() as f64;
        let viewing_minutes = a.daily_viewers * a.minutes_per_day * a.days;
        let fixed_gb = viewing_minutes * 60.0 * viewed_bps / 8.0 / GB;
        let sessions = a.daily_viewers * a.sessions_per_day * a.days;
        let jobs = a.uploads_per_day * a.days;
        let title_seconds = a.title_minutes * 60.0;
        let source_gb = a.source_mbps * 1e6 * title_seconds / 8.0 / GB;
        let ladder_gb = ladder.ladder_bits_per_second() as f64 * title_seconds / 8.0 / GB;
        // A segment of video and one of audio per segment length watched.
        let segment = ladder.segment_seconds.max(0.5);
        let requests = viewing_minutes * 60.0 / segment * 2.0;
        let w = &book.workflow;
        let mut scenarios = Vec::new();
        for scenario in Scenario::ALL {
            let delivered_gb = fixed_gb * scenario.viewing_bytes(a.hevc_share);
            let (stored_share, codecs) = scenario.ladders();
            let mut rungs = Vec::new();
            for codec in codecs {
                rungs.extend(ladder.rungs.iter().map(|(_, r, _)| OutputRung {
                    codec: *codec,
                    ..*r
                }));
            }
            let encode = EncodeEstimate::new(book, a.title_minutes, &rungs)?;
            let stored_gb = a.catalogue_titles * (source_gb + ladder_gb * stored_share);
            let storage_per_gb =
                book.s3.standard.usd * (1.0 - a.cold_share) + book.s3.archive.usd * a.cold_share;
            let missed_gb = delivered_gb * (1.0 - a.cache_hit_ratio);
            let mut lines = vec![
                BillLine {
                    service: "CloudFront",
                    basis: format!(
                        "{:.1} PB delivered, priced through the volume tiers",
                        delivered_gb / 1e6
                    ),
                    usd: book.cloudfront.transfer_usd(delivered_gb),
                },
                BillLine {
                    service: "CloudFront",
                    basis: format!(
                        "{:.1} billion HTTPS requests ({segment} s segments, video and audio)",
                        requests / 1e9
                    ),
                    usd: requests / 1e4 * book.cloudfront.https_requests.usd,
                },
                BillLine {
                    service: "MediaPackage",
                    basis: format!(
                        "{:.0} TB packaged for the CDN's misses ({:.0} % of the bytes)",
                        missed_gb / 1e3,
                        (1.0 - a.cache_hit_ratio) * 100.0
                    ),
                    usd: missed_gb * book.mediapackage.vod_packaging.usd,
                },
                BillLine {
                    service: "MediaConvert",
                    basis: format!(
                        "{jobs:.0} titles of {} minutes into {} outputs (${:.2} each)",
                        a.title_minutes,
                        rungs.len(),
                        encode.usd
                    ),
                    usd: jobs * encode.usd,
                },
                BillLine {
                    service: "S3",
                    basis: format!(
                        "{:.0} TB: {:.0} titles, source and outputs, {:.0} % in the archive class",
                        stored_gb / 1e3,
                        a.catalogue_titles,
                        a.cold_share * 100.0
                    ),
                    usd: stored_gb * storage_per_gb,
                },
                BillLine {
                    service: "Lambda + Step Functions",
                    basis: format!("{jobs:.0} jobs' workflows"),
                    usd: jobs
                        * (TRANSITIONS_PER_JOB * w.step_functions_transitions.usd / 1e6
                            + LAMBDAS_PER_JOB * w.lambda_requests.usd / 1e6
                            + LAMBDAS_PER_JOB * LAMBDA_GB_SECONDS * w.lambda_gb_second.usd),
                },
                BillLine {
                    service: "DynamoDB",
                    basis: format!(
                        "{:.0} million reads and {:.0} million writes",
                        sessions * READS_PER_SESSION / 1e6,
                        (sessions * WRITES_PER_SESSION + jobs * METADATA_WRITES_PER_JOB) / 1e6
                    ),
                    usd: sessions * READS_PER_SESSION * w.dynamodb_reads.usd / 1e6
                        + (sessions * WRITES_PER_SESSION + jobs * METADATA_WRITES_PER_JOB)
                            * w.dynamodb_writes.usd
                            / 1e6,
                },
            ];
            if a.drm {
                lines.push(BillLine {
                    service: "DRM (SPEKE)",
                    basis: format!("{:.0} million licences", sessions / 1e6),
                    usd: sessions * book.drm.licence.usd,
                });
            }
            scenarios.push(ScenarioBill {
                scenario,
                description: scenario.describe(a.hevc_share),
                delivered_gb,
                usd: lines.iter().map(|l| l.usd).sum(),
                lines,
            });
        }
        Ok(PlatformBill {
            price_book: book.name.clone(),
            assumptions: assumptions.clone(),
            ladder: ladder.clone(),
            scenarios,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_bill(a: &PlatformAssumptions) -> PlatformBill {
        let template = JobTemplate::load("default").unwrap();
        PlatformBill::new(
            &PriceBook::built_in(),
            a,
            &LadderRates::of_template(&template),
        )
        .unwrap()
    }

    #[test]
    fn the_seeds_platform_costs_what_the_seed_says() {
        let bill = default_bill(&PlatformAssumptions::default());
        // The seed: a 2M-DAU platform's month is $0.5-1.2M on the reference architecture.
        for s in &bill.scenarios {
            assert!((500_000.0..=1_200_000.0).contains(&s.usd), "{s:#?}");
            let sum: f64 = s.lines.iter().map(|l| l.usd).sum();
            assert!((sum - s.usd).abs() < 1e-6);
        }
        let fixed = &bill.scenarios[0];
        // 2M viewers x 30 min x 30 days of 720p at 3 Mb/s + 128 kb/s audio.
        let gb = 2e6 * 30.0 * 30.0 * 60.0 * 3_128_000.0 / 8.0 / 1e9;
        assert!(
            (fixed.delivered_gb - gb).abs() < 1e-3,
            "{}",
            fixed.delivered_gb
        );
        // Delivery is most of the bill.
        assert!(fixed.lines[0].usd > fixed.usd * 0.75, "{fixed:#?}");
        // The default ladder: two HD rungs at $0.015, two SD at $0.0075, 45 minutes, 3000
        // titles a month.
        let mc = fixed
            .lines
            .iter()
            .find(|l| l.service == "MediaConvert")
            .unwrap();
        assert!((mc.usd - 3000.0 * 45.0 * 0.045).abs() < 1e-6, "{mc:?}");
    }

    #[test]
    fn per_title_ladders_and_hevc_cut_the_bytes_they_measured() {
        let bill = default_bill(&PlatformAssumptions::default());
        let [fixed, per_title, hevc] = &bill.scenarios[..] else {
            panic!("three scenarios")
        };
        assert!((per_title.delivered_gb / fixed.delivered_gb - 0.57).abs() < 1e-9);
        let share = 0.57 * (0.7 * 0.83 + 0.3);
        assert!((hevc.delivered_gb / fixed.delivered_gb - share).abs() < 1e-9);
        assert!(fixed.usd > per_title.usd && per_title.usd > hevc.usd);
        // HEVC costs more to encode: a second ladder at the Professional tier.
        let mc = |s: &ScenarioBill| {
            s.lines
                .iter()
                .find(|l| l.service == "MediaConvert")
                .unwrap()
                .usd
        };
        assert!(mc(hevc) > 2.0 * mc(per_title));
    }

    #[test]
    fn archiving_the_catalogue_cuts_its_storage() {
        let hot = default_bill(&PlatformAssumptions::default());
        let cold = default_bill(&PlatformAssumptions {
            cold_share: 1.0,
            ..PlatformAssumptions::default()
        });
        let s3 = |b: &PlatformBill| {
            b.scenarios[0]
                .lines
                .iter()
                .find(|l| l.service == "S3")
                .unwrap()
                .usd
        };
        assert!((s3(&cold) / s3(&hot) - 0.004 / 0.023).abs() < 1e-9);
    }

    #[test]
    fn bad_assumptions_are_named() {
        let template = JobTemplate::load("default").unwrap();
        let ladder = LadderRates::of_template(&template);
        let book = PriceBook::built_in();
        let e = |a: PlatformAssumptions| {
            PlatformBill::new(&book, &a, &ladder)
                .unwrap_err()
                .to_string()
        };
        let d = PlatformAssumptions::default;
        assert!(e(PlatformAssumptions {
            daily_viewers: -1.0,
            ..d()
        })
        .contains("dau"));
        assert!(e(PlatformAssumptions {
            minutes_per_day: f64::NAN,
            ..d()
        })
        .contains("minutes-per-day"));
        assert!(e(PlatformAssumptions {
            cache_hit_ratio: 1.5,
            ..d()
        })
        .contains("cache-hit"));
        let unknown = e(PlatformAssumptions {
            renditions: vec!["4k".into()],
            ..d()
        });
        assert!(
            unknown.contains("\"4k\"") && unknown.contains("720p"),
            "{unknown}"
        );
        assert!(e(PlatformAssumptions {
            renditions: vec![],
            ..d()
        })
        .contains("no rendition"));
    }
}
