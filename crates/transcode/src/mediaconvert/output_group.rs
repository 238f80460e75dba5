//! `Settings.OutputGroups`: the one CMAF group (destination, segment and fragment
//! lengths, manifests) and its outputs, which become the template's ladder rungs and
//! audio rendition. The rungs must agree on what the template holds once for all of
//! them (H.264 profile, HEVC Main or Main 10, GOP length); each names its codec. Audio carried by video
//! outputs is split into the one audio rendition, and must be the same everywhere. An
//! Automated ABR group (read in `abr`) has one video output, without a size, and becomes
//! a per-title ladder.

use std::fmt::Display;
use std::path::PathBuf;

use openvod_media::segment::SegmentTarget;
use serde_json::Value;

use super::abr::AbrLadder;
use super::cursor::Obj;
use super::fields::{CMAF_GROUP, CMFC, OUTPUT, OUTPUT_GROUP};
use super::location::Target;
use super::values::{array, enabled, err, index, num, quoted, text, CHANGES};
use super::video::HevcProfile;
use super::{Importer, TEMPLATE_NAME};
use crate::template::{
    AudioCodec, AudioSettings, H264Profile, JobTemplate, LadderRung, PackagingSettings, VideoCodec,
};
use crate::Result;

/// What a video output contributes to the ladder.
struct VideoOut {
    path: String,
    codec: VideoCodec,
    /// `None` for an Automated ABR group's output, whose rungs the analysis chooses.
    rung: Option<LadderRung>,
    profile: Option<(H264Profile, String)>,
    hevc_profile: Option<(HevcProfile, String)>,
    gop: Option<(f64, String)>,
}

/// The audio of a group's outputs, each with its JSON path.
#[derive(Default)]
struct AudioOuts {
    /// The audio output (one with `AudioDescriptions` and no `VideoDescription`).
    own: Option<(AudioSettings, String)>,
    /// The audio carried by video outputs, in document order.
    carried: Vec<(AudioSettings, String)>,
}

