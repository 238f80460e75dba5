//! `openvod probe`: describe a media file.

use std::path::Path;

use anyhow::{bail, Result};
use openvod_transcode::probe::{MediaInfo, StreamInfo};

pub fn probe(input: &Path, json: bool) -> Result<()> {
    let source = openvod_transcode::SourceFile::open(input)?;
    let info = openvod_transcode::probe(&source)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        print_info(input, &info);
    }
    if info.first_video().is_none() {
        bail!("{}: no video stream", input.display());
    }
    Ok(())
}

fn print_info(input: &Path, info: &MediaInfo) {
    println!(
        "{}: {}, {:.3} s, {} bytes{}",
        input.display(),
        info.container,
        info.duration,
        info.size,
        info.bit_rate
            .map(|b| format!(", {} kb/s", b / 1000))
            .unwrap_or_default()
    );
    for s in &info.streams {
        match s {
            StreamInfo::Video(v) => println!(
                "  #{} video {}{}: {}x{} (display {}:{}{}), {:.3} fps{}, {}{}{}",
                v.index,
                v.codec,
                v.profile
                    .as_ref()
                    .map(|p| format!(" {p}"))
                    .unwrap_or_default(),
                v.width,
                v.height,
                v.display_aspect_ratio.0,
                v.display_aspect_ratio.1,
                if v.rotation != 0 {
                    format!(", rotated {}°", v.rotation)
                } else {
                    String::new()
                },
                v.frame_rate,
                if v.variable_frame_rate {
                    " (variable)"
                } else {
                    ""
                },
                v.pixel_format.as_deref().unwrap_or("?"),
                v.bit_depth.map(|b| format!(" {b}-bit")).unwrap_or_default(),
                if v.interlaced { ", interlaced" } else { "" },
            ),
            StreamInfo::Audio(a) => println!(
                "  #{} audio {}{}: {} ch{}, {} Hz{}",
                a.index,
                a.codec,
                a.profile
                    .as_ref()
                    .map(|p| format!(" {p}"))
                    .unwrap_or_default(),
                a.channels,
                a.channel_layout
                    .as_ref()
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default(),
                a.sample_rate,
                a.bit_rate
                    .map(|b| format!(", {} kb/s", b / 1000))
                    .unwrap_or_default()
            ),
            StreamInfo::Subtitle(t) => println!(
                "  #{} subtitle {}{}{}{}{}",
                t.index,
                t.codec,
                t.language
                    .as_ref()
                    .map(|l| format!(", {l}"))
                    .unwrap_or_default(),
                if t.forced { ", forced" } else { "" },
                if t.hearing_impaired { ", captions" } else { "" },
                if t.is_text() {
                    ""
                } else {
                    " (bitmap: not carried)"
                }
            ),
            StreamInfo::Other {
                index,
                codec_type,
                codec,
            } => {
                println!("  #{index} {codec_type} {codec} (not used)")
            }
        }
    }
}
