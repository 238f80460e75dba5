//! `VideoDescription` of a video output: the rung's size and codec, and the settings the
//! codecs share (QVBR rate control, GOP, HRD buffer, pixel aspect ratio). Each codec's
//! own settings object is read in `video_codecs`.

use serde_json::Value;

use super::cursor::Obj;
use super::fields::{CODEC_SETTINGS, QVBR, VIDEO_DESCRIPTION};
use super::values::{err, ignored, int, num, quoted, text, CHANGES};
use super::Importer;
use crate::template::{H264Profile, VideoCodec};
use crate::Result;

/// What one video output asks of its rung.
pub(super) struct VideoRung {
    /// Size of the rung's short side (`Height`); `None` in an Automated ABR group, whose
    /// sizes the analysis chooses.
    pub(super) height: Option<u32>,
    pub(super) codec: VideoCodec,
    pub(super) encoder: EncoderSettings,
}

/// `Height` and `Width` of a rung, each with its JSON path.
struct RungSize {
    height: u64,
    height_path: String,
    width: Option<(u64, String)>,
}

/// The rate control and GOP of one output, as its codec's settings give them.
pub(super) struct EncoderSettings {
    /// `MaxBitrate` and its JSON path; only an Automated ABR group's output may leave it
    /// out.
    pub(super) max_bitrate: Option<(u64, String)>,
    pub(super) quality: Option<u8>,
    /// H.264 only: the profile and the JSON path of `CodecProfile`.
    pub(super) profile: Option<(H264Profile, String)>,
    /// H.265 only: the profile and the JSON path of `CodecProfile`.
    pub(super) hevc_profile: Option<(HevcProfile, String)>,
    /// GOP length in seconds and the JSON path of `GopSize`; `None` for AUTO or absent.
    pub(super) gop: Option<(f64, String)>,
}

/// The HEVC profile an H.265 output asks for (its tier aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HevcProfile {
    /// 8-bit 4:2:0.
    Main,
    /// 10-bit 4:2:0: the template's `hevc_main10`.
    Main10,
}

impl std::fmt::Display for HevcProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HevcProfile::Main => "Main",
            HevcProfile::Main10 => "Main 10",
        })
    }
}

/// Whether a codec's settings may leave `RateControlMode` out.
#[derive(Clone, Copy)]
pub(super) enum RateControlDefault {
    /// MediaConvert's default is CBR (H.264, H.265): the mode must be given.
    Cbr,
    /// QVBR is the only mode (AV1): absent means QVBR.
    Qvbr,
}

