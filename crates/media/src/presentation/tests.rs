//! The presentation model against hand-made tracks: every object of every copy is made
//! at the size the model planned, segments read back as the source's samples (decrypted
//! where protected), manifests name only objects the presentation has, and bit rates and
//! I-frame ranges describe the segments as written.

use aes::cipher::{BlockDecrypt, KeyInit};
use mp4_atom::Encode;

use super::*;
use crate::crypt::{self, derived_iv, Scheme};
use crate::key::{ContentKey, Kid};
use crate::{read_tracks, Limits, Sample};

const VIDEO_SCALE: u32 = 12800;
const FPS: u32 = 25;
const GOP: usize = 50;
const FRAMES: usize = 250;
const AUDIO_FRAMES: usize = 469;

/// An `stsd` with one `avc1` entry (length fields of 4 bytes).
fn avc1_stsd(width: u16, height: u16) -> Vec<u8> {
    let stsd = mp4_atom::Stsd {
        codecs: vec![mp4_atom::Codec::Avc1(mp4_atom::Avc1 {
            visual: mp4_atom::Visual {
                width,
                height,
                ..Default::default()
            },
            avcc: mp4_atom::Avcc {
                configuration_version: 1,
                avc_profile_indication: 100,
                profile_compatibility: 0,
                avc_level_indication: 30,
                length_size: 4,
                ..Default::default()
            },
            ..Default::default()
        })],
    };
    let mut out = Vec::new();
    stsd.encode(&mut out).expect("an stsd encodes");
    out
}

