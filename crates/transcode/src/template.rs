//! Job templates: the ladder, codec settings, packaging and audio of a transcode, read
//! from TOML (see `templates/default.toml`, which is also the built-in `default`).

use std::path::Path;

use openvod_media::segment::SegmentTarget;
use openvod_media::{Manifests, ProtectionSettings, RenditionName};
use serde::{Deserialize, Serialize};

use crate::per_title::LadderSettings;
use crate::{Error, Result};

/// A complete job template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobTemplate {
    pub name: String,
    pub video: VideoSettings,
    /// `None`: no audio output even when the source has audio.
    pub audio: Option<AudioSettings>,
    #[serde(default)]
    pub packaging: PackagingSettings,
    /// Encryption of the packaged output; `None` (no `[protection]` table): clear only.
    #[serde(default)]
    pub protection: Option<ProtectionSettings>,
    /// Fixed rungs (the default) or a ladder chosen per title, and its bounds.
    #[serde(default, skip_serializing_if = "LadderSettings::is_default")]
    pub ladder: LadderSettings,
}

/// Video codec settings shared by every rung, and the rungs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoSettings {
    /// The codec of the rungs, when `codecs` is not given.
    #[serde(default)]
    pub codec: VideoCodec,
    /// A ladder per codec: each rung that names no codec of its own is encoded once in
    /// each of these. The first codec's rungs keep their names, the others' are named
    /// `NAME-CODEC` (`1080p-hevc`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codecs: Vec<VideoCodec>,
    /// H.264 only (HEVC rungs are Main: the picture is 8-bit 4:2:0).
    #[serde(default)]
    pub profile: H264Profile,
    /// HEVC rungs of a source of 10 bits or more are Main10 (10-bit 4:2:0) rather than
    /// Main; H.264 and AV1 rungs stay 8-bit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hevc_main10: bool,
    #[serde(default)]
    pub preset: Preset,
    /// SVT-AV1's preset for AV1 rungs, 0 (slowest) to 13 (fastest); by default the one
    /// that matches `preset`'s speed (see [`Preset::svt_av1`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub av1_preset: Option<u8>,
    /// Capped-quality level 1-10 (the QVBR quality level): mapped to a CRF, with each
    /// rung's `max_bitrate` as the cap.
    #[serde(default = "default_quality")]
    pub quality: u8,
    /// Closed GOP length in seconds; segments and fragments are cut on GOPs.
    #[serde(default = "default_gop")]
    pub gop_seconds: f64,
    /// Sources above this frame rate are encoded at half their rate.
    #[serde(default = "default_max_fps")]
    pub max_frame_rate: f64,
    /// Chunked encoding: a source at least two chunks long is cut into chunks of this
    /// many seconds (a whole number of GOPs), each encoded by its own task on any
    /// worker, and joined again before packaging (see `chunks`). A shorter source is
    /// encoded whole. `None`: every source is encoded whole, by one task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_seconds: Option<f64>,
    /// A preview (see `preview`) is encoded and published beside the ladder, so that
    /// the asset plays seconds after its upload (`playable`). On unless `false`.
    #[serde(default = "default_preview", skip_serializing_if = "is_on")]
    pub preview: bool,
    pub rungs: Vec<LadderRung>,
}

fn default_preview() -> bool {
    true
}

fn is_on(on: &bool) -> bool {
    *on
}

/// A video codec of the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoCodec {
    /// H.264 / AVC with x264.
    #[default]
    H264,
    /// H.265 / HEVC with x265, Main profile, tagged `hvc1` (Apple's HLS authoring rules
    /// ask for `hvc1`, which carries the parameter sets in the sample entry).
    Hevc,
    /// AV1 with SVT-AV1, Main profile (8-bit 4:2:0), in an `av01` sample entry.
    Av1,
}

