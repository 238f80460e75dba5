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

/// The audio output of the encode.
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

/// Everything ffmpeg is asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncodePlan {
    pub video_stream_index: u32,
    pub rungs: Vec<PlannedRung>,
    pub audio: Option<PlannedAudio>,
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
    let audio = match (&template.audio, info.first_audio()) {
        (Some(a), Some(src)) => Some(PlannedAudio {
            name: a.name.clone(),
            stream_index: src.index,
            bitrate: a.bitrate,
            sample_rate: a.sample_rate,
            channels: a.channels,
            language: src.language.clone(),
        }),
        _ => None,
    };
    let duration = if info.duration > 0.0 {
        info.duration
    } else {
        video.duration.unwrap_or(0.0)
    };
    Ok(EncodePlan {
        video_stream_index: video.index,
        rungs,
        audio,
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