/// An `stsd` with one `mp4a` entry: AAC-LC, 48 kHz, stereo.
fn mp4a_stsd() -> Vec<u8> {
    let stsd = mp4_atom::Stsd {
        codecs: vec![mp4_atom::Codec::Mp4a(mp4_atom::Mp4a {
            audio: mp4_atom::Audio {
                data_reference_index: 1,
                channel_count: 2,
                sample_size: 16,
                sample_rate: 48000u16.into(),
            },
            esds: mp4_atom::Esds {
                es_desc: mp4_atom::esds::EsDescriptor {
                    es_id: 1,
                    dec_config: mp4_atom::esds::DecoderConfig {
                        object_type_indication: 0x40,
                        stream_type: 5,
                        up_stream: 0,
                        dec_specific: Some(mp4_atom::esds::DecoderSpecific {
                            profile: 2,
                            freq_index: 3,
                            chan_conf: 2,
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                    ..Default::default()
                },
            },
            btrt: None,
            taic: None,
        })],
    };
    let mut out = Vec::new();
    stsd.encode(&mut out).expect("an stsd encodes");
    out
}

/// A NAL unit with a 4-byte length field.
fn nal(kind: u8, body: usize, fill: u8) -> Vec<u8> {
    let mut v = ((1 + body) as u32).to_be_bytes().to_vec();
    v.push(kind);
    v.extend(std::iter::repeat_n(fill, body));
    v
}

/// The source: a 10 s video track (25 fps, a sync sample every 2 s, an access unit
/// delimiter and one or two slices per frame, B-frame-like composition offsets) and a
/// 10 s AAC track, their samples in one buffer.
pub(crate) fn fixture() -> (Vec<u8>, Vec<Rendition>) {
    let mut bytes = Vec::new();
    let dur = VIDEO_SCALE / FPS;
    let mut video = Vec::with_capacity(FRAMES);
    for i in 0..FRAMES {
        let sync = i % GOP == 0;
        let mut data = nal(9, 1, 0xf0);
        data.extend(nal(
            if sync { 0x65 } else { 0x41 },
            40 + (i * 37) % 900,
            i as u8,
        ));
        if i % 3 == 0 {
            data.extend(nal(0x41, 17 + i % 50, 0x5a));
        }
        // Decode order I P B B ...: the reordered frames are presented earlier.
        let cts = if sync || i % 3 == 1 {
            dur as i32
        } else {
            -(dur as i32) + 2 * dur as i32
        };
        video.push(Sample {
            offset: bytes.len() as u64,
            size: data.len() as u32,
            duration: dur,
            dts: i as u64 * u64::from(dur),
            cts,
            sync,
        });
        bytes.extend(data);
    }
    let mut audio = Vec::with_capacity(AUDIO_FRAMES);
    for i in 0..AUDIO_FRAMES {
        let size = 200 + (i * 13) % 150;
        audio.push(Sample {
            offset: bytes.len() as u64,
            size: size as u32,
            duration: 1024,
            dts: i as u64 * 1024,
            cts: 0,
            sync: true,
        });
        bytes.extend(std::iter::repeat_n((i % 251) as u8, size));
    }
    let mut video = Track {
        track_id: 1,
        kind: TrackKind::Video,
        timescale: VIDEO_SCALE,
        language: "und".into(),
        sample_description: avc1_stsd(640, 360),
        codec: crate::codec::CodecInfo::H264 {
            entry: *b"avc1",
            profile_idc: 100,
            constraint_flags: 0,
            level_idc: 30,
        },
        width: 640,
        height: 360,
        samples: video,
        subsamples: None,
    };
    video.subsamples = Some(crypt::subsample_counts(&video, &bytes[..]).expect("NAL video"));
    let audio = Track {
        track_id: 2,
        kind: TrackKind::Audio,
        timescale: 48000,
        language: "eng".into(),
        sample_description: mp4a_stsd(),
        codec: crate::codec::CodecInfo::Mp4Audio {
            object_type_indication: 0x40,
            audio_object_type: 2,
            channels: 2,
            sample_rate: 48000,
        },
        width: 0,
        height: 0,
        samples: audio,
        subsamples: None,
    };
    let renditions = vec![
        Rendition {
            name: RenditionName::new("360p").unwrap(),
            source: 0,
            track: video,
        },
        Rendition {
            name: RenditionName::new("audio").unwrap(),
            source: 0,
            track: audio,
        },
    ];
    (bytes, renditions)
}

const CLEAR_LEAD: f64 = 2.0;

fn presentation(length: SegmentLength) -> (Vec<u8>, Presentation) {
    let (bytes, renditions) = fixture();
    let target = match length {
        SegmentLength::Template => SegmentTarget::default(),
        SegmentLength::Seconds(n) => SegmentTarget {
            segment_seconds: f64::from(n),
            fragment_seconds: 2.0,
        },
    };
    let p = Presentation::new(
        renditions,
        Packaging {
            target,
            manifests: Manifests::default(),
            copies: Copy::ALL.to_vec(),
            clear_lead_seconds: CLEAR_LEAD,
            captioned: Vec::new(),
        },
        length,
    )
    .expect("the fixture packages");
    (bytes, p)
}

fn key() -> ContentKey {
    ContentKey {
        kid: Kid([0x11; 16]),
        key: *b"0123456789abcdef",
    }
}

fn keys(p: &Presentation, copy: Copy) -> CopyKeys {
    let scheme = copy.key_scheme();
    CopyKeys {
        copy,
        renditions: match scheme {
            None => Vec::new(),
            Some(scheme) => p
                .renditions()
                .iter()
                .map(|r| RenditionKeys {
                    key: key(),
                    iv: derived_iv(scheme, &key(), r.name().as_str()),
                    systems: vec![SystemSignal {
                        system_id: crate::key::DrmSystem::ClearKey.system_id(),
                        pssh: Some(b"\0\0\0\x20psshsystemspecific-data".to_vec()),
                        dash_descriptor: Some("<ContentProtection schemeIdUri=\"urn:x\"/>".into()),
                        hls_key: Some("#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"data:x\"".into()),
                        hls_session_key: Some(
                            "#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI=\"data:x\"".into(),
                        ),
                    }],
                })
                .collect(),
        },
        aes128_key_uri: None,
    }
}

/// A sink that takes every part as soon as it is ready, in small runs, as a file sink
/// would, and keeps the parts to check them.
#[derive(Default)]
struct Streamed {
    buffer: Vec<u8>,
    parts: Vec<(u64, Vec<u8>)>,
}

impl crate::cmaf::SegmentSink for Streamed {
    fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buffer
    }

    fn ready(&mut self, at: usize, offset: u64) -> crate::Result<()> {
        self.parts.push((offset, self.buffer.split_off(at)));
        Ok(())
    }

    fn ready_bytes(&self) -> usize {
        700
    }
}

impl Streamed {
    /// The segment the parts make, checking that they neither overlap nor leave a gap
    /// and that nothing was left in the buffer.
    fn assemble(mut self) -> Vec<u8> {
        assert!(self.buffer.is_empty(), "bytes never handed over");
        self.parts.sort_by_key(|(offset, _)| *offset);
        let mut out = Vec::new();
        for (offset, part) in self.parts {
            assert_eq!(offset, out.len() as u64, "parts meet");
            out.extend(part);
        }
        out
    }
}

/// Every object of `copy`: the bytes of manifests and init segments, and each media
/// segment as written, in memory and through a streaming sink.
fn make_all(bytes: &[u8], p: &Presentation, copy: Copy) -> Vec<(ObjectPath, Vec<u8>)> {
    let keys = keys(p, copy);
    p.objects(copy)
        .into_iter()
        .map(|path| {
            let made = match p.make(&keys, &path).expect("every listed object is made") {
                Made::Bytes(b) => b,
                Made::Segment(s) => {
                    let mut out = vec![0xee; 3];
                    s.write(bytes, &mut out).expect("written");
                    assert_eq!(&out[..3], &[0xee; 3], "what precedes stays");
                    out.drain(..3);
                    assert_eq!(out.len() as u64, s.len(), "{path}");
                    let mut streamed = Streamed::default();
                    s.write_to(bytes, &mut streamed).expect("streamed");
                    // A segment sealed whole comes at once; the others part by part.
                    assert_eq!(streamed.parts.len() > 2, copy != Copy::Aes128, "{path}");
                    assert_eq!(
                        streamed.assemble(),
                        out,
                        "{path}: streamed and buffered agree"
                    );
                    if let Some(layout) = s.layout() {
                        let layout = layout.unwrap();
                        let mut assembled = Vec::new();
                        for part in &layout.parts {
                            match part {
                                crate::cmaf::Part::Bytes(b) => assembled.extend_from_slice(b),
                                crate::cmaf::Part::Source { offset, len } => assembled
                                    .extend_from_slice(
                                        &bytes[*offset as usize..(offset + len) as usize],
                                    ),
                            }
                        }
                        assert_eq!(assembled, out, "{path}: layout and buffer agree");
                    }
                    out
                }
            };
            (path, made)
        })
        .collect()
}

fn find<'a>(all: &'a [(ObjectPath, Vec<u8>)], path: &str) -> &'a [u8] {
    &all.iter()
        .find(|(p, _)| p.to_string() == path)
        .unwrap_or_else(|| panic!("no {path}"))
        .1
}

