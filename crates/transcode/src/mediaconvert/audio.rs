//! `AudioDescriptions` of an audio output: one AAC-LC rendition (bit rate, sample rate,
//! channels).

use serde_json::Value;

use super::cursor::Obj;
use super::fields::{AAC, AUDIO_DESCRIPTION};
use super::values::{array, err, index, int, quoted, text, CHANGES};
use super::Importer;
use crate::template::{AudioSettings, JobTemplate};
use crate::Result;

impl Importer<'_> {
    /// `AudioDescriptions` of an audio output: one AAC-LC description.
    pub(super) fn audio(
        &mut self,
        v: &Value,
        path: &str,
        selectors: &[String],
        name: Option<String>,
    ) -> Result<AudioSettings> {
        let list = array(v, path)?;
        if list.len() > 1 {
            return Err(err(
                &index(path, 1),
                format!(
                    "a second audio description is not supported: \
                    a CMAF output carries one track; {CHANGES}"
                ),
            ));
        }
        let Some(first) = list.first() else {
            return Err(err(path, "empty"));
        };
        let mut d = Obj::new(first, index(path, 0))?;
        let mut a = JobTemplate::default_ladder()
            .audio
            .unwrap_or(AudioSettings {
                name: "audio".into(),
                codec: crate::template::AudioCodec::Aac,
                bitrate: 128_000,
                sample_rate: 48_000,
                channels: 2,
                surround: true,
                surround_bitrate: 384_000,
                default_language: None,
            });
        if let Some(n) = name {
            a.name = n;
        }
        if let Some((s, sp)) = d.take("AudioSourceName") {
            let s = text(s, &sp)?;
            if !selectors.is_empty() && !selectors.iter().any(|n| n == s) {
                return Err(err(
                    &sp,
                    format!(
                        "{} names no selector of Inputs[0].AudioSelectors",
                        quoted(s)
                    ),
                ));
            }
        }
        let (cs, cs_path) = d.need("CodecSettings", "the audio codec settings")?;
        let mut c = Obj::new(cs, cs_path)?;
        let (codec, codec_path) = c.need("Codec", "openvod encodes AAC")?;
        let codec = text(codec, &codec_path)?;
        if codec != "AAC" {
            return Err(err(
                &codec_path,
                format!("{} is not supported (only AAC); {CHANGES}", quoted(codec)),
            ));
        }
        let (aac, aac_path) = c.need("AacSettings", "required with Codec AAC")?;
        let mut s = Obj::new(aac, aac_path)?;
        if let Some((b, bp)) = s.take("Bitrate") {
            a.bitrate = int(b, &bp, 16_000, 512_000, "bits per second")?;
        }
        if let Some((r, rp)) = s.take("SampleRate") {
            let rate = int(r, &rp, 8000, 96_000, "Hz")?;
            if ![
                8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000,
            ]
            .contains(&rate)
            {
                return Err(err(&rp, format!("{rate} is not an AAC sample rate")));
            }
            a.sample_rate = rate as u32;
        }
        if let Some((m, mp)) = s.take("CodingMode") {
            let m = text(m, &mp)?;
            a.channels = match m {
                "CODING_MODE_1_0" => 1,
                "CODING_MODE_2_0" => 2,
                "CODING_MODE_5_1" => 6,
                _ => {
                    return Err(err(
                        &mp,
                        format!(
                            "{} is not supported (only CODING_MODE_1_0, \
                            CODING_MODE_2_0 or CODING_MODE_5_1); {CHANGES}",
                            quoted(m)
                        ),
                    ))
                }
            };
        }
        if let Some((p, pp)) = s.take("CodecProfile") {
            let p = text(p, &pp)?;
            if p != "LC" {
                return Err(err(
                    &pp,
                    format!(
                        "{} is not supported (only LC: openvod encodes AAC-LC); {CHANGES}",
                        quoted(p)
                    ),
                ));
            }
        }
        s.finish(&mut self.warnings, AAC)?;
        c.finish(&mut self.warnings, &[])?;
        d.finish(&mut self.warnings, AUDIO_DESCRIPTION)?;
        Ok(a)
    }
}
