//! A presentation with an audio rendition per language and layout: each is a choice of
//! its own in both manifests, with a readable name, and the first is the default.

use super::tests::fixture;
use super::*;
use crate::codec::CodecInfo;

/// The fixture's video and its English audio, then Spanish, English 5.1 and an audio
/// rendition without a language, all made from the fixture's audio samples.
fn languages() -> (Vec<u8>, Presentation) {
    let (bytes, mut renditions) = fixture();
    let english = renditions[1].clone();
    let more = [
        ("audio-es", "spa", 2),
        ("audio-en-51", "eng", 6),
        ("audio-3", "und", 2),
    ];
    for (name, language, channels) in more {
        let mut r = english.clone();
        r.name = RenditionName::new(name).unwrap();
        r.track.language = language.into();
        if let CodecInfo::Mp4Audio { channels: c, .. } = &mut r.track.codec {
            *c = channels;
        }
        renditions.push(r);
    }
    let p = Presentation::new(renditions, Packaging::default(), SegmentLength::Template)
        .expect("the fixture packages");
    (bytes, p)
}

fn manifest(p: &Presentation, object: Object) -> String {
    let at = ObjectPath::new(Copy::Clear, object);
    match p.make(&CopyKeys::clear(), &at).unwrap() {
        Made::Bytes(b) => String::from_utf8(b).unwrap(),
        Made::Segment(_) => panic!("a manifest is bytes"),
    }
}

#[test]
fn hls_lists_each_audio_rendition_by_language_with_the_first_as_default() {
    let (_, p) = languages();
    let master = manifest(&p, Object::MultivariantPlaylist);
    let media: Vec<&str> = master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-MEDIA:TYPE=AUDIO"))
        .collect();
    assert_eq!(media.len(), 4, "{master}");
    // A second English rendition is not AUTOSELECT: its language is already offered.
    let expect = [
        ("English", Some("en"), "YES", "YES", "2"),
        ("Spanish", Some("es"), "NO", "YES", "2"),
        ("English 5.1", Some("en"), "NO", "NO", "6"),
        ("Audio", None, "NO", "YES", "2"),
    ];
    for (line, (name, language, default, autoselect, channels)) in media.iter().zip(expect) {
        assert!(line.contains(&format!("NAME=\"{name}\"")), "{line}");
        match language {
            Some(l) => assert!(line.contains(&format!("LANGUAGE=\"{l}\"")), "{line}"),
            None => assert!(!line.contains("LANGUAGE="), "{line}"),
        }
        assert!(
            line.contains(&format!("DEFAULT={default},AUTOSELECT={autoselect}")),
            "{line}"
        );
        assert!(line.contains(&format!("CHANNELS=\"{channels}\"")), "{line}");
    }
    // One group: every variant names it, and m3u8-rs reads the playlist.
    assert!(master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-STREAM-INF"))
        .all(|l| l.contains("AUDIO=\"audio0\"")));
    assert!(m3u8_rs::parse_master_playlist_res(master.as_bytes()).is_ok());
}

#[test]
fn dash_gives_each_audio_rendition_a_set_with_its_language_label_and_role() {
    let (_, p) = languages();
    let mpd = manifest(&p, Object::Mpd);
    let parsed = dash_mpd_core::parse(&mpd).expect("the MPD parses");
    let sets: Vec<_> = parsed.periods[0]
        .adaptations
        .iter()
        .filter(|a| a.contentType.as_deref() == Some("audio"))
        .collect();
    assert_eq!(sets.len(), 4, "{mpd}");
    let langs: Vec<Option<&str>> = sets.iter().map(|a| a.lang.as_deref()).collect();
    assert_eq!(langs, [Some("en"), Some("es"), Some("en"), None]);
    for (set, id) in sets
        .iter()
        .zip(["audio", "audio-es", "audio-en-51", "audio-3"])
    {
        assert_eq!(set.representations.len(), 1);
        assert_eq!(set.representations[0].id.as_deref(), Some(id));
    }
    for (label, role) in [
        ("English", "main"),
        ("Spanish", "alternate"),
        ("English 5.1", "alternate"),
        ("Audio", "alternate"),
    ] {
        let at = mpd.find(&format!("<Label>{label}</Label>")).expect(label);
        let rest = &mpd[at..];
        let next_role = rest.find("<Role ").unwrap();
        assert!(
            rest[next_role..].starts_with(&format!(
                "<Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"{role}\"/>"
            )),
            "{label}: {mpd}"
        );
    }
}