/// The `mdat` payloads of a fragmented track, fragment by fragment.
fn mdats(segment: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= segment.len() {
        let size = u32::from_be_bytes(segment[at..at + 4].try_into().unwrap()) as usize;
        if &segment[at + 4..at + 8] == b"mdat" {
            out.push(&segment[at + 8..at + size]);
        }
        at += size;
    }
    out
}

/// One `senc` entry: the IV, and `(clear, protected)` per subsample.
type SencEntry = (Vec<u8>, Vec<(u16, u32)>);

/// The `senc` entries of every `moof` of a segment.
fn senc_entries(segment: &[u8], iv_size: usize, subsamples: bool) -> Vec<SencEntry> {
    let mut out = Vec::new();
    let mut search = 0;
    while let Some(at) = segment[search..].windows(4).position(|w| w == b"senc") {
        let mut pos = search + at + 4 + 4;
        let count = u32::from_be_bytes(segment[pos..pos + 4].try_into().unwrap());
        pos += 4;
        for _ in 0..count {
            let iv = segment[pos..pos + iv_size].to_vec();
            pos += iv_size;
            let mut map = Vec::new();
            if subsamples {
                let n = u16::from_be_bytes(segment[pos..pos + 2].try_into().unwrap());
                pos += 2;
                for _ in 0..n {
                    let clear = u16::from_be_bytes(segment[pos..pos + 2].try_into().unwrap());
                    let protected =
                        u32::from_be_bytes(segment[pos + 2..pos + 6].try_into().unwrap());
                    map.push((clear, protected));
                    pos += 6;
                }
            }
            out.push((iv, map));
        }
        search = pos;
    }
    out
}

