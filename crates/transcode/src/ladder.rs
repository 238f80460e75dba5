//! Planning the encode: which rungs, at what size and frame rate, with what rate control.

use serde::{Deserialize, Serialize};

use crate::probe::MediaInfo;
use crate::template::{JobTemplate, VideoCodec};
use crate::{Error, Result};

/// One video output of the encode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedRung {
    pub name: String,
    #[serde(default)]
    pub codec: VideoCodec,
    pub width: u32,
    pub height: u32,
    pub max_bitrate: u64,
    pub crf: u8,
    /// 10-bit 4:2:0 (HEVC Main10) rather than 8-bit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ten_bit: bool,
}

/// The most audio streams of one source that are transcoded: each becomes one or two
/// renditions, each an output of the one ffmpeg process and an entry in every manifest.
pub const MAX_AUDIO_STREAMS: usize = 16;

/// One audio output of the encode: a source stream at one layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedAudio {
    pub name: String,
    /// ffprobe index of the source stream.
    pub stream_index: u32,
    pub bitrate: u64,
    pub sample_rate: u32,
    pub channels: u16,
    /// The source's ISO 639-2 language, carried to the output.
    pub language: Option<String>,
}

/// A subtitle or caption track of the output: a text stream of the source, turned into
/// WebVTT by the encode (`NAME.vtt`), or a sidecar file given with the job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedText {
    pub name: String,
    /// ffprobe index of the source stream; `None` for a sidecar.
    pub stream_index: Option<u32>,
    #[serde(flatten)]
    pub info: openvod_media::text::TextTrackInfo,
}

/// The most text tracks one output carries.
pub const MAX_TEXT_TRACKS: usize = openvod_media::text::MAX_TEXT_TRACKS;

/// Everything ffmpeg is asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncodePlan {
    pub video_stream_index: u32,
    pub rungs: Vec<PlannedRung>,
    /// Every audio output, the one players pick first (the source's default stream, or
    /// the template's language) first.
    #[serde(default, deserialize_with = "one_or_many_audio")]
    pub audio: Vec<PlannedAudio>,
    /// Subtitle and caption tracks: the source's text streams, then sidecars.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub text: Vec<PlannedText>,
    /// Output frame rate as a rational.
    pub frame_rate: (u32, u32),
    /// Keyframe interval in frames (`-g`), and in seconds for `-force_key_frames`.
    pub gop_frames: u32,
    pub gop_seconds: f64,
    pub deinterlace: bool,
    pub profile: crate::template::H264Profile,
    pub preset: crate::template::Preset,
    /// SVT-AV1's preset, for AV1 rungs.
    #[serde(default = "default_av1_preset")]
    pub av1_preset: u8,
    /// Source duration in seconds (0 when unknown).
    pub duration: f64,
}

impl EncodePlan {
    /// The name of every output, in the order the presentation takes them: the rungs,
    /// then the audio, the one players pick first leading.
    pub fn rendition_names(&self) -> Vec<String> {
        self.rungs
            .iter()
            .map(|r| r.name.clone())
            .chain(self.audio.iter().map(|a| a.name.clone()))
            .collect()
    }
}

/// Plans stored before a source's every audio stream was planned hold one audio output
/// or `null`; they still read.
fn one_or_many_audio<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<PlannedAudio>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Many(Vec<PlannedAudio>),
        One(Option<PlannedAudio>),
    }
    Ok(match Stored::deserialize(d)? {
        Stored::Many(v) => v,
        Stored::One(one) => one.into_iter().collect(),
    })
}

fn default_av1_preset() -> u8 {
    crate::template::Preset::default().svt_av1()
}

/// The largest picture of the top level of H.264 (6.2: 139 264 macroblocks), HEVC (6.2:
/// MaxLumaPs) and AV1 (6.3: MaxPicSize) alike, in luma samples.
const MAX_LUMA_PICTURE: u64 = 35_651_584;