impl Importer<'_> {
    /// `OutputGroups`: exactly one group, of type `CMAF_GROUP_SETTINGS`.
    pub(super) fn output_groups(
        &mut self,
        v: &Value,
        path: &str,
        selectors: &[String],
    ) -> Result<(Option<PathBuf>, JobTemplate)> {
        let groups = array(v, path)?;
        let mut found = None;
        for (i, g) in groups.iter().enumerate() {
            let group_path = index(path, i);
            let mut go = Obj::new(g, group_path.clone())?;
            let (settings, settings_path) =
                go.need("OutputGroupSettings", "the group's Type and settings")?;
            let mut so = Obj::new(settings, settings_path)?;
            let (t, type_path) = so.need("Type", "the output group type")?;
            let t = text(t, &type_path)?;
            if t != "CMAF_GROUP_SETTINGS" {
                return Err(err(
                    &type_path,
                    format!(
                        "{} is not supported (only CMAF_GROUP_SETTINGS: openvod writes one CMAF \
                         package with HLS and DASH manifests); ignoring the group would change \
                         the output",
                        quoted(t)
                    ),
                ));
            }
            if found.is_some() {
                return Err(err(
                    &group_path,
                    format!(
                        "a second CMAF_GROUP_SETTINGS group is not supported: \
                        openvod writes one package per job; {CHANGES}"
                    ),
                ));
            }
            let (cmaf, cmaf_path) = so.need(
                "CmafGroupSettings",
                "required with Type CMAF_GROUP_SETTINGS",
            )?;
            let (destination, packaging) = self.cmaf_group(cmaf, &cmaf_path)?;
            so.finish(&mut self.warnings, &[])?;
            // Before the outputs, whose sizes an Automated ABR group leaves to the analysis.
            let abr = match go.take("AutomatedEncodingSettings") {
                Some((a, ap)) => Some(self.automated_encoding(a, &ap)?),
                None => None,
            };
            let (outputs, outputs_path) = go.need("Outputs", "the renditions of the group")?;
            self.abr = abr.is_some();
            let template = self.outputs(outputs, &outputs_path, selectors, packaging, abr);
            self.abr = false;
            let template = template?;
            go.finish(&mut self.warnings, OUTPUT_GROUP)?;
            found = Some((destination, template));
        }
        found.ok_or_else(|| {
            err(
                path,
                "empty; a job needs one CMAF_GROUP_SETTINGS output group",
            )
        })
    }

    /// `CmafGroupSettings`: destination, segment and fragment lengths, manifests.
    /// Lengths not given are the built-in default template's (4 s segments of 2 s
    /// fragments), not MediaConvert's (10 s segments), because openvod's defaults are the
    /// ones the rest of the platform is tuned for.
    fn cmaf_group(
        &mut self,
        v: &Value,
        path: &str,
    ) -> Result<(Option<PathBuf>, PackagingSettings)> {
        let mut o = Obj::new(v, path.to_string())?;
        let mut p = JobTemplate::default_ladder().packaging;
        let destination = match o.take("Destination") {
            Some((d, dp)) => Some(self.locate(text(d, &dp)?, &dp, Target::Destination)?),
            None => None,
        };
        if let Some((s, sp)) = o.take("SegmentLength") {
            p.segment_seconds = num(s, &sp, 0.1, 60.0, "seconds")?;
        }
        if let Some((f, fp)) = o.take("FragmentLength") {
            p.fragment_seconds = num(f, &fp, 0.1, 60.0, "seconds")?;
        }
        if let Some((h, hp)) = o.take("WriteHlsManifest") {
            p.hls = enabled(h, &hp)?;
        }
        if let Some((d, dp)) = o.take("WriteDashManifest") {
            p.dash = enabled(d, &dp)?;
        }
        let target = SegmentTarget {
            segment_seconds: p.segment_seconds,
            fragment_seconds: p.fragment_seconds,
        };
        target
            .validate()
            .map_err(|e| err(path, format!("SegmentLength and FragmentLength: {e}")))?;
        if !p.hls && !p.dash {
            return Err(err(
                path,
                "WriteHlsManifest and WriteDashManifest are \
                both DISABLED: no manifest would be written",
            ));
        }
        o.finish(&mut self.warnings, CMAF_GROUP)?;
        Ok((destination, p))
    }

    /// `Outputs`: one CMAF output per rendition, each either video (`VideoDescription`)
    /// or audio (`AudioDescriptions`). Video outputs that also carry audio, as many
    /// published jobs write them, have it split into the one audio rendition. In an
    /// Automated ABR group (`abr`), the one video output gives the codec settings of every
    /// rendition, and the ladder is the per-title one `abr` describes.
    fn outputs(
        &mut self,
        v: &Value,
        path: &str,
        selectors: &[String],
        packaging: PackagingSettings,
        abr: Option<AbrLadder>,
    ) -> Result<JobTemplate> {
        let list = array(v, path)?;
        // 16 rungs (JobTemplate::validate) plus audio; bounds the work and the warnings.
        if list.len() > 17 {
            return Err(err(
                path,
                format!(
                    "{} outputs; openvod supports up to 16 video outputs and one audio output",
                    list.len()
                ),
            ));
        }
        let mut videos: Vec<VideoOut> = Vec::new();
        let mut audio = AudioOuts::default();
        // The Automated ABR output's MaxBitrate, which lowers the ladder's ceiling.
        let mut abr_cap: Option<(u64, String)> = None;
        for (i, out) in list.iter().enumerate() {
            let out_path = index(path, i);
            let mut o = Obj::new(out, out_path.clone())?;
            let modifier = match o.take("NameModifier") {
                Some((n, np)) => Some((text(n, &np)?, np)),
                None => None,
            };
            if let Some((c, cp)) = o.take("ContainerSettings") {
                self.container(c, &cp)?;
            }
            let video = o.take("VideoDescription");
            // An empty AudioDescriptions list, as some tools write, means no audio.
            let audios = o
                .take("AudioDescriptions")
                .filter(|(a, _)| a.as_array().is_none_or(|a| !a.is_empty()));
            o.finish(&mut self.warnings, OUTPUT)?;
            let name = match &modifier {
                Some((n, np)) => Some(rendition_name(n, np)?),
                None => None,
            };
            match (video, audios) {
                (Some((vd, vp)), carried) => {
                    let rung = self.video(vd, &vp)?;
                    let e = rung.encoder;
                    let ladder_rung = if abr.is_some() {
                        // MediaConvert makes every rendition of the group from this one
                        // output; a second one could only be another ladder.
                        if let Some(first) = videos.first() {
                            return Err(err(
                                &out_path,
                                format!(
                                    "a second video output in an Automated ABR group (the \
                                     first is {}): every rendition is made from the group's \
                                     one video output; {CHANGES}",
                                    first.path
                                ),
                            ));
                        }
                        if let Some((n, np)) = &modifier {
                            self.warnings.push(format!(
                                "ignored: {np} = {}: the renditions of a per-title ladder \
                                 are named after their height (720p, 720p-2)",
                                quoted(n)
                            ));
                        }
                        abr_cap = e.max_bitrate.clone();
                        None
                    } else {
                        let (Some(height), Some((max_bitrate, _))) = (rung.height, &e.max_bitrate)
                        else {
                            // `video` reads both outside an Automated ABR group.
                            return Err(err(&vp, "a rung needs its Height and MaxBitrate"));
                        };
                        // The job's codec is its first video output's; rungs in another
                        // codec are named after it by default, as a template's ladder per
                        // codec is.
                        let job_codec = videos.first().map_or(rung.codec, |f| f.codec);
                        let name = name.unwrap_or_else(|| match rung.codec {
                            c if c == job_codec => format!("{height}p"),
                            c => format!("{height}p-{c}"),
                        });
                        if let Some(other) = videos
                            .iter()
                            .find(|o| o.rung.as_ref().is_some_and(|r| r.name == name))
                        {
                            return Err(err(
                                &out_path,
                                format!(
                                    "rendition name {} is also the name of \
                                    {}: give each output its own NameModifier",
                                    quoted(&name),
                                    other.path
                                ),
                            ));
                        }
                        Some(LadderRung {
                            name,
                            height,
                            width: None,
                            max_bitrate: *max_bitrate,
                            quality: e.quality,
                            codec: (rung.codec != job_codec).then_some(rung.codec),
                        })
                    };
                    if let Some((ad, ap)) = carried {
                        let a = self.audio(ad, &ap, selectors, None)?;
                        audio.carried.push((a, ap));
                    }
                    videos.push(VideoOut {
                        path: out_path,
                        codec: rung.codec,
                        rung: ladder_rung,
                        profile: e.profile,
                        hevc_profile: e.hevc_profile,
                        gop: e.gop,
                    });
                }
                (None, Some((ad, ap))) => {
                    if let Some((_, first)) = &audio.own {
                        return Err(err(
                            &out_path,
                            format!(
                                "a second audio output is not supported (the first is \
                                {first}): openvod writes one audio rendition; {CHANGES}"
                            ),
                        ));
                    }
                    let a = self.audio(ad, &ap, selectors, name)?;
                    audio.own = Some((a, out_path));
                }
                (None, None) => {
                    return Err(err(
                        &out_path,
                        "has neither VideoDescription nor AudioDescriptions",
                    ))
                }
            }
        }
        let Some(first) = videos.first() else {
            return Err(err(
                path,
                "no video output: openvod needs at least one output with a VideoDescription",
            ));
        };
        let mut t = JobTemplate::default_ladder();
        t.name = TEMPLATE_NAME.to_string();
        t.video.codec = first.codec;
        if let Some(q) = first.rung.as_ref().and_then(|r| r.quality) {
            t.video.quality = q;
        }
        // The template has one profile and one GOP length for every rung (equal GOPs are
        // also what lets the renditions cut at the same instants, which switching needs),
        // so outputs that differ cannot be imported faithfully.
        let profile = same_everywhere(
            videos.iter().map(|v| v.profile.clone()),
            "CodecProfile",
            |a, b| a == b,
        )?;
        if let Some(p) = profile {
            t.video.profile = p;
        }
        let hevc_profile = same_everywhere(
            videos.iter().map(|v| v.hevc_profile.clone()),
            "CodecProfile",
            |a, b| a == b,
        )?;
        t.video.hevc_main10 = hevc_profile == Some(HevcProfile::Main10);
        let gop = same_everywhere(videos.iter().map(|v| v.gop.clone()), "GopSize", |a, b| {
            (a - b).abs() < 1e-9
        })?;
        if let Some(g) = gop {
            t.video.gop_seconds = g;
        }
        let audio = self.one_audio(audio)?;
        if let Some((a, ap)) = &audio {
            if let Some(v) = videos
                .iter()
                .find(|v| v.rung.as_ref().is_some_and(|r| r.name == a.name))
            {
                return Err(err(
                    ap,
                    format!(
                        "rendition name {} is also the name of \
                        {}: give each output its own NameModifier",
                        quoted(&a.name),
                        v.path
                    ),
                ));
            }
        }
        t.video.rungs = videos.into_iter().filter_map(|v| v.rung).collect();
        if let Some(mut abr) = abr {
            if let Some((cap, cap_path)) = abr_cap {
                // A cap on every rendition: no rung of the ladder may be capped above it.
                if cap <= abr.settings.min_bitrate {
                    return Err(err(
                        &cap_path,
                        format!(
                            "{cap} is not above the ladder's floor of {} b/s \
                             (AbrSettings.MinAbrBitrate, or openvod's default): no rendition \
                             could be capped under it",
                            abr.settings.min_bitrate
                        ),
                    ));
                }
                abr.settings.max_bitrate = abr.settings.max_bitrate.min(cap);
            }
            t.video.rungs = abr.rungs();
            t.ladder = abr.settings;
        }
        t.audio = audio.map(|(a, _)| a);
        t.packaging = packaging;
        t.validate()
            .map_err(|e| err(path, format!("the imported template is not valid: {e}")))?;
        Ok(t)
    }

    /// The one audio rendition of the job: the audio output's, or else the audio the
    /// video outputs carry, split into a rendition of its own. Every output's audio must
    /// be the same sound (openvod writes one audio rendition, shared by every video
    /// rendition); each copy that is not written is reported.
    fn one_audio(&mut self, audio: AudioOuts) -> Result<Option<(AudioSettings, String)>> {
        let AudioOuts { own, carried } = audio;
        let Some((kept, kept_path)) = own.or_else(|| carried.first().cloned()) else {
            return Ok(None);
        };
        for (a, ap) in &carried {
            if !same_sound(a, &kept) {
                return Err(err(
                    ap,
                    format!(
                        "{} differs from {} at {kept_path}: openvod writes one audio \
                         rendition, shared by every video rendition; give every output the \
                         same audio settings",
                        sound(a),
                        sound(&kept)
                    ),
                ));
            }
            let note = if *ap == kept_path {
                format!(
                    "split: {ap}: this audio is written as its own rendition {} \
                     (openvod carries each track in its own CMAF rendition), shared by every \
                     video rendition",
                    quoted(&kept.name)
                )
            } else {
                format!(
                    "ignored: {ap}: the same audio as {kept_path}, written once as the \
                     rendition {}",
                    quoted(&kept.name)
                )
            };
            self.warnings.push(note);
        }
        Ok(Some((kept, kept_path)))
    }

    /// `ContainerSettings`: a CMAF group's outputs are CMFC.
    fn container(&mut self, v: &Value, path: &str) -> Result<()> {
        let mut o = Obj::new(v, path.to_string())?;
        if let Some((c, cp)) = o.take("Container") {
            let c = text(c, &cp)?;
            if c != "CMFC" {
                return Err(err(
                    &cp,
                    format!(
                        "{} is not supported (only CMFC in a CMAF group); {CHANGES}",
                        quoted(c)
                    ),
                ));
            }
        }
        if let Some((c, cp)) = o.take("CmfcSettings") {
            Obj::new(c, cp)?.finish(&mut self.warnings, CMFC)?;
        }
        o.finish(&mut self.warnings, &[])
    }
}

