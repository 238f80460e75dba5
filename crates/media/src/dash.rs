//! A static DASH MPD (ISO/IEC 23009-1) of the live profile: one AdaptationSet per media
//! type (and per audio language), SegmentTemplate with SegmentTimeline per Representation.

use std::fmt::Write;

/// One Representation.
#[derive(Debug, Clone, PartialEq)]
pub struct Representation {
    pub id: String,
    pub bandwidth: u64,
    pub codecs: String,
    pub width: u32,
    pub height: u32,
    /// Frame rate as `num/den` or an integer (5.3.12.2 FrameRateType).
    pub frame_rate: Option<String>,
    pub audio_sampling_rate: Option<u32>,
    pub audio_channels: Option<u16>,
    pub timescale: u32,
    /// Media time that maps to the start of the period (5.3.9.2).
    pub presentation_time_offset: u64,
    pub initialization: String,
    /// Media URL template with `$Number$`.
    pub media: String,
    /// `(start, duration)` of each segment in `timescale` units.
    pub timeline: Vec<(i64, u64)>,
    /// `ContentProtection` elements (whole XML) of this Representation.
    pub content_protection: Vec<String>,
    /// A Representation that is one file (a WebVTT sidecar): its `BaseURL` (5.6), and no
    /// SegmentTemplate.
    pub base_url: Option<String>,
    /// Segments of one duration, numbered (SegmentTemplate `@duration`, 5.3.9.5.3),
    /// instead of a SegmentTimeline: the thumbnail tiles of DASH-IF IOP 6.2.6.
    pub segment_duration: Option<u64>,
    /// An `EssentialProperty` (5.8.4.8) as `(schemeIdUri, value)`.
    pub essential_property: Option<(&'static str, String)>,
}

/// One AdaptationSet.
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptationSet {
    pub content_type: &'static str,
    pub mime_type: &'static str,
    pub language: Option<String>,
    /// `ContentProtection` elements common to every Representation (ISO/IEC 23009-1,
    /// 5.8.4.1), written at the AdaptationSet level where most players look first.
    pub content_protection: Vec<String>,
    /// Indexes (ids) of the other AdaptationSets a player may switch to seamlessly.
    pub switchable_with: Vec<usize>,
    /// The `Label` a player shows for the set (5.3.10).
    pub label: Option<String>,
    /// The `Role` of the set in the `urn:mpeg:dash:role:2011` scheme (5.8.5.5): `main`
    /// for the one a player picks without a preference, `alternate` for the others.
    pub role: Option<&'static str>,
    /// The CEA-608 channels the video carries in its picture, as the
    /// `urn:scte:dash:cc:cea-608:2015` `Accessibility` descriptor says them ("CC1"),
    /// (ISO/IEC 23009-1, 5.8.4.3; DASH-IF IOP, 6.4.3).
    pub cea608: Option<&'static str>,
    pub representations: Vec<Representation>,
}

impl AdaptationSet {
    /// Whether every Representation's segments start and end at the same instants
    /// (5.3.3.2 `@segmentAlignment`), compared in seconds to within a millisecond.
    pub fn segments_aligned(&self) -> bool {
        let seconds = |r: &Representation| -> Vec<(f64, f64)> {
            let ts = f64::from(r.timescale.max(1));
            r.timeline
                .iter()
                .map(|&(t, d)| {
                    (
                        (t - r.presentation_time_offset as i64) as f64 / ts,
                        d as f64 / ts,
                    )
                })
                .collect()
        };
        let Some(first) = self.representations.first().map(seconds) else {
            return true;
        };
        self.representations
            .iter()
            .skip(1)
            .map(seconds)
            .all(|other| {
                other.len() == first.len()
                    && other
                        .iter()
                        .zip(&first)
                        .all(|(a, b)| (a.0 - b.0).abs() < 1e-3 && (a.1 - b.1).abs() < 1e-3)
            })
    }
}

/// The MPD.
#[derive(Debug, Clone, PartialEq)]
pub struct Mpd {
    pub duration_seconds: f64,
    pub min_buffer_seconds: f64,
    pub adaptation_sets: Vec<AdaptationSet>,
}

fn iso_duration(secs: f64) -> String {
    format!("PT{:.3}S", secs.max(0.0))
}

/// Escapes text for an XML attribute value.
pub fn attr(v: &str) -> String {
    v.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Mpd {
    pub fn render(&self) -> String {
        let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let protected = self.adaptation_sets.iter().any(|a| {
            !a.content_protection.is_empty()
                || a.representations
                    .iter()
                    .any(|r| !r.content_protection.is_empty())
        });
        // Namespaces of the protection descriptors: ISO/IEC 23001-7 (cenc:default_KID,
        // cenc:pssh), PlayReady (mspr:pro) and DASH-IF ClearKey (clearkey:Laurl).
        let namespaces = if protected {
            " xmlns:cenc=\"urn:mpeg:cenc:2013\" xmlns:mspr=\"urn:microsoft:playready\" xmlns:clearkey=\"http://dashif.org/guidelines/clearKey\" xmlns:dashif=\"https://dashif.org/\""
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\"{namespaces} profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" type=\"static\" mediaPresentationDuration=\"{}\" minBufferTime=\"{}\">",
            iso_duration(self.duration_seconds),
            iso_duration(self.min_buffer_seconds),
        );
        s.push_str("  <Period id=\"0\" start=\"PT0S\">\n");
        for (i, set) in self.adaptation_sets.iter().enumerate() {
            let _ = write!(
                s,
                "    <AdaptationSet id=\"{i}\" contentType=\"{}\" mimeType=\"{}\" segmentAlignment=\"{}\" startWithSAP=\"1\"",
                set.content_type,
                set.mime_type,
                set.segments_aligned()
            );
            if let Some(lang) = &set.language {
                let _ = write!(s, " lang=\"{}\"", attr(lang));
            }
            if set.content_type == "video" {
                let w = set
                    .representations
                    .iter()
                    .map(|r| r.width)
                    .max()
                    .unwrap_or(0);
                let h = set
                    .representations
                    .iter()
                    .map(|r| r.height)
                    .max()
                    .unwrap_or(0);
                let _ = write!(s, " maxWidth=\"{w}\" maxHeight=\"{h}\"");
            }
            s.push_str(">\n");
            // ISO/IEC 23009-1's schema order: ContentProtection, then
            // SupplementalProperty, then Label and Role.
            for cp in &set.content_protection {
                let _ = writeln!(s, "      {cp}");
            }
            if !set.switchable_with.is_empty() {
                let ids: Vec<String> = set.switchable_with.iter().map(|i| i.to_string()).collect();
                let _ = writeln!(
                    s,
                    "      <SupplementalProperty schemeIdUri=\"urn:mpeg:dash:adaptation-set-switching:2016\" value=\"{}\"/>",
                    ids.join(",")
                );
            }
            if let Some(label) = &set.label {
                let _ = writeln!(s, "      <Label>{}</Label>", attr(label));
            }
            // Accessibility before Role, in the schema's order.
            if let Some(channels) = set.cea608 {
                let _ = writeln!(
                    s,
                    "      <Accessibility schemeIdUri=\"urn:scte:dash:cc:cea-608:2015\" value=\"{channels}\"/>"
                );
            }
            if let Some(role) = set.role {
                let _ = writeln!(
                    s,
                    "      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"{role}\"/>"
                );
            }
            for r in &set.representations {
                let _ = write!(
                    s,
                    "      <Representation id=\"{}\" bandwidth=\"{}\"",
                    attr(&r.id),
                    r.bandwidth,
                );
                if !r.codecs.is_empty() {
                    let _ = write!(s, " codecs=\"{}\"", attr(&r.codecs));
                }
                if r.width > 0 {
                    let _ = write!(s, " width=\"{}\" height=\"{}\"", r.width, r.height);
                }
                if let Some(f) = &r.frame_rate {
                    let _ = write!(s, " frameRate=\"{f}\"");
                }
                if let Some(rate) = r.audio_sampling_rate {
                    let _ = write!(s, " audioSamplingRate=\"{rate}\"");
                }
                s.push_str(">\n");
                if let Some(ch) = r.audio_channels {
                    let _ = writeln!(
                        s,
                        "        <AudioChannelConfiguration schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\" value=\"{ch}\"/>"
                    );
                }
                for cp in &r.content_protection {
                    let _ = writeln!(s, "        {cp}");
                }
                if let Some((scheme, value)) = &r.essential_property {
                    let _ = writeln!(
                        s,
                        "        <EssentialProperty schemeIdUri=\"{}\" value=\"{}\"/>",
                        attr(scheme),
                        attr(value)
                    );
                }
                if let Some(url) = &r.base_url {
                    let _ = writeln!(s, "        <BaseURL>{}</BaseURL>", attr(url));
                    s.push_str("      </Representation>\n");
                    continue;
                }
                if let Some(duration) = r.segment_duration {
                    let _ = writeln!(
                        s,
                        "        <SegmentTemplate timescale=\"{}\" duration=\"{duration}\" media=\"{}\" startNumber=\"1\"/>",
                        r.timescale,
                        attr(&r.media)
                    );
                    s.push_str("      </Representation>\n");
                    continue;
                }
                let _ = write!(s, "        <SegmentTemplate timescale=\"{}\"", r.timescale);
                if r.presentation_time_offset > 0 {
                    let _ = write!(
                        s,
                        " presentationTimeOffset=\"{}\"",
                        r.presentation_time_offset
                    );
                }
                let _ = writeln!(
                    s,
                    " initialization=\"{}\" media=\"{}\" startNumber=\"1\">",
                    attr(&r.initialization),
                    attr(&r.media)
                );
                s.push_str("          <SegmentTimeline>\n");
                write_timeline(&mut s, &r.timeline);
                s.push_str("          </SegmentTimeline>\n        </SegmentTemplate>\n");
                s.push_str("      </Representation>\n");
            }
            s.push_str("    </AdaptationSet>\n");
        }
        s.push_str("  </Period>\n</MPD>\n");
        s
    }
}

/// `S` elements (5.3.9.6): `t` where a segment does not follow the previous one without a
/// gap, `r` for runs of equal durations.
fn write_timeline(s: &mut String, timeline: &[(i64, u64)]) {
    let mut i = 0;
    let mut expected: Option<i64> = None;
    while i < timeline.len() {
        let (t, d) = timeline[i];
        let mut run = 0;
        while i + run + 1 < timeline.len()
            && timeline[i + run + 1].1 == d
            && timeline[i + run + 1].0 == timeline[i + run].0 + d as i64
        {
            run += 1;
        }
        s.push_str("            <S");
        if expected != Some(t) {
            let _ = write!(s, " t=\"{t}\"");
        }
        let _ = write!(s, " d=\"{d}\"");
        if run > 0 {
            let _ = write!(s, " r=\"{run}\"");
        }
        s.push_str("/>\n");
        expected = Some(timeline[i + run].0 + d as i64);
        i += run + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(timescale: u32, timeline: Vec<(i64, u64)>) -> Representation {
        Representation {
            id: "r".into(),
            bandwidth: 1,
            codecs: "avc1.640028".into(),
            width: 2,
            height: 2,
            frame_rate: None,
            audio_sampling_rate: None,
            audio_channels: None,
            timescale,
            presentation_time_offset: 0,
            initialization: "i".into(),
            media: "m".into(),
            timeline,
            content_protection: Vec::new(),
            base_url: None,
            segment_duration: None,
            essential_property: None,
        }
    }

    #[test]
    fn alignment_compares_seconds_across_timescales() {
        let mut set = AdaptationSet {
            content_type: "video",
            mime_type: "video/mp4",
            language: None,
            content_protection: Vec::new(),
            switchable_with: Vec::new(),
            label: None,
            role: None,
            cea608: None,
            representations: vec![
                rep(1000, vec![(0, 4000), (4000, 2000)]),
                rep(90000, vec![(0, 360000), (360000, 180000)]),
            ],
        };
        assert!(set.segments_aligned());
        set.representations
            .push(rep(1000, vec![(0, 3000), (3000, 3000)]));
        assert!(!set.segments_aligned());
    }

    #[test]
    fn timeline_runs_are_compressed() {
        let mut s = String::new();
        write_timeline(&mut s, &[(0, 4), (4, 4), (8, 4), (12, 2)]);
        assert_eq!(
            s,
            "            <S t=\"0\" d=\"4\" r=\"2\"/>\n            <S d=\"2\"/>\n"
        );
    }
}