/// Rounds to the nearest even number, at least 2: H.264 4:2:0 needs even dimensions.
fn even(x: f64) -> u32 {
    ((x / 2.0).round() as u32).max(1) * 2
}

/// Plans the ladder for a source: rungs above the source's short side are left out
/// (never upscale), sizes keep the display aspect ratio with square pixels and even
/// dimensions, and a source smaller than every rung gets one rung at its own size.
pub fn plan(info: &MediaInfo, template: &JobTemplate, input: &str) -> Result<EncodePlan> {
    let unsupported = |reason: String| Error::Unsupported {
        input: input.to_string(),
        reason,
    };
    let video = info.first_video().ok_or_else(|| {
        unsupported("no video stream (audio-only files are not transcoded)".into())
    })?;
    if video.width == 0 || video.height == 0 {
        return Err(unsupported(format!(
            "video stream has no picture size ({}x{})",
            video.width, video.height
        )));
    }
    if video.width > 8192 || video.height > 8192 {
        return Err(unsupported(format!(
            "video is {}x{}, larger than 8192 pixels",
            video.width, video.height
        )));
    }
    let (dw, dh) = video.display_size();
    let landscape = dw >= dh;
    let short = dw.min(dh);
    let v = &template.video;
    let size_for = |short_side: f64| -> (u32, u32) {
        if landscape {
            (even(short_side * dw / dh), even(short_side))
        } else {
            (even(short_side), even(short_side * dh / dw))
        }
    };
    let ladder = v.ladder();
    let deep_source = video.bit_depth.is_some_and(|d| d >= 10);
    let ten_bit = |codec: VideoCodec| codec == VideoCodec::Hevc && v.hevc_main10 && deep_source;
    let mut rungs: Vec<PlannedRung> = ladder
        .iter()
        .filter(|(_, r)| f64::from(r.height) <= short + 0.5)
        .map(|(codec, r)| {
            let (width, height) = match r.width {
                Some(w) => (w, r.height),
                None => size_for(f64::from(r.height)),
            };
            PlannedRung {
                name: r.name.clone(),
                codec: *codec,
                width,
                height,
                max_bitrate: r.max_bitrate,
                crf: codec.crf(r.quality.unwrap_or(v.quality)),
                ten_bit: ten_bit(*codec),
            }
        })
        .collect();
    if rungs.is_empty() {
        // Smaller than the smallest rung: one rung at the source's size in each codec,
        // with the smallest rung's rate settings.
        let smallest = v
            .rungs
            .iter()
            .min_by_key(|r| r.height)
            .expect("templates have rungs");
        let (width, height) = size_for(short);
        for (k, codec) in v.ladder_codecs().into_iter().enumerate() {
            let name = match k {
                0 => format!("{}p", even(short)),
                _ => format!("{}p-{codec}", even(short)),
            };
            rungs.push(PlannedRung {
                name,
                codec,
                width,
                height,
                max_bitrate: smallest.max_bitrate,
                crf: codec.crf(smallest.quality.unwrap_or(v.quality)),
                ten_bit: ten_bit(codec),
            });
        }
    }
    // What an encoder cannot make is refused here, before any work starts.
    for r in &rungs {
        let min = r.codec.min_side();
        if r.width < min || r.height < min {
            return Err(unsupported(format!(
                "rung {} would be {}x{}: {} pictures are at least {min} pixels on each side",
                r.name, r.width, r.height, r.codec
            )));
        }
        if u64::from(r.width) * u64::from(r.height) > MAX_LUMA_PICTURE {
            return Err(unsupported(format!(
                "rung {} would be {}x{}, past the largest level of {} ({MAX_LUMA_PICTURE} luma samples)",
                r.name, r.width, r.height, r.codec
            )));
        }
    }
    let mut fps = video.frame_rate_rational;
    while f64::from(fps.0) / f64::from(fps.1) > v.max_frame_rate + 0.01 {
        fps.1 *= 2;
    }
    let fps_f = f64::from(fps.0) / f64::from(fps.1);
    let gop_frames = ((v.gop_seconds * fps_f).round() as u32).max(1);
    let audio = match &template.audio {
        Some(a) => plan_audio(info, a, &rungs).map_err(unsupported)?,
        None => Vec::new(),
    };
    let mut text: Vec<PlannedText> = Vec::new();
    for t in info.subtitle_streams().filter(|t| t.is_text()) {
        if text.len() == MAX_TEXT_TRACKS {
            return Err(unsupported(format!(
                "the source has more than {MAX_TEXT_TRACKS} subtitle streams"
            )));
        }
        let info = openvod_media::text::TextTrackInfo {
            language: t
                .language
                .as_deref()
                .and_then(openvod_media::Language::from_code),
            kind: if t.hearing_impaired {
                openvod_media::text::TextKind::Captions
            } else {
                openvod_media::text::TextKind::Subtitles
            },
            forced: t.forced,
        };
        let taken: Vec<String> = rungs
            .iter()
            .map(|r| r.name.clone())
            .chain(audio.iter().map(|a| a.name.clone()))
            .chain(text.iter().map(|t| t.name.clone()))
            .collect();
        text.push(PlannedText {
            name: info.track_name(&taken),
            stream_index: Some(t.index),
            info,
        });
    }
    let duration = if info.duration > 0.0 {
        info.duration
    } else {
        video.duration.unwrap_or(0.0)
    };
    Ok(EncodePlan {
        video_stream_index: video.index,
        rungs,
        audio,
        text,
        frame_rate: fps,
        gop_frames,
        gop_seconds: v.gop_seconds,
        deinterlace: video.interlaced,
        profile: v.profile,
        preset: v.preset,
        av1_preset: v.svt_av1_preset(),
        duration,
    })
}