impl Importer<'_> {
    /// `VideoDescription`: `Height` (and `Width`) of the rung, its codec and settings. In
    /// an Automated ABR group the output gives no size: the analysis chooses the sizes.
    pub(super) fn video(&mut self, v: &Value, path: &str) -> Result<VideoRung> {
        let mut o = Obj::new(v, path.to_string())?;
        let size = if self.abr {
            // In an Automated ABR group MediaConvert chooses the renditions' sizes, and
            // AbrSettings' rules are where a job limits them (ALLOWED_RENDITIONS). Taking a
            // size here as a candidate would be a guess at what the job meant.
            for key in ["Height", "Width"] {
                if let Some((_, p)) = o.take(key) {
                    return Err(err(
                        &p,
                        "an Automated ABR group's output gives no size (the analysis chooses \
                         the renditions' sizes); list the sizes to choose from in an \
                         AbrSettings.Rules ALLOWED_RENDITIONS rule",
                    ));
                }
            }
            None
        } else {
            Some(rung_size(&mut o)?)
        };
        let (cs, cs_path) = o.need("CodecSettings", "the video codec settings")?;
        let mut c = Obj::new(cs, cs_path)?;
        let (name, name_path) = c.need("Codec", "openvod encodes H_264, H_265 or AV1")?;
        let name = text(name, &name_path)?;
        let (codec, key) = match name {
            "H_264" => (VideoCodec::H264, "H264Settings"),
            "H_265" => (VideoCodec::Hevc, "H265Settings"),
            "AV1" => (VideoCodec::Av1, "Av1Settings"),
            _ => {
                return Err(err(
                    &name_path,
                    format!(
                        "{} is not supported (only H_264, H_265 or AV1); {CHANGES}",
                        quoted(name)
                    ),
                ))
            }
        };
        if let Some(RungSize {
            height,
            height_path,
            width,
        }) = &size
        {
            // SVT-AV1 makes no picture under 64 pixels a side; the x264 and x265 bound is
            // the 16 of `int` above.
            let min = u64::from(codec.min_side());
            for (side, side_path) in [Some((*height, height_path.clone())), width.clone()]
                .into_iter()
                .flatten()
            {
                if side < min {
                    return Err(err(
                        &side_path,
                        format!(
                            "{side} pixels is too small for {name}: its encoder makes pictures \
                             of at least {min} pixels on each side"
                        ),
                    ));
                }
            }
            if let Some((w, wp)) = width {
                // openvod keeps the source's display aspect ratio (and never letterboxes):
                // Height sets the rung's short side. A 16:9 Width is what that gives for the
                // usual source; any other is reported.
                let ratio = *w as f64 / *height as f64;
                if (ratio - 16.0 / 9.0).abs() > 0.02 {
                    self.warnings.push(format!(
                        "ignored: {wp} = {w}: openvod keeps the source's aspect ratio, the rung is {height} pixels on its short side"
                    ));
                }
            }
        }
        let (s, s_path) = c.need(key, &format!("required with Codec {name}"))?;
        let encoder = match codec {
            VideoCodec::H264 => self.h264(s, &s_path)?,
            VideoCodec::Hevc => self.h265(s, &s_path)?,
            VideoCodec::Av1 => self.av1(s, &s_path)?,
        };
        c.finish(&mut self.warnings, CODEC_SETTINGS)?;
        o.finish(&mut self.warnings, VIDEO_DESCRIPTION)?;
        Ok(VideoRung {
            height: size.map(|s| s.height as u32),
            codec,
            encoder,
        })
    }

    /// `RateControlMode`, `MaxBitrate` and `QvbrSettings`, the start of every codec's
    /// [`EncoderSettings`]. openvod encodes capped quality (QVBR): the encoder's CRF from
    /// `QvbrQualityLevel` (on each codec's own scale, see [`VideoCodec::crf`]),
    /// `-maxrate` from `MaxBitrate` with a buffer of twice that.
    pub(super) fn qvbr(
        &mut self,
        o: &mut Obj<'_>,
        default: RateControlDefault,
    ) -> Result<EncoderSettings> {
        match (o.take("RateControlMode"), default) {
            (Some((mode, mode_path)), _) => {
                let mode = text(mode, &mode_path)?;
                if mode != "QVBR" {
                    return Err(err(
                        &mode_path,
                        format!("{} is not supported (only QVBR); {CHANGES}", quoted(mode)),
                    ));
                }
            }
            (None, RateControlDefault::Qvbr) => {}
            (None, RateControlDefault::Cbr) => {
                o.need(
                    "RateControlMode",
                    "MediaConvert's default is CBR, openvod encodes only QVBR \
                     (set RateControlMode QVBR)",
                )?;
            }
        }
        // An Automated ABR group's renditions get their caps from the analysis, within
        // AbrSettings' bounds; its output's MaxBitrate, if any, only lowers the ceiling.
        let max_bitrate = match o.take("MaxBitrate") {
            Some((mb, mb_path)) => Some((
                int(mb, &mb_path, 50_000, 200_000_000, "bits per second")?,
                mb_path,
            )),
            None if self.abr => None,
            None => {
                o.need("MaxBitrate", "QVBR needs the peak bit rate of the rung")?;
                None
            }
        };
        let quality = match o.take("QvbrSettings") {
            Some((q, qp)) => {
                let mut qo = Obj::new(q, qp)?;
                // Absent: MediaConvert picks a level from the output size; openvod uses the
                // template's level.
                let level = match qo.take("QvbrQualityLevel") {
                    Some((_, lp)) if self.abr => {
                        // The analysis picks each rendition's CRF; the cap on the top one's
                        // quality is the group's, and one level here could mean either.
                        return Err(err(
                            &lp,
                            "in an Automated ABR group the renditions' quality is chosen by                              the analysis, up to AbrSettings.MaxQualityLevel: set the level                              there",
                        ));
                    }
                    Some((l, lp)) => Some(int(l, &lp, 1, 10, "QVBR quality level")? as u8),
                    None => None,
                };
                qo.finish(&mut self.warnings, QVBR)?;
                level
            }
            None => None,
        };
        Ok(EncoderSettings {
            max_bitrate,
            quality,
            profile: None,
            hevc_profile: None,
            gop: None,
        })
    }

    /// `HrdBufferSize`. openvod's VBV buffer is twice the rung's cap (`MaxBitrate`, or
    /// the cap the per-title analysis sets); another size only changes how bursts are
    /// smoothed.
    pub(super) fn hrd_buffer(&mut self, o: &mut Obj<'_>, max_bitrate: Option<u64>) -> Result<()> {
        if let Some((b, bp)) = o.take("HrdBufferSize") {
            let size = int(b, &bp, 0, 1_000_000_000, "bits")?;
            if Some(size) != max_bitrate.map(|m| 2 * m) {
                self.warnings.push(ignored(&bp, b));
            }
        }
        Ok(())
    }

    /// `GopSizeUnits` and `GopSize`. openvod's GOP is a length in seconds, converted to
    /// frames with the source's frame rate once it is probed; a GOP in frames cannot be
    /// converted here because the frame rate is not in the job (it comes from the source,
    /// `FramerateControl: INITIALIZE_FROM_SOURCE`).
    pub(super) fn gop(&mut self, o: &mut Obj<'_>) -> Result<Option<(f64, String)>> {
        let units = match o.take("GopSizeUnits") {
            Some((u, up)) => Some((text(u, &up)?, up)),
            None => None,
        };
        let size = o.take("GopSize");
        match (units, size) {
            (None, None) => Ok(None),
            (Some(("AUTO", _)), size) => {
                if let Some((s, sp)) = size {
                    // MediaConvert ignores GopSize with AUTO too.
                    self.warnings.push(ignored(&sp, s));
                }
                Ok(None)
            }
            (Some(("SECONDS", _)), Some((s, sp))) => {
                Ok(Some((num(s, &sp, 0.5, 10.0, "seconds")?, sp)))
            }
            (Some(("SECONDS", up)), None) => Err(err(&up, "SECONDS needs a GopSize")),
            (Some(("FRAMES", up)), _) => Err(err(
                &up,
                "\"FRAMES\" is not supported: openvod sets the GOP in seconds, and a GOP in \
                 frames cannot be converted without the frame rate, which comes from the source; \
                 use GopSizeUnits SECONDS (e.g. GopSize 2)",
            )),
            (Some((u, up)), _) => Err(err(
                &up,
                format!(
                    "{} is not supported (only SECONDS or AUTO); {CHANGES}",
                    quoted(u)
                ),
            )),
            (None, Some((_, sp))) => Err(err(
                &sp,
                "GopSize without GopSizeUnits is ambiguous (older MediaConvert jobs count it in \
                 frames); add GopSizeUnits SECONDS",
            )),
        }
    }

    /// `ParControl`, `ParNumerator`, `ParDenominator`. openvod always writes square pixels
    /// (`setsar=1`): a specified 1:1 is what it does anyway; following the source's pixel
    /// shape differs only for anamorphic sources (warned); any other shape is refused.
    pub(super) fn pixel_aspect(&mut self, o: &mut Obj<'_>) -> Result<()> {
        let control = o.take("ParControl");
        let num = o.take("ParNumerator");
        let den = o.take("ParDenominator");
        let mode = match &control {
            Some((c, cp)) => Some((text(c, cp)?, cp.as_str())),
            None => None,
        };
        match mode {
            Some(("SPECIFIED", cp)) => {
                let (Some((n, np)), Some((d, dp))) = (num, den) else {
                    return Err(err(cp, "SPECIFIED needs ParNumerator and ParDenominator"));
                };
                let n = int(n, &np, 1, 1_000_000, "")?;
                let d = int(d, &dp, 1, 1_000_000, "")?;
                if n != d {
                    return Err(err(
                        &np,
                        format!(
                            "a {n}:{d} pixel aspect ratio is not supported \
                            (openvod writes square pixels); {CHANGES}"
                        ),
                    ));
                }
            }
            Some(("INITIALIZE_FROM_SOURCE", _)) | None => {
                for (v, p) in [control, num, den].into_iter().flatten() {
                    self.warnings.push(ignored(&p, v));
                }
            }
            Some((other, cp)) => {
                return Err(err(
                    cp,
                    format!(
                    "{} is not supported (only SPECIFIED 1:1 or INITIALIZE_FROM_SOURCE); {CHANGES}",
                    quoted(other)
                ),
                ))
            }
        }
        Ok(())
    }
}

/// `Height` and `Width` of a rung (even, for 4:2:0), each with its JSON path.
fn rung_size(o: &mut Obj<'_>) -> Result<RungSize> {
    let (height, height_path) = o.need(
        "Height",
        "openvod needs the height of each rung (MediaConvert would keep the source's size)",
    )?;
    let height = int(height, &height_path, 16, 4320, "pixels")?;
    let width = match o.take("Width") {
        Some((w, wp)) => {
            let w = int(w, &wp, 16, 7680, "pixels")?;
            if w % 2 == 1 || height % 2 == 1 {
                return Err(err(
                    &wp,
                    format!("{w}x{height}: width and height must be even for 4:2:0"),
                ));
            }
            Some((w, wp))
        }
        None => None,
    };
    Ok(RungSize {
        height,
        height_path,
        width,
    })
}