impl VideoCodec {
    /// The name templates and the command line use.
    pub fn as_str(self) -> &'static str {
        match self {
            VideoCodec::H264 => "h264",
            VideoCodec::Hevc => "hevc",
            VideoCodec::Av1 => "av1",
        }
    }

    /// Every codec, in the order the command line lists them.
    pub const ALL: [VideoCodec; 3] = [VideoCodec::H264, VideoCodec::Hevc, VideoCodec::Av1];

    /// The ffmpeg encoder.
    pub fn encoder(self) -> &'static str {
        match self {
            VideoCodec::H264 => "libx264",
            VideoCodec::Hevc => "libx265",
            VideoCodec::Av1 => "libsvtav1",
        }
    }

    /// The codec's bit in the codec sets that tasks and workers carry (a task goes only
    /// to a worker whose set holds all of its own). Stored in the database: never
    /// renumbered.
    pub fn bit(self) -> i64 {
        match self {
            VideoCodec::H264 => 1,
            VideoCodec::Hevc => 2,
            VideoCodec::Av1 => 4,
        }
    }

    /// The codec set of `codecs` (see [`VideoCodec::bit`]).
    pub fn set_of(codecs: impl IntoIterator<Item = VideoCodec>) -> i64 {
        codecs.into_iter().fold(0, |set, c| set | c.bit())
    }

    /// The codecs of a codec set, in [`VideoCodec::ALL`]'s order.
    pub fn in_set(set: i64) -> Vec<VideoCodec> {
        VideoCodec::ALL
            .into_iter()
            .filter(|c| set & c.bit() != 0)
            .collect()
    }

    /// The smallest picture side the encoder takes (SVT-AV1 refuses sources under 64
    /// pixels; x264 and x265 pad to their block size).
    pub fn min_side(self) -> u32 {
        match self {
            VideoCodec::H264 | VideoCodec::Hevc => 16,
            VideoCodec::Av1 => 64,
        }
    }

    /// The largest CRF the encoder takes (x264 and x265: 51; SVT-AV1: 63).
    pub fn max_crf(self) -> u8 {
        match self {
            VideoCodec::H264 | VideoCodec::Hevc => 51,
            VideoCodec::Av1 => 63,
        }
    }

    /// The CRF of a capped-quality level 1-10. For x264, 10 is near transparent (CRF 18)
    /// and each level below costs 2 steps, so the default level 8 is CRF 22. x265's
    /// scale sits about 5 steps higher for the same picture quality (its default CRF is
    /// 28 where x264's is 23), so one level means the same picture in both. SVT-AV1's
    /// scale runs to 63 and sits about 12 steps above x264's (its default is 35).
    pub fn crf(self, level: u8) -> u8 {
        let x264 = 38 - 2 * level.clamp(1, 10);
        match self {
            VideoCodec::H264 => x264,
            VideoCodec::Hevc => x264 + 5,
            VideoCodec::Av1 => x264 + 12,
        }
    }
}

impl std::fmt::Display for VideoCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for VideoCodec {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<VideoCodec, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "h264" | "avc" => Ok(VideoCodec::H264),
            "hevc" | "h265" => Ok(VideoCodec::Hevc),
            "av1" => Ok(VideoCodec::Av1),
            other => Err(format!(
                "unknown video codec {other:?} (use h264, hevc or av1)"
            )),
        }
    }
}

/// The H.264 profile (ISO/IEC 14496-10, annex A).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum H264Profile {
    Baseline,
    Main,
    #[default]
    High,
}

impl H264Profile {
    /// The name x264 and ffmpeg's `-profile:v` take.
    pub fn name(self) -> &'static str {
        match self {
            H264Profile::Baseline => "baseline",
            H264Profile::Main => "main",
            H264Profile::High => "high",
        }
    }
}

impl std::fmt::Display for H264Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The x264 preset: the speed the encoder trades for compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    Ultrafast,
    Superfast,
    Veryfast,
    Faster,
    Fast,
    #[default]
    Medium,
    Slow,
    Slower,
    Veryslow,
    Placebo,
}