/// The audio outputs: every audio stream of the source at the template's layout (stereo
/// by default), and a 5.1 rendition too of each 5.1 or 7.1 stream; the stream players
/// should pick first leads. One stream keeps the template's name; several are told
/// apart by language (`audio-en`, `audio-es`), or by number where a language is missing
/// or repeated; a 5.1 rendition adds `-51`.
fn plan_audio(
    info: &MediaInfo,
    a: &crate::template::AudioSettings,
    rungs: &[PlannedRung],
) -> std::result::Result<Vec<PlannedAudio>, String> {
    let streams: Vec<&crate::probe::AudioStream> = info.audio_streams().collect();
    if streams.len() > MAX_AUDIO_STREAMS {
        return Err(format!(
            "the source has {} audio streams; at most {MAX_AUDIO_STREAMS} are transcoded",
            streams.len()
        ));
    }
    let asked = a.default_language.and_then(|want| {
        streams.iter().position(|s| {
            s.language
                .as_deref()
                .and_then(openvod_media::Language::from_code)
                == Some(want)
        })
    });
    let first = asked
        .or_else(|| streams.iter().position(|s| s.default))
        .unwrap_or(0);
    let ordered = streams.get(first).into_iter().chain(
        streams
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != first)
            .map(|(_, s)| s),
    );
    let mut out: Vec<PlannedAudio> = Vec::new();
    let mut bases: Vec<String> = Vec::new();
    for (k, src) in ordered.enumerate() {
        let base = if streams.len() == 1 {
            a.name.clone()
        } else {
            let tag = src
                .language
                .as_deref()
                .and_then(openvod_media::Language::from_code)
                .map_or_else(|| (k + 1).to_string(), |l| l.bcp47().to_string());
            openvod_media::path::first_free(&format!("{}-{tag}", a.name), "-", |name| {
                bases.iter().any(|b| b == name)
            })
        };
        bases.push(base.clone());
        let surround_source = src.channels >= 6;
        // Never mix a stream up to 5.1: what it lacks would be made up.
        let channels = if a.channels == 6 && !surround_source {
            2
        } else {
            a.channels
        };
        out.push(PlannedAudio {
            name: base.clone(),
            stream_index: src.index,
            bitrate: a.bitrate,
            sample_rate: a.sample_rate,
            channels,
            language: src.language.clone(),
        });
        if a.surround && surround_source && channels < 6 {
            out.push(PlannedAudio {
                name: format!("{base}-51"),
                stream_index: src.index,
                bitrate: a.surround_bitrate,
                sample_rate: a.sample_rate,
                channels: 6,
                language: src.language.clone(),
            });
        }
    }
    for p in &out {
        openvod_media::RenditionName::new(&p.name)
            .map_err(|e| format!("audio rendition {:?}: {e}", p.name))?;
        if rungs.iter().any(|r| r.name == p.name) {
            return Err(format!(
                "audio rendition {:?} has a video rung's name",
                p.name
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{StreamInfo, VideoStream};

    fn source(width: u32, height: u32, rotation: u32, fps: (u32, u32)) -> MediaInfo {
        MediaInfo {
            container: "mov,mp4".into(),
            duration: 10.0,
            bit_rate: None,
            size: 1,
            streams: vec![StreamInfo::Video(VideoStream {
                index: 0,
                codec: "h264".into(),
                profile: None,
                level: None,
                width,
                height,
                sample_aspect_ratio: (1, 1),
                display_aspect_ratio: (16, 9),
                rotation,
                frame_rate: f64::from(fps.0) / f64::from(fps.1),
                frame_rate_rational: fps,
                variable_frame_rate: false,
                pixel_format: Some("yuv420p".into()),
                bit_depth: Some(8),
                interlaced: false,
                bit_rate: None,
                duration: Some(10.0),
            })],
        }
    }

    fn with_audio(mut info: MediaInfo, streams: &[(Option<&str>, u16, bool)]) -> MediaInfo {
        for (k, &(language, channels, default)) in streams.iter().enumerate() {
            info.streams
                .push(StreamInfo::Audio(crate::probe::AudioStream {
                    index: k as u32 + 1,
                    codec: "aac".into(),
                    profile: None,
                    channels,
                    channel_layout: None,
                    sample_rate: 48_000,
                    bit_rate: None,
                    duration: Some(10.0),
                    language: language.map(str::to_string),
                    default,
                }));
        }
        info
    }

    fn audio_of(p: &EncodePlan) -> Vec<(&str, u32, u16, Option<&str>)> {
        p.audio
            .iter()
            .map(|a| {
                (
                    a.name.as_str(),
                    a.stream_index,
                    a.channels,
                    a.language.as_deref(),
                )
            })
            .collect()
    }

    #[test]
    fn every_audio_stream_is_planned_with_the_default_stream_first() {
        let info = with_audio(
            source(1280, 720, 0, (25, 1)),
            &[
                (Some("eng"), 2, false),
                (Some("spa"), 2, true),
                (None, 1, false),
            ],
        );
        let p = plan(&info, &JobTemplate::default_ladder(), "x").unwrap();
        assert_eq!(
            audio_of(&p),
            vec![
                ("audio-es", 2, 2, Some("spa")),
                ("audio-en", 1, 2, Some("eng")),
                ("audio-3", 3, 2, None),
            ]
        );
        // The template's language wins over the source's default.
        let mut t = JobTemplate::default_ladder();
        t.audio.as_mut().unwrap().default_language = openvod_media::Language::from_code("en");
        let p = plan(&info, &t, "x").unwrap();
        assert_eq!(p.audio[0].name, "audio-en");
        // A language no stream has leaves the source's default first.
        t.audio.as_mut().unwrap().default_language = openvod_media::Language::from_code("ja");
        assert_eq!(plan(&info, &t, "x").unwrap().audio[0].name, "audio-es");
    }

    #[test]
    fn one_stream_keeps_the_template_name_and_repeated_languages_are_numbered() {
        let p = plan(
            &with_audio(source(1280, 720, 0, (25, 1)), &[(Some("fra"), 2, false)]),
            &JobTemplate::default_ladder(),
            "x",
        )
        .unwrap();
        assert_eq!(audio_of(&p), vec![("audio", 1, 2, Some("fra"))]);
        let p = plan(
            &with_audio(
                source(1280, 720, 0, (25, 1)),
                &[(Some("eng"), 2, false), (Some("eng"), 2, false)],
            ),
            &JobTemplate::default_ladder(),
            "x",
        )
        .unwrap();
        let names: Vec<&str> = p.audio.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["audio-en", "audio-en-2"]);
    }

    #[test]
    fn a_surround_stream_gets_stereo_and_5_1_and_stereo_is_never_mixed_up() {
        let info = with_audio(
            source(1280, 720, 0, (25, 1)),
            &[(Some("eng"), 8, true), (Some("deu"), 2, false)],
        );
        let p = plan(&info, &JobTemplate::default_ladder(), "x").unwrap();
        assert_eq!(
            audio_of(&p),
            vec![
                ("audio-en", 1, 2, Some("eng")),
                ("audio-en-51", 1, 6, Some("eng")),
                ("audio-de", 2, 2, Some("deu")),
            ]
        );
        assert_eq!(p.audio[1].bitrate, 384_000);
        let mut t = JobTemplate::default_ladder();
        t.audio.as_mut().unwrap().surround = false;
        assert_eq!(plan(&info, &t, "x").unwrap().audio.len(), 2);
        // A 5.1 template gives 5.1 only where the source has it.
        t.audio.as_mut().unwrap().channels = 6;
        let channels: Vec<u16> = plan(&info, &t, "x")
            .unwrap()
            .audio
            .iter()
            .map(|a| a.channels)
            .collect();
        assert_eq!(channels, [6, 2]);
    }

    #[test]
    fn too_many_audio_streams_are_refused_by_count() {
        let many = vec![(Some("eng"), 2, false); MAX_AUDIO_STREAMS + 1];
        let err = plan(
            &with_audio(source(1280, 720, 0, (25, 1)), &many),
            &JobTemplate::default_ladder(),
            "x",
        )
        .unwrap_err();
        assert!(err.to_string().contains("17 audio streams"), "{err}");
    }

    #[test]
    fn a_stored_plan_with_one_audio_output_or_none_still_reads() {
        let p = plan(
            &with_audio(source(640, 360, 0, (25, 1)), &[(Some("eng"), 2, false)]),
            &JobTemplate::default_ladder(),
            "x",
        )
        .unwrap();
        let mut stored = serde_json::to_value(&p).unwrap();
        let one = stored["audio"][0].clone();
        stored["audio"] = one;
        let back: EncodePlan = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(back, p);
        stored["audio"] = serde_json::Value::Null;
        let back: EncodePlan = serde_json::from_value(stored).unwrap();
        assert!(back.audio.is_empty());
    }

    fn sizes(p: &EncodePlan) -> Vec<(u32, u32)> {
        p.rungs.iter().map(|r| (r.width, r.height)).collect()
    }

    #[test]
    fn full_ladder_for_1080p() {
        let p = plan(
            &source(1920, 1080, 0, (30, 1)),
            &JobTemplate::default_ladder(),
            "x",
        )
        .unwrap();
        assert_eq!(
            sizes(&p),
            vec![(1920, 1080), (1280, 720), (960, 540), (640, 360)]
        );
        assert_eq!(p.gop_frames, 60);
        assert_eq!(p.rungs[0].crf, 22);
    }

    #[test]
    fn a_ladder_per_codec_is_planned_in_each_with_its_crf() {
        let mut t = JobTemplate::default_ladder();
        t.video.codecs = vec![VideoCodec::H264, VideoCodec::Hevc];
        let p = plan(&source(1280, 720, 0, (25, 1)), &t, "x").unwrap();
        let got: Vec<(&str, VideoCodec, u32, u8)> = p
            .rungs
            .iter()
            .map(|r| (r.name.as_str(), r.codec, r.height, r.crf))
            .collect();
        assert_eq!(
            got,
            vec![
                ("720p", VideoCodec::H264, 720, 22),
                ("540p", VideoCodec::H264, 540, 22),
                ("360p", VideoCodec::H264, 360, 22),
                ("720p-hevc", VideoCodec::Hevc, 720, 27),
                ("540p-hevc", VideoCodec::Hevc, 540, 27),
                ("360p-hevc", VideoCodec::Hevc, 360, 27),
            ]
        );
        // Below every rung: one rung at the source's size in each codec.
        let tiny = plan(&source(320, 240, 0, (25, 1)), &t, "x").unwrap();
        let names: Vec<&str> = tiny.rungs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["240p", "240p-hevc"]);
    }

    #[test]
    fn never_upscales_and_keeps_odd_aspect_even() {
        let p = plan(
            &source(853, 479, 0, (25, 1)),
            &JobTemplate::default_ladder(),
            "x",
        )
        .unwrap();
        assert_eq!(sizes(&p), vec![(642, 360)]);
        let tiny = plan(
            &source(320, 240, 0, (25, 1)),
            &JobTemplate::default_ladder(),
            "x",
        )
        .unwrap();
        assert_eq!(sizes(&tiny), vec![(320, 240)]);
    }

    #[test]
    fn rotated_phone_video_is_portrait() {
        let p = plan(
            &source(1920, 1080, 90, (30, 1)),
            &JobTemplate::default_ladder(),
            "x",
        )
        .unwrap();
        assert_eq!(p.rungs[0].width, 1080);
        assert_eq!(p.rungs[0].height, 1920);
    }

    #[test]
    fn rungs_an_encoder_cannot_make_are_refused_by_name() {
        let mut t = JobTemplate::default_ladder();
        t.video.codecs = vec![VideoCodec::H264, VideoCodec::Av1];
        // Below every rung: one rung at the source's 96x54 in each codec, too small for
        // SVT-AV1.
        let e = plan(&source(96, 54, 0, (25, 1)), &t, "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("54p-av1") && e.contains("96x54"), "{e}");
        assert!(e.contains("at least 64 pixels"), "{e}");
        // H.264 alone makes it.
        t.video.codecs = vec![VideoCodec::H264];
        assert!(plan(&source(96, 54, 0, (25, 1)), &t, "x").is_ok());
        // A picture past the top level of every codec (a rung no template passes
        // validation with, planned from a square 8K source).
        t.video.rungs[0].height = 7000;
        let e = plan(&source(8192, 8192, 0, (25, 1)), &t, "x")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("7000x7000") && e.contains("largest level"),
            "{e}"
        );
    }

    #[test]
    fn main10_only_for_hevc_rungs_of_a_deep_source_when_allowed() {
        let mut t = JobTemplate::default_ladder();
        t.video.codecs = vec![VideoCodec::H264, VideoCodec::Hevc, VideoCodec::Av1];
        let mut deep = source(1280, 720, 0, (25, 1));
        if let StreamInfo::Video(v) = &mut deep.streams[0] {
            v.bit_depth = Some(10);
        }
        let ten = |p: &EncodePlan| -> Vec<bool> { p.rungs.iter().map(|r| r.ten_bit).collect() };
        assert!(ten(&plan(&deep, &t, "x").unwrap()).iter().all(|t| !t));
        t.video.hevc_main10 = true;
        let p = plan(&deep, &t, "x").unwrap();
        for r in &p.rungs {
            assert_eq!(r.ten_bit, r.codec == VideoCodec::Hevc, "{}", r.name);
        }
        assert!(ten(&plan(&source(1280, 720, 0, (25, 1)), &t, "x").unwrap())
            .iter()
            .all(|t| !t));
    }

    #[test]
    fn high_frame_rates_are_halved() {
        let p = plan(
            &source(1280, 720, 0, (120, 1)),
            &JobTemplate::default_ladder(),
            "x",
        )
        .unwrap();
        assert_eq!(p.frame_rate, (120, 2));
        assert_eq!(p.gop_frames, 120);
    }
}
