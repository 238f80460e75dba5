//! Content steering: the same presentation offered through several CDNs ("pathways"),
//! with a steering server telling players which to prefer.
//!
//! The manifests are written once, with relative URIs; these functions turn a copy's
//! multivariant playlist or MPD into its steered form when it is served:
//! - HLS (RFC 8216bis 4.4.6.6): `EXT-X-CONTENT-STEERING` names the steering server and
//!   the first pathway; every variant, I-frame variant and rendition is given once per
//!   pathway, with `PATHWAY-ID`, absolute URIs under that pathway's base, and rendition
//!   groups of its own (`GROUP-ID` suffixed with the pathway), so that switching pathway
//!   moves the audio and subtitles too.
//! - DASH (ISO/IEC 23009-1, 5.3.1.2 and 5.6; DASH-IF Content Steering): one `BaseURL`
//!   per pathway with `@serviceLocation`, and a `ContentSteering` element naming the
//!   server and the default location.

/// A pathway's id: 1 to 32 of `A-Z a-z 0-9 . _ -` (safe in an HLS quoted string, a
/// GROUP-ID suffix and an XML attribute without escaping).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PathwayId(String);

impl PathwayId {
    pub fn parse(s: &str) -> Option<PathwayId> {
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        ok.then(|| PathwayId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PathwayId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where one pathway serves this manifest's folder: `https://cdn-b.example/play/ID/` (a
/// base ending in `/`; relative URIs of the manifest are appended to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathwayBase<'a> {
    pub id: &'a PathwayId,
    pub folder_url: String,
}

/// The multivariant playlist `text` offered through `pathways` (the first is the default),
/// steered by the server at `server_uri`.
pub fn steer_multivariant(text: &str, pathways: &[PathwayBase<'_>], server_uri: &str) -> String {
    let Some(first) = pathways.first() else {
        return text.to_owned();
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut head = Vec::new();
    let mut i = 0;
    // Everything before the first rendition or variant is said once.
    while i < lines.len() && !is_per_pathway(lines[i]) {
        head.push(lines[i].to_owned());
        i += 1;
    }
    head.push(format!(
        "#EXT-X-CONTENT-STEERING:SERVER-URI=\"{}\",PATHWAY-ID=\"{}\"",
        server_uri.replace('"', "%22"),
        first.id
    ));
    let body = &lines[i..];
    let mut out = head;
    for p in pathways {
        let mut j = 0;
        while j < body.len() {
            let line = body[j];
            if let Some(attrs) = line.strip_prefix("#EXT-X-MEDIA:") {
                out.push(format!(
                    "#EXT-X-MEDIA:{}",
                    pathway_attributes(attrs, p, false)
                ));
            } else if let Some(attrs) = line.strip_prefix("#EXT-X-I-FRAME-STREAM-INF:") {
                out.push(format!(
                    "#EXT-X-I-FRAME-STREAM-INF:{}",
                    pathway_attributes(attrs, p, true)
                ));
            } else if let Some(attrs) = line.strip_prefix("#EXT-X-STREAM-INF:") {
                out.push(format!(
                    "#EXT-X-STREAM-INF:{}",
                    pathway_attributes(attrs, p, true)
                ));
                // The variant's URI is its next line that is not a comment or blank.
                j += 1;
                while j < body.len() && (body[j].is_empty() || body[j].starts_with('#')) {
                    if p.id == first.id {
                        out.push(body[j].to_owned());
                    }
                    j += 1;
                }
                if let Some(uri) = body.get(j) {
                    out.push(absolute(&p.folder_url, uri));
                }
            } else if p.id == first.id && !line.is_empty() {
                // Tags that are not per variant (none follow the variants today) once.
                out.push(line.to_owned());
            }
            j += 1;
        }
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

fn is_per_pathway(line: &str) -> bool {
    line.starts_with("#EXT-X-MEDIA:")
        || line.starts_with("#EXT-X-STREAM-INF:")
        || line.starts_with("#EXT-X-I-FRAME-STREAM-INF:")
}

/// The attribute list of a rendition or variant for pathway `p`: its URI made absolute,
/// its group (or the groups it refers to) suffixed with the pathway, and, on variants,
/// `PATHWAY-ID` (RFC 8216bis 4.4.6.2).
fn pathway_attributes(attrs: &str, p: &PathwayBase<'_>, variant: bool) -> String {
    let mut out: Vec<String> = Vec::new();
    for (name, value) in split_attributes(attrs) {
        let quoted = value.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
        let new = match (name, quoted) {
            ("URI", Some(uri)) => format!("\"{}\"", absolute(&p.folder_url, uri)),
            ("GROUP-ID" | "AUDIO" | "VIDEO" | "SUBTITLES", Some(group)) => {
                format!("\"{group}-{}\"", p.id)
            }
            // CLOSED-CAPTIONS=NONE stays; a quoted group is the pathway's.
            ("CLOSED-CAPTIONS", Some(group)) => format!("\"{group}-{}\"", p.id),
            ("PATHWAY-ID", _) => continue,
            _ => value.to_owned(),
        };
        out.push(format!("{name}={new}"));
    }
    if variant {
        out.push(format!("PATHWAY-ID=\"{}\"", p.id));
    }
    out.join(",")
}

/// `NAME=VALUE` pairs of an attribute list (RFC 8216bis 4.2): commas inside quoted
/// strings do not separate.
fn split_attributes(attrs: &str) -> Vec<(&str, &str)> {
    let mut pairs = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in attrs.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                pairs.extend(attrs[start..i].split_once('='));
                start = i + 1;
            }
            _ => {}
        }
    }
    pairs.extend(attrs[start..].split_once('='));
    pairs
}

fn absolute(folder_url: &str, uri: &str) -> String {
    if uri.contains("://") {
        uri.to_owned()
    } else {
        format!("{folder_url}{uri}")
    }
}

/// The MPD `text` offered through `pathways` (the first is the default location), steered
/// by the server at `server_uri`. The elements go first in `MPD` (before the `Period`s).
pub fn steer_mpd(text: &str, pathways: &[PathwayBase<'_>], server_uri: &str) -> String {
    let Some(first) = pathways.first() else {
        return text.to_owned();
    };
    let Some(open) = text.find("<MPD") else {
        return text.to_owned();
    };
    let Some(end) = text[open..].find('>').map(|e| open + e + 1) else {
        return text.to_owned();
    };
    let mut inserted = String::new();
    for p in pathways {
        inserted.push_str(&format!(
            "\n  <BaseURL serviceLocation=\"{}\">{}</BaseURL>",
            p.id,
            xml_text(&p.folder_url)
        ));
    }
    inserted.push_str(&format!(
        "\n  <ContentSteering defaultServiceLocation=\"{}\" queryBeforeStart=\"true\">{}</ContentSteering>",
        first.id,
        xml_text(server_uri)
    ));
    format!("{}{}{}", &text[..end], inserted, &text[end..])
}

fn xml_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &str = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio0\",NAME=\"Audio\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"audio/index.m3u8\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=392069,CODECS=\"avc1.64000d,mp4a.40.2\",RESOLUTION=320x180,AUDIO=\"audio0\",CLOSED-CAPTIONS=NONE\n\
180p/index.m3u8\n\
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=26340,CODECS=\"avc1.64000d\",URI=\"180p/iframes.m3u8\"\n";

    fn pathways(ids: &[PathwayId]) -> Vec<PathwayBase<'_>> {
        ids.iter()
            .map(|id| PathwayBase {
                id,
                folder_url: format!("https://{id}.example/play/x/"),
            })
            .collect()
    }

    #[test]
    fn every_variant_and_rendition_once_per_pathway() {
        let ids = [
            PathwayId::parse("a").unwrap(),
            PathwayId::parse("b").unwrap(),
        ];
        let out = steer_multivariant(
            MASTER,
            &pathways(&ids),
            "https://o.example/steer/x/hls.json",
        );
        let parsed = m3u8_rs::parse_master_playlist_res(out.as_bytes()).expect("valid playlist");
        assert_eq!(parsed.variants.len(), 4, "{out}");
        assert_eq!(parsed.alternatives.len(), 2, "{out}");
        assert!(out.contains(
            "#EXT-X-CONTENT-STEERING:SERVER-URI=\"https://o.example/steer/x/hls.json\",PATHWAY-ID=\"a\""
        ));
        assert!(out.contains("GROUP-ID=\"audio0-b\""), "{out}");
        assert!(
            out.contains("URI=\"https://b.example/play/x/audio/index.m3u8\""),
            "{out}"
        );
        assert!(out.contains(
            "CODECS=\"avc1.64000d,mp4a.40.2\",RESOLUTION=320x180,AUDIO=\"audio0-b\",CLOSED-CAPTIONS=NONE,PATHWAY-ID=\"b\"\nhttps://b.example/play/x/180p/index.m3u8"
        ), "{out}");
        assert!(out.contains("URI=\"https://a.example/play/x/180p/iframes.m3u8\",PATHWAY-ID=\"a\""));
        // The head is said once.
        assert_eq!(out.matches("#EXT-X-VERSION").count(), 1);
        assert!(out.starts_with("#EXTM3U\n"));
    }

    #[test]
    fn the_mpd_names_a_base_per_location_and_the_server() {
        let mpd = "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\">\n  <Period/>\n</MPD>\n";
        let ids = [
            PathwayId::parse("a").unwrap(),
            PathwayId::parse("b").unwrap(),
        ];
        let out = steer_mpd(
            mpd,
            &pathways(&ids),
            "https://o.example/steer/x/dash.json?a=1&b=2",
        );
        assert!(out.contains(
            "type=\"static\">\n  <BaseURL serviceLocation=\"a\">https://a.example/play/x/</BaseURL>\n  <BaseURL serviceLocation=\"b\">https://b.example/play/x/</BaseURL>\n  <ContentSteering defaultServiceLocation=\"a\" queryBeforeStart=\"true\">https://o.example/steer/x/dash.json?a=1&amp;b=2</ContentSteering>\n  <Period/>"
        ), "{out}");
        let parsed = dash_mpd_core::parse(&out).expect("the MPD parses");
        let locations: Vec<_> = parsed
            .base_url
            .iter()
            .map(|b| b.serviceLocation.as_deref())
            .collect();
        assert_eq!(locations, [Some("a"), Some("b")]);
    }

    #[test]
    fn pathway_ids_are_checked() {
        assert!(PathwayId::parse("cdn-a.1_x").is_some());
        for bad in ["", "a\"b", "a b", "a,b", &"x".repeat(33)] {
            assert!(PathwayId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn without_pathways_nothing_changes() {
        assert_eq!(steer_multivariant(MASTER, &[], "x"), MASTER);
    }
}