/// The rendition (folder) name of an output: its `NameModifier` without the leading `_`
/// or `-` MediaConvert users put there to separate it from the base name ("_1080p" ->
/// "1080p"). Names are folder names, so they are limited to `A-Z a-z 0-9 . _ -` and may not
/// start with `.` (no `..`, no hidden folders that could clash with openvod's own work
/// folder).
fn rendition_name(modifier: &str, path: &str) -> Result<String> {
    let name = modifier.trim_start_matches(['_', '-']);
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(name.to_string())
    } else {
        Err(err(
            path,
            format!(
                "{} does not make a rendition name: without its leading _ or - it must be 1 to 64 \
                 of A-Z a-z 0-9 . _ - and not start with .",
                quoted(modifier)
            ),
        ))
    }
}

/// The one value every video output agrees on (outputs without the field accept any);
/// the error names the first output that differs.
fn same_everywhere<T: Clone + Display>(
    values: impl Iterator<Item = Option<(T, String)>>,
    what: &str,
    eq: impl Fn(&T, &T) -> bool,
) -> Result<Option<T>> {
    let mut first: Option<(T, String)> = None;
    for (v, p) in values.flatten() {
        match &first {
            None => first = Some((v, p)),
            Some((f, fp)) if !eq(f, &v) => {
                return Err(err(
                    &p,
                    format!(
                        "{v} differs from {f} at {fp}: openvod \
                        encodes every rung with one {what}; {CHANGES}"
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(first.map(|(v, _)| v))
}

/// Whether two audio descriptions make the same sound (their rendition names aside).
fn same_sound(a: &AudioSettings, b: &AudioSettings) -> bool {
    (a.codec, a.bitrate, a.sample_rate, a.channels)
        == (b.codec, b.bitrate, b.sample_rate, b.channels)
}

/// An audio description's sound, for messages: "AAC 128000 b/s 48000 Hz 2 channels".
fn sound(a: &AudioSettings) -> String {
    let codec = match a.codec {
        AudioCodec::Aac => "AAC",
    };
    format!(
        "{codec} {} b/s {} Hz {} channels",
        a.bitrate, a.sample_rate, a.channels
    )
}