#[test]
fn every_object_of_every_copy_is_made_at_its_planned_size() {
    let (bytes, p) = presentation(SegmentLength::Template);
    for copy in Copy::ALL {
        let all = make_all(&bytes, &p, copy);
        for (r, rendition) in p.renditions().iter().enumerate() {
            let written: u64 = all
                .iter()
                .filter(|(path, _)| {
                    matches!(&path.object, Object::MediaSegment(n, _) if n == rendition.name())
                })
                .map(|(_, b)| b.len() as u64)
                .sum();
            assert_eq!(p.media_bytes(copy, r), Some(written), "{copy} {r}");
        }
        // What the presentation does not have is refused, not made up.
        let k = keys(&p, copy);
        for missing in ["360p/4.m4s", "nope/index.m3u8", "audio/iframes.m3u8"] {
            let mut path = ObjectPath::parse(missing).unwrap();
            path.copy = copy;
            assert!(
                matches!(p.make(&k, &path), Err(Error::NoObject(_))),
                "{copy} {missing}"
            );
        }
    }
    let aes = keys(&p, Copy::Aes128);
    let mpd = ObjectPath::new(Copy::Aes128, Object::Mpd);
    assert!(matches!(p.make(&aes, &mpd), Err(Error::NoObject(_))));
}

#[test]
fn clear_segments_read_back_as_the_source_samples() {
    let (bytes, p) = presentation(SegmentLength::Template);
    let all = make_all(&bytes, &p, Copy::Clear);
    for rendition in p.renditions() {
        let name = rendition.name();
        let mut file = find(&all, &format!("{name}/init.mp4")).to_vec();
        for n in 0..rendition.segments().len() {
            file.extend_from_slice(find(&all, &format!("{name}/{}.m4s", n + 1)));
        }
        let tracks = read_tracks(&file[..], &Limits::default()).expect("the output reads back");
        assert_eq!(tracks.len(), 1);
        let back = &tracks[0];
        let source = rendition.track();
        assert_eq!(back.samples.len(), source.samples.len(), "{name}");
        assert_eq!(back.codec, source.codec);
        // The reader puts the first presented sample at 0; the presentation started the
        // track later by the reorder delay, so times are compared from each start.
        let (back_start, start) = (back.start_time(), source.start_time());
        for (b, s) in back.samples.iter().zip(&source.samples) {
            assert_eq!(
                (b.size, b.duration, b.sync, b.pts() - back_start),
                (s.size, s.duration, s.sync, s.pts() - start),
                "{name}"
            );
            assert_eq!(
                &file[b.offset as usize..b.offset as usize + b.size as usize],
                &bytes[s.offset as usize..s.offset as usize + s.size as usize],
                "{name}: sample data"
            );
        }
    }
}

