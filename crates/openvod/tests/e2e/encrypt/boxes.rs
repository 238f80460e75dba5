//! ISO-BMFF read by hand, independently of openvod-media: boxes, `schm`/`tenc`, and
//! decryption of every sample with the file's own sample auxiliary information.

use super::*;

pub(super) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes(b[at..at + 2].try_into().unwrap())
}

pub(super) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

pub(super) fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

/// A box: its type, where it starts, its header length and total size.
#[derive(Debug, Clone, Copy)]
pub(super) struct BoxAt {
    pub(super) kind: [u8; 4],
    pub(super) start: usize,
    pub(super) header: usize,
    pub(super) size: usize,
}

impl BoxAt {
    pub(super) fn body<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        &data[self.start + self.header..self.start + self.size]
    }
}

/// The boxes in `data[from..to]`, one level.
pub(super) fn children(data: &[u8], from: usize, to: usize) -> Vec<BoxAt> {
    let mut out = Vec::new();
    let mut pos = from;
    while pos + 8 <= to {
        let mut size = be32(data, pos) as usize;
        let mut header = 8;
        if size == 1 {
            size = be64(data, pos + 8) as usize;
            header = 16;
        } else if size == 0 {
            size = to - pos;
        }
        assert!(
            size >= header && pos + size <= to,
            "a box at {pos} runs past its parent"
        );
        let mut kind = [0u8; 4];
        kind.copy_from_slice(&data[pos + 4..pos + 8]);
        out.push(BoxAt {
            kind,
            start: pos,
            header,
            size,
        });
        pos += size;
    }
    out
}

/// Bytes of a box's own fields before its child boxes, for the boxes that have children.
pub(super) fn child_offset(kind: &[u8; 4]) -> Option<usize> {
    match kind {
        b"moov" | b"trak" | b"mdia" | b"minf" | b"stbl" | b"dinf" | b"mvex" | b"moof" | b"traf"
        | b"sinf" | b"schi" | b"edts" => Some(0),
        b"stsd" => Some(8),
        b"encv" | b"avc1" | b"avc3" | b"hvc1" | b"hev1" | b"av01" => Some(78),
        b"enca" | b"mp4a" => Some(28),
        _ => None,
    }
}

/// Every box of a file, depth first, as slash-separated paths (`moov/trak/.../tenc`).
pub(super) fn box_paths(data: &[u8]) -> Vec<String> {
    fn walk(data: &[u8], from: usize, to: usize, prefix: &str, out: &mut Vec<String>) {
        for b in children(data, from, to) {
            let path = format!("{prefix}{}", String::from_utf8_lossy(&b.kind));
            if let Some(skip) = child_offset(&b.kind) {
                walk(
                    data,
                    b.start + b.header + skip,
                    b.start + b.size,
                    &format!("{path}/"),
                    out,
                );
            }
            out.push(path);
        }
    }
    let mut out = Vec::new();
    walk(data, 0, data.len(), "", &mut out);
    out
}

/// The first box at `path` below `within` (a box list of one level).
pub(super) fn find(data: &[u8], within: &[BoxAt], path: &[&[u8; 4]]) -> Option<BoxAt> {
    let (first, rest) = path.split_first()?;
    for b in within {
        if &b.kind == *first {
            if rest.is_empty() {
                return Some(*b);
            }
            let skip = child_offset(&b.kind)?;
            let inner = children(data, b.start + b.header + skip, b.start + b.size);
            if let Some(found) = find(data, &inner, rest) {
                return Some(found);
            }
        }
    }
    None
}

/// The `mfhd` sequence number of every `moof` of a file.
pub(super) fn sequence_numbers(data: &[u8]) -> Vec<u32> {
    let top = children(data, 0, data.len());
    top.iter()
        .filter(|b| &b.kind == b"moof")
        .map(|moof| {
            let inner = children(data, moof.start + 8, moof.start + moof.size);
            let mfhd = inner.iter().find(|b| &b.kind == b"mfhd").expect("an mfhd");
            be32(mfhd.body(data), 4)
        })
        .collect()
}

/// How a protected track is encrypted, from its init segment.
#[derive(Debug, Clone)]
pub(super) struct TrackEncryption {
    pub(super) scheme: Scheme,
    pub(super) kid: [u8; 16],
    pub(super) iv_size: usize,
    pub(super) constant_iv: Option<[u8; 16]>,
    pub(super) pattern: (u8, u8),
}