impl Preset {
    /// The name ffmpeg's `-preset` takes.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Ultrafast => "ultrafast",
            Preset::Superfast => "superfast",
            Preset::Veryfast => "veryfast",
            Preset::Faster => "faster",
            Preset::Fast => "fast",
            Preset::Medium => "medium",
            Preset::Slow => "slow",
            Preset::Slower => "slower",
            Preset::Veryslow => "veryslow",
            Preset::Placebo => "placebo",
        }
    }

    /// The SVT-AV1 preset of about the same cost. Measured on 2 cores, 720p: preset 10
    /// takes about 1.3 times x264 `medium`'s CPU time, 12 about two thirds of it, 8
    /// about 3.5 times (`bench/README.md`, "Codecs").
    pub fn svt_av1(self) -> u8 {
        match self {
            Preset::Ultrafast => 13,
            Preset::Superfast => 12,
            Preset::Veryfast => 11,
            Preset::Faster | Preset::Fast | Preset::Medium => 10,
            Preset::Slow => 8,
            Preset::Slower => 6,
            Preset::Veryslow => 4,
            Preset::Placebo => 2,
        }
    }
}

/// The audio codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioCodec {
    /// AAC-LC.
    #[default]
    Aac,
}

/// One rung of the ladder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LadderRung {
    /// Folder and rendition name, e.g. "720p".
    pub name: String,
    /// Size of the short side in pixels (the height of a landscape picture); the other
    /// side follows the source's display aspect ratio.
    pub height: u32,
    /// Explicit width; when set, the picture is scaled to exactly `width` x `height`
    /// (padding is never added, so set it only when the aspect ratio is known).
    #[serde(default)]
    pub width: Option<u32>,
    /// Peak bit rate in bits per second (`-maxrate`; the VBV buffer is twice this).
    pub max_bitrate: u64,
    /// Overrides the template's quality level for this rung.
    #[serde(default)]
    pub quality: Option<u8>,
    /// This rung's own codec: it is then encoded once, in this codec, whatever
    /// `video.codecs` says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<VideoCodec>,
}

impl VideoSettings {
    /// SVT-AV1's preset for this template's AV1 rungs.
    pub fn svt_av1_preset(&self) -> u8 {
        self.av1_preset.unwrap_or_else(|| self.preset.svt_av1())
    }

    /// The codecs a rung without a codec of its own is encoded in.
    pub fn ladder_codecs(&self) -> Vec<VideoCodec> {
        if self.codecs.is_empty() {
            vec![self.codec]
        } else {
            self.codecs.clone()
        }
    }

    /// Every rung of every codec's ladder, named as its rendition will be, with its
    /// codec: the first codec's ladder, then each other codec's.
    pub fn ladder(&self) -> Vec<(VideoCodec, LadderRung)> {
        let mut out = Vec::new();
        for (k, codec) in self.ladder_codecs().into_iter().enumerate() {
            for r in &self.rungs {
                match r.codec {
                    Some(own) if k == 0 => out.push((own, r.clone())),
                    Some(_) => {}
                    None => {
                        let mut rung = r.clone();
                        if k > 0 {
                            rung.name = format!("{}-{codec}", r.name);
                        }
                        out.push((codec, rung));
                    }
                }
            }
        }
        out
    }
}

/// The audio output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioSettings {
    #[serde(default = "default_audio_name")]
    pub name: String,
    #[serde(default)]
    pub codec: AudioCodec,
    #[serde(default = "default_audio_bitrate")]
    pub bitrate: u64,
    #[serde(default = "default_sample_rate")]
    pub sample_rate: u32,
    /// 1 (mono), 2 (stereo) or 6 (5.1): the layout of each source stream's rendition.
    /// A source stream with fewer channels than 6 is never mixed up to 5.1: it gets
    /// stereo.
    #[serde(default = "default_channels")]
    pub channels: u16,
    /// A 5.1 or 7.1 source stream also gets a 5.1 rendition, beside its stereo one.
    #[serde(default = "yes")]
    pub surround: bool,
    /// The bit rate of the 5.1 renditions.
    #[serde(default = "default_surround_bitrate")]
    pub surround_bitrate: u64,
    /// The language whose stream players pick first (ISO 639 or BCP 47: `es`, `spa`);
    /// without one, or when no stream has it, the source's default stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_language: Option<openvod_media::Language>,
}

