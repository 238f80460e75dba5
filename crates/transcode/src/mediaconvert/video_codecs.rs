//! Each video codec's settings object: `H264Settings`, `H265Settings`, `Av1Settings`.
//! The settings they share (QVBR, GOP, HRD buffer, pixel aspect ratio) are read by
//! `video`.

use serde_json::Value;

use super::cursor::Obj;
use super::fields::{Field, AV1, AVC_HEVC, FRAME_RATE, H264, H265};
use super::values::{err, quoted, text, CHANGES};
use super::video::{EncoderSettings, HevcProfile, RateControlDefault};
use super::Importer;
use crate::template::H264Profile;
use crate::Result;

impl Importer<'_> {
    /// `H264Settings`: x264 at the QVBR level's CRF, with the profile the job names.
    pub(super) fn h264(&mut self, v: &Value, path: &str) -> Result<EncoderSettings> {
        let mut o = Obj::new(v, path.to_string())?;
        let mut settings = self.qvbr(&mut o, RateControlDefault::Cbr)?;
        if let Some((p, pp)) = o.take("CodecProfile") {
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
            settings.profile = Some((profile, pp));
        }
        self.avc_hevc_rest(o, settings, H264)
    }

    /// `H265Settings`: x265 at the QVBR level's CRF (on x265's scale), Main or Main 10,
    /// tagged `hvc1`.
    pub(super) fn h265(&mut self, v: &Value, path: &str) -> Result<EncoderSettings> {
        let mut o = Obj::new(v, path.to_string())?;
        let mut settings = self.qvbr(&mut o, RateControlDefault::Cbr)?;
        if let Some((p, pp)) = o.take("CodecProfile") {
            // MediaConvert names a profile and a tier: MAIN10_HIGH is Main 10, High tier.
            let value = text(p, &pp)?;
            let (profile, high_tier) = match value {
                "MAIN_MAIN" => (HevcProfile::Main, false),
                "MAIN_HIGH" => (HevcProfile::Main, true),
                "MAIN10_MAIN" => (HevcProfile::Main10, false),
                "MAIN10_HIGH" => (HevcProfile::Main10, true),
                other => {
                    return Err(err(
                        &pp,
                        format!(
                            "{} is not supported (only MAIN_MAIN, MAIN_HIGH, MAIN10_MAIN or \
                             MAIN10_HIGH: openvod encodes HEVC 4:2:0); {CHANGES}",
                            quoted(other)
                        ),
                    ))
                }
            };
            // The tier only raises the bit rates a level allows; x265 picks the Main tier
            // wherever the rung's rate fits, and the pictures are the same.
            if high_tier {
                self.warnings.push(format!(
                    "ignored: {pp} = {} in part (openvod writes HEVC at the tier x265 \
                     chooses for the rung's bit rate)",
                    quoted(value)
                ));
            }
            // The template's Main 10 follows the source: an 8-bit picture holds nothing
            // that 10 bits would keep, so it stays Main, as every rung of an 8-bit source.
            if profile == HevcProfile::Main10 {
                self.warnings.push(format!(
                    "ignored: {pp} = {} for 8-bit sources (openvod encodes Main 10 from \
                     sources of 10 bits or more, and Main from 8-bit ones)",
                    quoted(value)
                ));
            }
            settings.hevc_profile = Some((profile, pp));
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
        self.avc_hevc_rest(o, settings, H265)
    }

    /// What `H264Settings` and `H265Settings` share after the rate control and the
    /// profile: the GOP, the HRD buffer, the pixel aspect ratio, and the harmless fields
    /// of both encoders and of the codec's `own` table.
    fn avc_hevc_rest(
        &mut self,
        mut o: Obj<'_>,
        mut settings: EncoderSettings,
        own: &[Field],
    ) -> Result<EncoderSettings> {
        settings.gop = self.gop(&mut o)?;
        self.hrd_buffer(&mut o, settings.max_bitrate.as_ref().map(|(m, _)| *m))?;
        self.pixel_aspect(&mut o)?;
        o.finish_tables(&mut self.warnings, &[AVC_HEVC, FRAME_RATE, own])?;
        Ok(settings)
    }

    /// `Av1Settings`: SVT-AV1 at the QVBR level's CRF (on SVT-AV1's scale), 8-bit. QVBR is
    /// AV1's only rate control in MediaConvert, so `RateControlMode` may be left out.
    pub(super) fn av1(&mut self, v: &Value, path: &str) -> Result<EncoderSettings> {
        let mut o = Obj::new(v, path.to_string())?;
        let settings = self.qvbr(&mut o, RateControlDefault::Qvbr)?;
        // The GOP of every rung is the template's one length in seconds (equal GOPs are what
        // lets the renditions cut at the same instants); MediaConvert's AV1 GOP has no
        // units and counts frames, which need the source's frame rate to convert.
        if let Some((_, gp)) = o.take("GopSize") {
            return Err(err(
                &gp,
                "AV1's GopSize counts frames, and openvod sets the GOP in seconds: a GOP in \
                 frames cannot be converted without the frame rate, which comes from the \
                 source; leave GopSize out (the AV1 rungs then cut where the job's other \
                 rungs do: at their GopSize in SECONDS, or every 2 s)",
            ));
        }
        o.finish_tables(&mut self.warnings, &[FRAME_RATE, AV1])?;
        Ok(settings)
    }
}