/// Reads `schm` and `tenc` of the (only) track of an fMP4 file.
pub(super) fn track_encryption(data: &[u8]) -> TrackEncryption {
    protection_of(data).expect("a protected sample entry with schm")
}

/// `schm` and `tenc` of the (only) track of an fMP4 file; `None` when it is clear.
pub(super) fn protection_of(data: &[u8]) -> Option<TrackEncryption> {
    let top = children(data, 0, data.len());
    let stsd = find(
        data,
        &top,
        &[b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"],
    )
    .expect("an stsd");
    let entries = children(data, stsd.start + stsd.header + 8, stsd.start + stsd.size);
    let schm = find(data, &entries, &[b"encv", b"sinf", b"schm"])
        .or_else(|| find(data, &entries, &[b"enca", b"sinf", b"schm"]))?;
    let tenc = find(data, &entries, &[b"encv", b"sinf", b"schi", b"tenc"])
        .or_else(|| find(data, &entries, &[b"enca", b"sinf", b"schi", b"tenc"]))
        .expect("a tenc");
    let s = schm.body(data);
    let scheme = match &s[4..8] {
        b"cenc" => Scheme::Cenc,
        b"cbcs" => Scheme::Cbcs,
        other => panic!("scheme {:?}", String::from_utf8_lossy(other)),
    };
    let t = tenc.body(data);
    let version = t[0];
    let pattern = if version >= 1 {
        (t[5] >> 4, t[5] & 0xf)
    } else {
        (0, 0)
    };
    assert_eq!(t[6], 1, "default_isProtected");
    let iv_size = usize::from(t[7]);
    let mut kid = [0u8; 16];
    kid.copy_from_slice(&t[8..24]);
    let constant_iv = (iv_size == 0).then(|| {
        let n = usize::from(t[24]);
        let mut iv = [0u8; 16];
        iv[..n].copy_from_slice(&t[25..25 + n]);
        iv
    });
    Some(TrackEncryption {
        scheme,
        kid,
        iv_size,
        constant_iv,
        pattern,
    })
}

/// What decrypting a file found.
pub(super) struct Decrypted {
    /// Every sample in decode order, decrypted.
    pub(super) samples: Vec<Vec<u8>>,
    /// Samples that were encrypted (had a `senc` entry).
    pub(super) encrypted: usize,
    /// Each sample's `senc` subsamples (none for a clear sample or a whole-sample one).
    pub(super) subsamples: Vec<Vec<Subsample>>,
}

/// Decrypts every sample of a fragmented MP4 (an init segment followed by fragments, in
/// one file) with `decrypt_sample`, reading `tfhd`, `trun` and `senc` by hand. Fragments
/// without `senc` (a clear lead), and every fragment of a clear track, are taken as they
/// are.
pub(super) fn decrypt_fragments(data: &[u8], key: &[u8; 16]) -> Decrypted {
    let enc = protection_of(data);
    let mut samples = Vec::new();
    let mut subsamples = Vec::new();
    let mut encrypted = 0;
    for moof in children(data, 0, data.len())
        .into_iter()
        .filter(|b| &b.kind == b"moof")
    {
        let inner = children(data, moof.start + 8, moof.start + moof.size);
        let traf = inner.iter().find(|b| &b.kind == b"traf").expect("a traf");
        let boxes = children(data, traf.start + 8, traf.start + traf.size);
        let get = |k: &[u8; 4]| boxes.iter().find(|b| &b.kind == k).map(|b| b.body(data));
        let tfhd = get(b"tfhd").expect("tfhd");
        let tf_flags = be32(tfhd, 0) & 0xff_ffff;
        let mut at = 8;
        let mut base = moof.start as u64;
        if tf_flags & 0x1 != 0 {
            base = be64(tfhd, at);
            at += 8;
        }
        // A fragment that names sample entry 2 is clear (the clear lead).
        let mut clear_entry = false;
        if tf_flags & 0x2 != 0 {
            clear_entry = be32(tfhd, at) == 2;
            at += 4;
        }
        if tf_flags & 0x8 != 0 {
            at += 4;
        }
        let default_size = (tf_flags & 0x10 != 0).then(|| be32(tfhd, at));
        let trun = get(b"trun").expect("trun");
        let tr_flags = be32(trun, 0) & 0xff_ffff;
        let count = be32(trun, 4) as usize;
        let mut at = 8;
        let mut offset = base;
        if tr_flags & 0x1 != 0 {
            offset = (base as i64 + i64::from(be32(trun, at) as i32)) as u64;
            at += 4;
        }
        if tr_flags & 0x4 != 0 {
            at += 4;
        }
        let mut sizes = Vec::with_capacity(count);
        for _ in 0..count {
            if tr_flags & 0x100 != 0 {
                at += 4;
            }
            let size = if tr_flags & 0x200 != 0 {
                let s = be32(trun, at);
                at += 4;
                s
            } else {
                default_size.expect("a sample size")
            };
            sizes.push(size as usize);
            if tr_flags & 0x400 != 0 {
                at += 4;
            }
            if tr_flags & 0x800 != 0 {
                at += 4;
            }
        }
        // Per sample: its IV and subsamples, or `None` for a clear sample.
        let mut entries: Vec<Option<([u8; 16], Vec<Subsample>)>> = vec![None; count];
        if let (None, Some(enc)) = (get(b"senc"), &enc) {
            // No sample auxiliary information: the samples are clear when the fragment
            // takes the clear sample entry (a clear lead), and otherwise encrypted whole
            // with the track's defaults, which takes a constant IV (cbcs audio).
            if !clear_entry {
                let iv = enc
                    .constant_iv
                    .expect("a protected fragment without senc and without a constant IV");
                entries = vec![Some((iv, Vec::new())); count];
            }
        }
        if let (Some(senc), Some(enc)) = (get(b"senc"), &enc) {
            let flags = be32(senc, 0) & 0xff_ffff;
            assert_eq!(
                be32(senc, 4) as usize,
                count,
                "senc entries per trun sample"
            );
            let mut at = 8;
            for entry in entries.iter_mut() {
                let mut iv = enc.constant_iv.unwrap_or([0; 16]);
                if enc.iv_size > 0 {
                    iv = [0; 16];
                    iv[..enc.iv_size].copy_from_slice(&senc[at..at + enc.iv_size]);
                    assert!(
                        enc.scheme != Scheme::Cenc || iv[8..] == [0; 8],
                        "a 16-byte cenc IV with a non-zero low half: decrypt_sample counts blocks in the low 8 bytes from 0"
                    );
                    at += enc.iv_size;
                }
                let mut subs = Vec::new();
                if flags & 0x2 != 0 {
                    let n = be16(senc, at);
                    at += 2;
                    for _ in 0..n {
                        subs.push(Subsample {
                            clear: be16(senc, at),
                            protected: be32(senc, at + 2),
                        });
                        at += 6;
                    }
                }
                *entry = Some((iv, subs));
            }
        }
        let mut pos = offset as usize;
        for (i, size) in sizes.into_iter().enumerate() {
            let mut sample = data[pos..pos + size].to_vec();
            pos += size;
            if let (Some((iv, subs)), Some(enc)) = (&entries[i], &enc) {
                decrypt_sample(enc.scheme, key, iv, enc.pattern, &mut sample, subs)
                    .expect("the senc subsamples fit the sample");
                encrypted += 1;
            }
            samples.push(sample);
            subsamples.push(entries[i].take().map(|(_, subs)| subs).unwrap_or_default());
        }
    }
    Decrypted {
        samples,
        encrypted,
        subsamples,
    }
}

/// The samples of the first track of `kind` in an MP4 file (any layout), in decode
/// order, read with openvod's reader.
pub(super) fn source_samples(path: &Path, kind: openvod_media::TrackKind) -> Vec<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let tracks = openvod_transcode::package::read_mp4(path).unwrap();
    let track = tracks
        .iter()
        .find(|t| t.kind == kind)
        .unwrap_or_else(|| panic!("{}: no {kind:?} track", path.display()));
    let file = std::fs::File::open(path).unwrap();
    track
        .samples
        .iter()
        .map(|s| {
            let mut buf = vec![0u8; s.size as usize];
            file.read_exact_at(&mut buf, s.offset).unwrap();
            buf
        })
        .collect()
}

/// Compares sample lists, naming the first difference.
pub(super) fn assert_same_samples(got: &[Vec<u8>], want: &[Vec<u8>], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: sample count");
    if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
        let first = got[i]
            .iter()
            .zip(&want[i])
            .position(|(a, b)| a != b)
            .unwrap_or(got[i].len().min(want[i].len()));
        panic!(
            "{what}: sample {i} differs ({} bytes against {}), first at byte {first}",
            got[i].len(),
            want[i].len()
        );
    }
}