/// Segmenting and manifests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackagingSettings {
    #[serde(default = "default_segment")]
    pub segment_seconds: f64,
    #[serde(default = "default_fragment")]
    pub fragment_seconds: f64,
    #[serde(default = "yes")]
    pub hls: bool,
    #[serde(default = "yes")]
    pub dash: bool,
    #[serde(default)]
    pub mode: PackagingMode,
    /// Progressive MP4 downloads (the top rung with its audio, and the audio alone as
    /// `.m4a`), remuxed from the encode without re-encoding.
    #[serde(default)]
    pub downloads: bool,
}

/// Where packaging happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackagingMode {
    /// Every copy is packaged ahead of time into files.
    #[default]
    Static,
    /// One stored copy per rendition (the encoded MP4 and its index); the origin
    /// packages every format and protection scheme on request.
    Jit,
}

impl Default for PackagingSettings {
    fn default() -> Self {
        PackagingSettings {
            segment_seconds: default_segment(),
            fragment_seconds: default_fragment(),
            hls: true,
            dash: true,
            mode: PackagingMode::default(),
            downloads: false,
        }
    }
}

fn default_quality() -> u8 {
    8
}
fn default_gop() -> f64 {
    2.0
}
fn default_max_fps() -> f64 {
    60.0
}
fn default_audio_name() -> String {
    "audio".into()
}
fn default_audio_bitrate() -> u64 {
    128_000
}
fn default_sample_rate() -> u32 {
    48_000
}
fn default_channels() -> u16 {
    2
}
fn default_surround_bitrate() -> u64 {
    384_000
}
fn default_segment() -> f64 {
    4.0
}
fn default_fragment() -> f64 {
    2.0
}
fn yes() -> bool {
    true
}

const DEFAULT_TEMPLATE: &str = include_str!("../templates/default.toml");