#[test]
fn protected_segments_decrypt_to_the_source_samples_with_their_senc() {
    let (bytes, p) = presentation(SegmentLength::Template);
    for (copy, scheme) in [(Copy::Cenc, Scheme::Cenc), (Copy::Cbcs, Scheme::Cbcs)] {
        let all = make_all(&bytes, &p, copy);
        for rendition in p.renditions() {
            let name = rendition.name();
            let track = rendition.track();
            let video = track.kind == TrackKind::Video;
            let iv = derived_iv(scheme, &key(), name.as_str());
            let tp = TrackProtection {
                scheme,
                key: key(),
                iv,
            };
            let mut index = 0usize;
            for (n, spec) in rendition.segments().iter().enumerate() {
                let segment = find(&all, &format!("{}/{name}/{}.m4s", copy.folder(), n + 1));
                let lead = (spec.start as f64) < CLEAR_LEAD * f64::from(track.timescale);
                let entries =
                    senc_entries(segment, usize::from(scheme.per_sample_iv_size()), video);
                if lead || (scheme == Scheme::Cbcs && !video) {
                    assert!(entries.is_empty(), "{copy} {name} {n}: no senc");
                }
                let mut e = entries.iter();
                for data in mdats(segment) {
                    let mut at = 0;
                    while at < data.len() {
                        let s = &track.samples[index];
                        let clear =
                            &bytes[s.offset as usize..(s.offset + u64::from(s.size)) as usize];
                        let mut got = data[at..at + s.size as usize].to_vec();
                        at += s.size as usize;
                        if !lead {
                            let map = if video {
                                crypt::video_subsamples(clear, crypt::NalSyntax::Avc, 4).unwrap()
                            } else {
                                Vec::new()
                            };
                            let sample_iv = tp.sample_iv(index);
                            if let Some((entry_iv, entry_map)) = e.next() {
                                assert_eq!(entry_iv[..], sample_iv[..entry_iv.len()], "IV");
                                let want: Vec<(u16, u32)> =
                                    map.iter().map(|m| (m.clear, m.protected)).collect();
                                assert_eq!(entry_map, &want, "{copy} {name} sample {index}");
                            }
                            assert_ne!(got, clear, "{copy} {name} sample {index} is encrypted");
                            crypt::decrypt_sample(
                                scheme,
                                &key().key,
                                &sample_iv,
                                scheme.pattern(video),
                                &mut got,
                                &map,
                            )
                            .unwrap();
                        }
                        assert_eq!(got, clear, "{copy} {name} sample {index}");
                        index += 1;
                    }
                }
            }
            assert_eq!(index, track.samples.len());
        }
    }
}

#[test]
fn aes128_segments_decrypt_to_the_clear_segments() {
    let (bytes, p) = presentation(SegmentLength::Template);
    let clear = make_all(&bytes, &p, Copy::Clear);
    let sealed = make_all(&bytes, &p, Copy::Aes128);
    let aes = aes::Aes128::new((&key().key).into());
    let mut checked = 0;
    for (path, body) in &sealed {
        let Object::MediaSegment(_, n) = &path.object else {
            continue;
        };
        let mut prev = [0u8; 16];
        prev[8..].copy_from_slice(&(*n as u64).to_be_bytes());
        let mut plain = Vec::with_capacity(body.len());
        for block in body.chunks_exact(16) {
            let mut b: [u8; 16] = block.try_into().unwrap();
            aes.decrypt_block((&mut b).into());
            for (x, y) in b.iter_mut().zip(&prev) {
                *x ^= y;
            }
            prev = block.try_into().unwrap();
            plain.extend_from_slice(&b);
        }
        let pad = *plain.last().unwrap() as usize;
        plain.truncate(plain.len() - pad);
        let clear_path = ObjectPath::new(Copy::Clear, path.object.clone());
        assert_eq!(plain, find(&clear, &clear_path.to_string()), "{path}");
        checked += 1;
    }
    assert!(checked > 5);
}

