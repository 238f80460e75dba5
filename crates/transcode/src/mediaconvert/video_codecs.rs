//! Each video codec's settings object: `H264Settings`, `H265Settings`. The settings they
//! share (QVBR, GOP, HRD buffer, pixel aspect ratio) are read by `video`.

use serde_json::Value;

use super::cursor::Obj;
use super::fields::{Field, AVC_HEVC, FRAME_RATE, H264, H265};
use super::values::{err, quoted, text, CHANGES};
use super::video::{EncoderSettings, RateControlDefault};
use super::Importer;
use crate::template::H264Profile;
use crate::Result;

impl Importer<'_> {
    /// `H264Settings`: x264 at the QVBR level's CRF, with the profile the job names.
    pub(super) fn h264(&mut self, v: &Value, path: &str) -> Result<EncoderSettings> {
        let mut o = Obj::new(v, path.to_string())?;
        let (max_bitrate, quality) = self.qvbr(&mut o, RateControlDefault::Cbr)?;
        let profile = match o.take("CodecProfile") {
            Some((p, pp)) => {
                let profile = match text(p, &pp)? {
                    "HIGH" => H264Profile::High,
                    "MAIN" => H264Profile::Main,
                    "BASELINE" => H264Profile::Baseline,
                    other => {
                        return Err(err(
                            &pp,
                            format!(
                                "{} is not supported (only HIGH, MAIN or \
                                BASELINE: openvod encodes 8-bit 4:2:0); {CHANGES}",
                                quoted(other)
                            ),
                        ))
                    }
                };
                Some((profile, pp))
            }
            None => None,
        };
        self.avc_hevc_rest(o, max_bitrate, quality, profile, H264)
    }

    /// `H265Settings`: x265 Main at the QVBR level's CRF (on x265's scale), tagged `hvc1`.
    pub(super) fn h265(&mut self, v: &Value, path: &str) -> Result<EncoderSettings> {
        let mut o = Obj::new(v, path.to_string())?;
        let (max_bitrate, quality) = self.qvbr(&mut o, RateControlDefault::Cbr)?;
        if let Some((p, pp)) = o.take("CodecProfile") {
            // MediaConvert names a profile and a tier: MAIN_HIGH is Main profile, High tier.
            match text(p, &pp)? {
                "MAIN_MAIN" => {}
                // The tier only raises the bit rates a level allows; x265 picks the Main
                // tier wherever the rung's rate fits, and the pictures are the same.
                "MAIN_HIGH" => self.warnings.push(format!(
                    "ignored: {pp} = \"MAIN_HIGH\" (openvod writes HEVC Main at the tier \
                     x265 chooses for the rung's bit rate)"
                )),
                ten @ ("MAIN10_MAIN" | "MAIN10_HIGH") => {
                    return Err(err(
                        &pp,
                        format!(
                            "{} is not supported: openvod encodes HEVC Main (8-bit 4:2:0), \
                             and its templates have no Main 10 yet; use MAIN_MAIN; {CHANGES}",
                            quoted(ten)
                        ),
                    ))
                }
                other => {
                    return Err(err(
                        &pp,
                        format!(
                            "{} is not supported (only MAIN_MAIN or MAIN_HIGH: openvod \
                             encodes HEVC Main, 8-bit 4:2:0); {CHANGES}",
                            quoted(other)
                        ),
                    ))
                }
            }
        }
        if let Some((t, tp)) = o.take("WriteMp4PackagingType") {
            match text(t, &tp)? {
                "HVC1" => {}
                // The same pictures; only where the parameter sets are carried differs.
                "HEV1" => self.warnings.push(format!(
                    "ignored: {tp} = \"HEV1\" (openvod tags HEVC hvc1, with the parameter \
                     sets in the sample entry, as Apple's HLS rules require)"
                )),
                other => return Err(err(&tp, format!("{} is not HVC1 or HEV1", quoted(other)))),
            }
        }
        self.avc_hevc_rest(o, max_bitrate, quality, None, H265)
    }

    /// What `H264Settings` and `H265Settings` share after the rate control and the
    /// profile: the GOP, the HRD buffer, the pixel aspect ratio, and the harmless fields
    /// of both encoders and of the codec's `own` table.
    fn avc_hevc_rest(
        &mut self,
        mut o: Obj<'_>,
        max_bitrate: u64,
        quality: Option<u8>,
        profile: Option<(H264Profile, String)>,
        own: &[Field],
    ) -> Result<EncoderSettings> {
        let gop = self.gop(&mut o)?;
        self.hrd_buffer(&mut o, max_bitrate)?;
        self.pixel_aspect(&mut o)?;
        o.finish_tables(&mut self.warnings, &[AVC_HEVC, FRAME_RATE, own])?;
        Ok(EncoderSettings {
            max_bitrate,
            quality,
            profile,
            gop,
        })
    }
}