impl JobTemplate {
    /// Names of the built-in templates.
    pub fn builtin_names() -> &'static [&'static str] {
        &["default"]
    }

    /// A built-in template by name, or a TOML file by path.
    pub fn load(name_or_path: &str) -> Result<JobTemplate> {
        if name_or_path == "default" {
            return JobTemplate::parse(DEFAULT_TEMPLATE, "built-in template 'default'");
        }
        let path = Path::new(name_or_path);
        if !path.exists() {
            return Err(Error::Template(format!(
                "{name_or_path:?} is neither a built-in template ({}) nor a file",
                Self::builtin_names().join(", ")
            )));
        }
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.len() > 1 << 20 {
            return Err(Error::Template(format!(
                "{name_or_path}: larger than 1 MiB"
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        JobTemplate::parse(&text, name_or_path)
    }

    /// The built-in default ladder.
    pub fn default_ladder() -> JobTemplate {
        JobTemplate::parse(DEFAULT_TEMPLATE, "built-in").expect("the built-in template is valid")
    }

    /// Parses and validates TOML; `origin` names the source in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<JobTemplate> {
        let t: JobTemplate =
            toml::from_str(text).map_err(|e| Error::Template(format!("{origin}: {e}")))?;
        t.validate()
            .map_err(|e| Error::Template(format!("{origin}: {e}")))?;
        Ok(t)
    }

    /// Checks every value; the message names the field.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let v = &self.video;
        check_quality(v.quality, "video.quality")?;
        if !(0.5..=10.0).contains(&v.gop_seconds) {
            return Err(format!(
                "video.gop_seconds {} is outside 0.5..10",
                v.gop_seconds
            ));
        }
        if let Some(c) = v.chunk_seconds {
            crate::chunks::check_chunk_seconds(c, v.gop_seconds)
                .map_err(|e| format!("video.chunk_seconds: {e}"))?;
        }
        if !(1.0..=240.0).contains(&v.max_frame_rate) {
            return Err(format!(
                "video.max_frame_rate {} is outside 1..240",
                v.max_frame_rate
            ));
        }
        if v.rungs.is_empty() || v.rungs.len() > 16 {
            return Err("video.rungs: give 1 to 16 rungs".into());
        }
        for (i, r) in v.rungs.iter().enumerate() {
            let at = format!("video.rungs[{i}]");
            RenditionName::new(&r.name).map_err(|e| format!("{at}.name: {e}"))?;
            if !(16..=4320).contains(&r.height) {
                return Err(format!("{at}.height {} is outside 16..4320", r.height));
            }
            if let Some(w) = r.width {
                if !(16..=7680).contains(&w) || w % 2 == 1 || r.height % 2 == 1 {
                    return Err(format!("{at}: width and height must be even, 16..7680"));
                }
            }
            if !(50_000..=200_000_000).contains(&r.max_bitrate) {
                return Err(format!(
                    "{at}.max_bitrate {} is outside 50 kb/s..200 Mb/s",
                    r.max_bitrate
                ));
            }
            if let Some(q) = r.quality {
                check_quality(q, &format!("{at}.quality"))?;
            }
            if v.rungs[..i].iter().any(|o| o.name == r.name) {
                return Err(format!("{at}.name {:?} is used twice", r.name));
            }
        }
        let codecs = v.ladder_codecs();
        for (i, c) in codecs.iter().enumerate() {
            if codecs[..i].contains(c) {
                return Err(format!("video.codecs names {c} twice"));
            }
        }
        if let Some(p) = v.av1_preset {
            if p > 13 {
                return Err(format!("video.av1_preset {p} is outside 0..13"));
            }
        }
        let ladder = v.ladder();
        for (i, (codec, r)) in ladder.iter().enumerate() {
            RenditionName::new(&r.name).map_err(|e| format!("video rung {:?}: {e}", r.name))?;
            let min = codec.min_side();
            if r.height < min || r.width.is_some_and(|w| w < min) {
                return Err(format!(
                    "video rung {:?}: {codec} pictures are at least {min} pixels on each side",
                    r.name
                ));
            }
            if ladder[..i].iter().any(|(_, o)| o.name == r.name) {
                return Err(format!(
                    "video rung {:?} is named twice once every codec's ladder is named",
                    r.name
                ));
            }
        }
        if let Some(a) = &self.audio {
            RenditionName::new(&a.name).map_err(|e| format!("audio.name: {e}"))?;
            if !(16_000..=512_000).contains(&a.bitrate) {
                return Err(format!(
                    "audio.bitrate {} is outside 16..512 kb/s",
                    a.bitrate
                ));
            }
            if ![
                8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000,
            ]
            .contains(&a.sample_rate)
            {
                return Err(format!(
                    "audio.sample_rate {} is not an AAC sample rate",
                    a.sample_rate
                ));
            }
            if ![1, 2, 6].contains(&a.channels) {
                return Err(format!("audio.channels {}: use 1, 2 or 6", a.channels));
            }
            if a.surround && !(64_000..=1_024_000).contains(&a.surround_bitrate) {
                return Err(format!(
                    "audio.surround_bitrate {} is outside 64..1024 kb/s",
                    a.surround_bitrate
                ));
            }

            if ladder.iter().any(|(_, r)| r.name == a.name) {
                return Err(format!(
                    "audio.name {:?} is also a video rung's name",
                    a.name
                ));
            }
        }
        self.ladder.validate()?;
        let p = &self.packaging;
        self.segment_target()
            .validate()
            .map_err(|e| format!("packaging: {e}"))?;
        if !p.hls && !p.dash {
            return Err("packaging: at least one of hls and dash must be true".into());
        }
        Ok(())
    }

    /// Segment and fragment targets for the packager.
    pub fn segment_target(&self) -> SegmentTarget {
        SegmentTarget {
            segment_seconds: self.packaging.segment_seconds,
            fragment_seconds: self.packaging.fragment_seconds,
        }
    }

    /// The manifests to write.
    pub fn manifests(&self) -> Manifests {
        Manifests {
            hls: self.packaging.hls,
            dash: self.packaging.dash,
        }
    }

    /// How the template packages: segment lengths, manifests, copies and clear lead.
    pub fn packaging(&self) -> openvod_media::Packaging {
        openvod_media::Packaging {
            target: self.segment_target(),
            manifests: self.manifests(),
            copies: self
                .protection
                .as_ref()
                .map_or_else(|| vec![openvod_media::Copy::Clear], |p| p.copies.clone()),
            clear_lead_seconds: self
                .protection
                .as_ref()
                .map_or(0.0, |p| p.clear_lead_seconds),
            // Found in the encoded renditions when they are packaged.
            captioned: Vec::new(),
        }
    }
}

fn check_quality(q: u8, field: &str) -> std::result::Result<(), String> {
    if (1..=10).contains(&q) {
        Ok(())
    } else {
        Err(format!("{field} {q} is outside 1..10"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_default_is_the_reference_ladder() {
        let t = JobTemplate::default_ladder();
        let rungs: Vec<(u32, u64)> = t
            .video
            .rungs
            .iter()
            .map(|r| (r.height, r.max_bitrate))
            .collect();
        assert_eq!(
            rungs,
            vec![
                (1080, 5_000_000),
                (720, 3_000_000),
                (540, 1_600_000),
                (360, 800_000)
            ]
        );
        assert_eq!(t.video.quality, 8);
        assert_eq!(t.packaging.segment_seconds, 4.0);
        assert_eq!(t.audio.as_ref().map(|a| a.bitrate), Some(128_000));
    }

    #[test]
    fn unknown_and_bad_fields_are_named() {
        let err = JobTemplate::parse("name='x'\n[video]\nrungs=[]\ncolour='red'\n", "t.toml")
            .unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
        let text = DEFAULT_TEMPLATE.replace("quality = 8", "quality = 11");
        let err = JobTemplate::parse(&text, "t.toml").unwrap_err();
        assert!(err.to_string().contains("video.quality 11"), "{err}");
    }

    #[test]
    fn quality_maps_to_crf() {
        assert_eq!(VideoCodec::H264.crf(10), 18);
        assert_eq!(VideoCodec::H264.crf(8), 22);
        assert_eq!(VideoCodec::H264.crf(1), 36);
        assert_eq!(VideoCodec::Hevc.crf(8), 27);
    }

    #[test]
    fn a_ladder_per_codec_names_the_later_codecs_rungs() {
        let text = DEFAULT_TEMPLATE.replace(
            "codec = \"h264\"",
            "codec = \"h264\"\ncodecs = [\"h264\", \"hevc\"]",
        );
        let t = JobTemplate::parse(&text, "t.toml").unwrap();
        let ladder: Vec<(VideoCodec, String)> = t
            .video
            .ladder()
            .into_iter()
            .map(|(c, r)| (c, r.name))
            .collect();
        assert_eq!(ladder.len(), 8);
        assert_eq!(ladder[0], (VideoCodec::H264, "1080p".to_string()));
        assert_eq!(ladder[4], (VideoCodec::Hevc, "1080p-hevc".to_string()));
        assert_eq!(ladder[7], (VideoCodec::Hevc, "360p-hevc".to_string()));
        // A rung with a codec of its own is encoded once.
        let own = text.replace("name = \"360p\"", "name = \"360p\"\ncodec = \"hevc\"");
        let t = JobTemplate::parse(&own, "t.toml").unwrap();
        let names: Vec<String> = t.video.ladder().into_iter().map(|(_, r)| r.name).collect();
        assert_eq!(names.iter().filter(|n| n.starts_with("360p")).count(), 1);
        assert_eq!(names.len(), 7);
        // A codec twice, a name a later ladder takes, and an unknown codec are refused.
        let twice = text.replace("[\"h264\", \"hevc\"]", "[\"hevc\", \"hevc\"]");
        let err = JobTemplate::parse(&twice, "t.toml").unwrap_err();
        assert!(err.to_string().contains("hevc twice"), "{err}");
        let clash = text.replace("name = \"540p\"", "name = \"720p-hevc\"");
        let err = JobTemplate::parse(&clash, "t.toml").unwrap_err();
        assert!(err.to_string().contains("720p-hevc"), "{err}");
        let err = JobTemplate::parse(&text.replace("\"hevc\"]", "\"vp9\"]"), "t.toml");
        assert!(err.is_err());
        assert_eq!("H265".parse::<VideoCodec>(), Ok(VideoCodec::Hevc));
        assert!("vp8".parse::<VideoCodec>().is_err());
    }
}