/// Resolves `uri` against the object at `base` (RFC 3986, 5.2), as a player does.
fn resolve(base: &ObjectPath, uri: &str) -> String {
    let mut dirs: Vec<String> = base.to_string().split('/').map(String::from).collect();
    dirs.pop();
    let mut parts = uri.split('/').peekable();
    while parts.peek() == Some(&"..") {
        parts.next();
        dirs.pop();
    }
    dirs.extend(parts.map(String::from));
    dirs.join("/")
}

#[test]
fn manifests_name_only_objects_the_presentation_has() {
    for length in [SegmentLength::Template, SegmentLength::Seconds(6)] {
        let (bytes, p) = presentation(length);
        for copy in Copy::ALL {
            let all = make_all(&bytes, &p, copy);
            let names: Vec<String> = all.iter().map(|(p, _)| p.to_string()).collect();
            let key = ObjectPath::key(key().kid).to_string();
            let mut references = 0;
            for (path, body) in &all {
                let text = String::from_utf8_lossy(body);
                let mut uris: Vec<String> = Vec::new();
                match path.object {
                    Object::MultivariantPlaylist => {
                        let Ok(m3u8_rs::Playlist::MasterPlaylist(m)) =
                            m3u8_rs::parse_playlist_res(body)
                        else {
                            panic!("{path} parses as a multivariant playlist");
                        };
                        uris.extend(m.variants.iter().map(|v| v.uri.clone()));
                        uris.extend(m.alternatives.iter().filter_map(|a| a.uri.clone()));
                        assert_eq!(
                            m.variants.iter().filter(|v| v.is_i_frame).count(),
                            usize::from(copy.has_iframe_playlists()),
                            "{path}"
                        );
                    }
                    Object::MediaPlaylist(_) | Object::IFramePlaylist(_) => {
                        let Ok(m3u8_rs::Playlist::MediaPlaylist(m)) =
                            m3u8_rs::parse_playlist_res(body)
                        else {
                            panic!("{path} parses as a media playlist");
                        };
                        for s in &m.segments {
                            uris.push(s.uri.clone());
                            if let Some(map) = &s.map {
                                uris.push(map.uri.clone());
                            }
                            if let Some(k) = s.key.as_ref().and_then(|k| k.uri.clone()) {
                                if !k.starts_with("data:") {
                                    uris.push(k);
                                }
                            }
                        }
                    }
                    Object::Mpd => {
                        for attr in ["initialization=\"", "media=\""] {
                            for (at, _) in text.match_indices(attr) {
                                let start = at + attr.len();
                                let end = start + text[start..].find('"').unwrap();
                                uris.push(text[start..end].replace("$Number$", "1"));
                            }
                        }
                        dash_mpd_core::parse(&text).expect("the MPD parses");
                    }
                    _ => continue,
                }
                assert!(!uris.is_empty(), "{path} names objects");
                for uri in uris {
                    let target = resolve(path, &uri);
                    assert!(
                        names.contains(&target) || target == key,
                        "{path}: {uri} resolves to {target}, not an object of the {copy} copy"
                    );
                    if copy == Copy::Aes128 && target == key {
                        references += 1;
                    }
                }
            }
            if copy == Copy::Aes128 {
                assert!(references > 0, "AES-128 playlists name the key at {key}");
            }
        }
    }
}

#[test]
fn iframe_ranges_and_bit_rates_describe_the_segments_as_written() {
    let (bytes, p) = presentation(SegmentLength::Template);
    for copy in [Copy::Clear, Copy::Cenc, Copy::Cbcs] {
        let all = make_all(&bytes, &p, copy);
        let prefix = if copy == Copy::Clear {
            String::new()
        } else {
            format!("{}/", copy.folder())
        };
        let playlist = find(&all, &format!("{prefix}360p/iframes.m3u8"));
        let Ok(m3u8_rs::Playlist::MediaPlaylist(m)) = m3u8_rs::parse_playlist_res(playlist) else {
            panic!("an I-frame playlist");
        };
        assert_eq!(m.segments.len(), FRAMES / GOP, "one entry per GOP");
        for s in &m.segments {
            let range = s.byte_range.as_ref().expect("a byte range");
            let segment = find(&all, &format!("{prefix}360p/{}", s.uri));
            let offset = range.offset.unwrap() as usize;
            let len = range.length as usize;
            assert_eq!(
                &segment[offset + 4..offset + 8],
                b"moof",
                "{copy}: {}",
                s.uri
            );
            let moof = u32::from_be_bytes(segment[offset..offset + 4].try_into().unwrap()) as usize;
            assert_eq!(&segment[offset + moof + 4..offset + moof + 8], b"mdat");
            // The range ends with the fragment's first frame, a sync sample of the source
            // (encrypted in the CENC copies, so compared by size there).
            let frame = &segment[offset + moof + 8..offset + len];
            let track = p.renditions()[0].track();
            assert!(
                track.samples.iter().filter(|x| x.sync).any(|x| {
                    x.size as usize == frame.len()
                        && (copy != Copy::Clear
                            || frame
                                == &bytes
                                    [x.offset as usize..(x.offset + u64::from(x.size)) as usize])
                }),
                "{copy} {}: the range ends at a sync frame",
                s.uri
            );
        }
        for (r, rendition) in p.renditions().iter().enumerate() {
            let name = rendition.name();
            let scale = f64::from(rendition.track().timescale);
            let secs: Vec<(u64, f64)> = rendition
                .segments()
                .iter()
                .enumerate()
                .map(|(n, s)| {
                    let size = find(&all, &format!("{prefix}{name}/{}.m4s", n + 1)).len() as u64;
                    (size, s.duration as f64 / scale)
                })
                .collect();
            let (peak, average) = p.bandwidth(copy, r).unwrap();
            assert_eq!(peak, crate::hls::peak_bit_rate(&secs, 4.0), "{copy} {name}");
            assert_eq!(
                average,
                crate::hls::average_bit_rate(&secs),
                "{copy} {name}"
            );
            if copy != Copy::Clear {
                let (clear_peak, _) = p.bandwidth(Copy::Clear, r).unwrap();
                assert!(peak >= clear_peak, "{copy} {name}: protection adds bytes");
            }
        }
        // The variant announces the video's peak plus the audio's.
        let master =
            String::from_utf8_lossy(find(&all, &format!("{prefix}master.m3u8"))).into_owned();
        let (v, _) = p.bandwidth(copy, 0).unwrap();
        let (a, _) = p.bandwidth(copy, 1).unwrap();
        assert!(
            master.contains(&format!("BANDWIDTH={}", v + a)),
            "{copy}: {master}"
        );
    }
}

#[test]
fn audio_segments_start_with_the_video_segments() {
    let (_, p) = presentation(SegmentLength::Template);
    let video = &p.renditions()[0];
    let audio = &p.renditions()[1];
    assert_eq!(video.segments().len(), 3);
    assert_eq!(audio.segments().len(), video.segments().len());
    for (v, a) in video.segments().iter().zip(audio.segments()).skip(1) {
        let vt = v.start as f64 / f64::from(VIDEO_SCALE);
        let at = a.start as f64 / 48000.0;
        assert!(
            (vt - at).abs() <= 1024.0 / 48000.0 / 2.0 + 1e-9,
            "{vt} {at}"
        );
    }
    // Asked for 6 s segments, the same GOPs are cut every 6 s.
    let (_, p6) = presentation(SegmentLength::Seconds(6));
    assert_eq!(p6.renditions()[0].segments().len(), 2);
}

#[test]
fn a_protected_copy_needs_measured_subsamples() {
    let (_, mut renditions) = fixture();
    renditions[0].track.subsamples = None;
    let err = Presentation::new(
        renditions,
        Packaging {
            copies: vec![Copy::Clear, Copy::Cbcs],
            ..Packaging::default()
        },
        SegmentLength::Template,
    )
    .unwrap_err();
    assert!(err.to_string().contains("subsamples"), "{err}");
}
