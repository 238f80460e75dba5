//! `openvod package --encrypt`: raw-key CENC (`cenc`, `cbcs`) and HLS AES-128, checked
//! against independent decrypters: ffmpeg (`-decryption_key`, and its HLS AES-128
//! support) and Shaka Packager (raw-key encryption and decryption), with the clear
//! output and the source samples as the reference.
//!
//! Shaka Packager is the npm package `shaka-packager` (3.4), installed into
//! `$HOME/.cache/openvod/shaka-packager` by `scripts/setup.sh` (`need_shaka_packager`)
//! or by these tests when missing; `SHAKA_PACKAGER=/path/to/packager` uses another
//! binary. When it cannot be had, its tests fail under `CI=true` and are skipped loudly
//! otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::common::*;
use openvod_media::crypt::{decrypt_sample, Scheme, Subsample};

const KID: &str = "0123456789abcdef0123456789abcdef";
const KEY: &str = "00112233445566778899aabbccddeeff";
const WRONG_KEY: &str = "00112233445566778899aabbccddeefe";
const KEY_ARG: &str = "0123456789abcdef0123456789abcdef:00112233445566778899aabbccddeeff";

fn key_bytes(hex: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// Two H.264 renditions with aligned 1 s GOPs (so 2 s segments of 1 s fragments), each
/// with the same AAC track: `hi` (640x360) and `lo` (320x180), 6 s.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let gop = ["-g", "25", "-keyint_min", "25", "-sc_threshold", "0"];
    vec![
        make_source(dir, "hi.mp4", "640x360", 25, 6, true, &gop),
        make_source(dir, "lo.mp4", "320x180", 25, 6, true, &gop),
    ]
}

/// Runs `openvod package INPUTS --out DIR/NAME --segment 2 --fragment 1 EXTRA...`;
/// returns the output folder and the command's stdout.
fn package(dir: &Path, name: &str, inputs: &[PathBuf], extra: &[&str]) -> (PathBuf, String) {
    let out = dir.join(name);
    let mut args = vec!["package"];
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    args.extend([
        "--out",
        out.to_str().unwrap(),
        "--segment",
        "2",
        "--fragment",
        "1",
    ]);
    args.extend(extra);
    let r = openvod(&args);
    assert_ok(&r, &format!("openvod {args:?}"));
    let stdout = String::from_utf8_lossy(&r.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&r.stderr);
    for text in [stdout.as_str(), &stderr] {
        assert_no_key(text, "openvod's output");
    }
    (out.canonicalize().unwrap(), stdout)
}

/// The key must never show in anything openvod prints.
fn assert_no_key(text: &str, what: &str) {
    let lower = text.to_ascii_lowercase();
    assert!(
        !lower.contains(KEY),
        "{what} shows the content key:\n{text}"
    );
}

/// `ffmpeg [PRE] -i INPUT -map 0 -f framemd5 -`: one line per decoded frame of every
/// stream (stream, dts, pts, duration, size, MD5 of the decoded frame), or ffmpeg's
/// error output when it fails. Playlists are opened by path.
fn framemd5(input: &Path, pre: &[&str]) -> Result<Vec<String>, String> {
    run_framemd5(pre, input.as_os_str(), None)
}

/// [`framemd5`] of a file fed through a pipe, read front to back as a player appends
/// segments. ffmpeg 5.1 cannot decrypt a seekable file of several segments, each with
/// its own `sidx`: it reads every `moof` up front until a `sidx` reaches the end of the
/// file, and then decrypts every sample with the sample auxiliary information of the
/// last `moof` it read (its `cenc_filter` looks the fragment up by
/// `frag_index.current`; later versions look it up from the packet's position). Read
/// from a pipe it stops at each `moof` in turn.
fn framemd5_piped(input: &Path, pre: &[&str]) -> Result<Vec<String>, String> {
    let file = std::fs::File::open(input).unwrap();
    run_framemd5(pre, std::ffi::OsStr::new("pipe:0"), Some(file))
}

fn run_framemd5(
    pre: &[&str],
    input: &std::ffi::OsStr,
    stdin: Option<std::fs::File>,
) -> Result<Vec<String>, String> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-v", "error", "-nostdin"])
        .args(pre)
        .arg("-i")
        .arg(input)
        .args(["-map", "0", "-f", "framemd5", "-"]);
    if let Some(f) = stdin {
        // -nostdin only stops ffmpeg reading commands from the terminal; pipe:0 still
        // reads the file.
        cmd.stdin(f);
    }
    let out = cmd.output().expect("ffmpeg runs");
    if !out.status.success() {
        return Err(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    if lines.is_empty() {
        return Err(format!(
            "no frames decoded: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(lines)
}

/// The MD5 column of framemd5 lines (what the decoded pictures and sound are, without
/// timestamps).
fn hashes(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l.rsplit(',').next())
        .map(|h| h.trim().to_string())
        .collect()
}

// --- ISO-BMFF reading, by hand -----------------------------------------------------------

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes(b[at..at + 2].try_into().unwrap())
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

/// A box: its type, where it starts, its header length and total size.
#[derive(Debug, Clone, Copy)]
struct BoxAt {
    kind: [u8; 4],
    start: usize,
    header: usize,
    size: usize,
}

impl BoxAt {
    fn body<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        &data[self.start + self.header..self.start + self.size]
    }
}

/// The boxes in `data[from..to]`, one level.
fn children(data: &[u8], from: usize, to: usize) -> Vec<BoxAt> {
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
fn child_offset(kind: &[u8; 4]) -> Option<usize> {
    match kind {
        b"moov" | b"trak" | b"mdia" | b"minf" | b"stbl" | b"dinf" | b"mvex" | b"moof" | b"traf"
        | b"sinf" | b"schi" | b"edts" => Some(0),
        b"stsd" => Some(8),
        b"encv" | b"avc1" | b"avc3" | b"hvc1" | b"hev1" => Some(78),
        b"enca" | b"mp4a" => Some(28),
        _ => None,
    }
}

/// Every box of a file, depth first, as slash-separated paths (`moov/trak/.../tenc`).
fn box_paths(data: &[u8]) -> Vec<String> {
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
fn find(data: &[u8], within: &[BoxAt], path: &[&[u8; 4]]) -> Option<BoxAt> {
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
fn sequence_numbers(data: &[u8]) -> Vec<u32> {
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
struct TrackEncryption {
    scheme: Scheme,
    kid: [u8; 16],
    iv_size: usize,
    constant_iv: Option<[u8; 16]>,
    pattern: (u8, u8),
}

/// Reads `schm` and `tenc` of the (only) track of an fMP4 file.
fn track_encryption(data: &[u8]) -> TrackEncryption {
    protection_of(data).expect("a protected sample entry with schm")
}

/// `schm` and `tenc` of the (only) track of an fMP4 file; `None` when it is clear.
fn protection_of(data: &[u8]) -> Option<TrackEncryption> {
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
struct Decrypted {
    /// Every sample in decode order, decrypted.
    samples: Vec<Vec<u8>>,
    /// Samples that were encrypted (had a `senc` entry).
    encrypted: usize,
}

/// Decrypts every sample of a fragmented MP4 (an init segment followed by fragments, in
/// one file) with `decrypt_sample`, reading `tfhd`, `trun` and `senc` by hand. Fragments
/// without `senc` (a clear lead), and every fragment of a clear track, are taken as they
/// are.
fn decrypt_fragments(data: &[u8], key: &[u8; 16]) -> Decrypted {
    let enc = protection_of(data);
    let mut samples = Vec::new();
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
        }
    }
    Decrypted { samples, encrypted }
}

/// The samples of the first track of `kind` in an MP4 file (any layout), in decode
/// order, read with openvod's reader.
fn source_samples(path: &Path, kind: openvod_media::TrackKind) -> Vec<Vec<u8>> {
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
fn assert_same_samples(got: &[Vec<u8>], want: &[Vec<u8>], what: &str) {
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

// --- Shaka Packager ---------------------------------------------------------------------

/// The Shaka Packager binary, installed with npm when missing; `Err` says why not.
fn shaka_packager() -> Result<PathBuf, String> {
    static SHAKA: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    SHAKA
        .get_or_init(|| {
            if let Ok(p) = std::env::var("SHAKA_PACKAGER") {
                let p = PathBuf::from(p);
                return if p.is_file() {
                    Ok(p)
                } else {
                    Err(format!("SHAKA_PACKAGER={} does not exist", p.display()))
                };
            }
            let arch = match std::env::consts::ARCH {
                "x86_64" => "x64",
                "aarch64" => "arm64",
                other => return Err(format!("no prebuilt Shaka Packager for {other}")),
            };
            let home = std::env::var("HOME").map_err(|_| "HOME is not set".to_string())?;
            let prefix = PathBuf::from(home).join(".cache/openvod/shaka-packager");
            let bin = prefix.join(format!(
                "node_modules/shaka-packager/bin/packager-linux-{arch}"
            ));
            if !bin.is_file() {
                eprintln!("installing shaka-packager@3.4 into {}...", prefix.display());
                std::fs::create_dir_all(&prefix).map_err(|e| e.to_string())?;
                let out = Command::new("npm")
                    .args([
                        "install",
                        "--no-audit",
                        "--no-fund",
                        "--no-update-notifier",
                        "--prefix",
                    ])
                    .arg(&prefix)
                    .arg("shaka-packager@3.4")
                    .output()
                    .map_err(|e| {
                        format!(
                            "npm does not run ({e}); run scripts/setup.sh's need_shaka_packager"
                        )
                    })?;
                if !out.status.success() {
                    return Err(format!(
                        "npm install shaka-packager failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
            }
            let version = Command::new(&bin)
                .arg("--version")
                .output()
                .map_err(|e| format!("{} does not run: {e}", bin.display()))?;
            if !version.status.success() {
                return Err(format!("{} --version failed", bin.display()));
            }
            Ok(bin)
        })
        .clone()
}

/// Shaka Packager, or `None` after a loud skip (a failure under `CI=true`).
fn shaka_or_skip(test: &str) -> Option<PathBuf> {
    match shaka_packager() {
        Ok(p) => Some(p),
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{test}: Shaka Packager is required in CI: {why}")
        }
        Err(why) => {
            eprintln!("\n*** SKIPPED: {test}: Shaka Packager is not available: {why} ***\n");
            None
        }
    }
}

fn run_shaka(bin: &Path, args: &[String]) {
    let out = Command::new(bin)
        .args(args)
        .arg("--quiet")
        .output()
        .expect("Shaka Packager runs");
    assert!(
        out.status.success(),
        "packager {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn shaka_key_args() -> String {
    format!("label=:key_id={KID}:key={KEY}")
}

// --- Tests -------------------------------------------------------------------------------

#[test]
fn cenc_output_decrypts_in_ffmpeg_to_the_clear_frames() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = sources(dir.path());
    let (out, stdout) = package(
        dir.path(),
        "out",
        &inputs,
        &["--clear", "--encrypt", "cenc", "--key", KEY_ARG, "--json"],
    );
    assert_eq!(
        entries(&out),
        vec![
            "cenc",
            "hi",
            "hi_audio",
            "lo",
            "manifest.mpd",
            "master.m3u8"
        ]
    );
    let cenc = out.join("cenc");
    assert_eq!(
        entries(&cenc),
        vec!["hi", "hi_audio", "lo", "manifest.mpd", "master.m3u8"]
    );
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let copies = json["outputs"].as_array().expect("outputs in --json");
    assert_eq!(copies.len(), 2);
    assert_eq!(copies[1]["folder"], "cenc");
    assert_eq!(copies[1]["kid"], "01234567-89ab-cdef-0123-456789abcdef");

    let key = key_bytes(KEY);
    for name in ["hi", "hi_audio", "lo"] {
        let clear = concat_rendition(&out, name, dir.path());
        let sealed_dir = dir.path().join("cenc-cat");
        std::fs::create_dir_all(&sealed_dir).unwrap();
        let sealed = concat_rendition(&cenc, name, &sealed_dir);

        // The init segment is protected and signals every default DRM system.
        let init = std::fs::read(cenc.join(name).join("init.mp4")).unwrap();
        let paths = box_paths(&init);
        let entry = if name.ends_with("audio") {
            "enca"
        } else {
            "encv"
        };
        let stsd = "moov/trak/mdia/minf/stbl/stsd";
        for p in [
            format!("{stsd}/{entry}"),
            format!("{stsd}/{entry}/sinf/frma"),
            format!("{stsd}/{entry}/sinf/schm"),
            format!("{stsd}/{entry}/sinf/schi/tenc"),
        ] {
            assert!(paths.contains(&p), "{name}/init.mp4 has no {p}: {paths:?}");
        }
        assert_eq!(
            paths.iter().filter(|p| *p == "moov/pssh").count(),
            3,
            "pssh of widevine, playready, clearkey in {name}/init.mp4: {paths:?}"
        );
        let enc = track_encryption(&init);
        assert_eq!(enc.scheme, Scheme::Cenc);
        assert_eq!(enc.kid, key_bytes(KID));
        assert_eq!(enc.iv_size, 8);

        // Every media segment is encrypted and differs from the clear one.
        let segments: Vec<String> = entries(&cenc.join(name))
            .into_iter()
            .filter(|f| f.ends_with(".m4s"))
            .collect();
        assert_eq!(segments.len(), 3, "{name}: 6 s in 2 s segments");
        for seg in &segments {
            let sealed = std::fs::read(cenc.join(name).join(seg)).unwrap();
            let plain = std::fs::read(out.join(name).join(seg)).unwrap();
            assert_ne!(sealed, plain, "{name}/{seg} is not encrypted");
            let paths = box_paths(&sealed);
            for p in ["moof/traf/senc", "moof/traf/saiz", "moof/traf/saio", "mdat"] {
                assert!(paths.contains(&p.to_string()), "{name}/{seg}: no {p}");
            }
            // The same fragments as the clear segment, numbered alike.
            assert_eq!(
                sequence_numbers(&sealed),
                sequence_numbers(&plain),
                "{name}/{seg}: mfhd sequence numbers"
            );
        }
        let mut all = Vec::new();
        for seg in 1..=segments.len() {
            all.extend(sequence_numbers(
                &std::fs::read(cenc.join(name).join(format!("{seg}.m4s"))).unwrap(),
            ));
        }
        assert_eq!(
            all,
            (1..=all.len() as u32).collect::<Vec<_>>(),
            "{name}: mfhd sequence numbers count up from 1"
        );
        // The key itself is in no file of the encrypted copy.
        let sealed_bytes = std::fs::read(&sealed).unwrap();
        assert!(
            !sealed_bytes.windows(16).any(|w| w == key),
            "{name}: the content key is written into the output"
        );

        // ffmpeg decrypts it to exactly the clear frames; a wrong key does not.
        let want = framemd5_piped(&clear, &[]).unwrap();
        let got = framemd5_piped(&sealed, &["-decryption_key", KEY])
            .unwrap_or_else(|e| panic!("ffmpeg cannot decrypt {name}: {e}"));
        assert_eq!(
            got, want,
            "{name}: decrypted frames differ from the clear ones"
        );
        let wrong = framemd5_piped(&sealed, &["-decryption_key", WRONG_KEY]);
        assert!(
            wrong.as_ref().map_or(true, |w| hashes(w) != hashes(&want)),
            "{name}: a wrong key decodes to the clear frames"
        );
        // And openvod's own reading of the senc boxes agrees with the source samples.
        let kind = if name.ends_with("audio") {
            openvod_media::TrackKind::Audio
        } else {
            openvod_media::TrackKind::Video
        };
        let source = if name == "lo" { &inputs[1] } else { &inputs[0] };
        let d = decrypt_fragments(&sealed_bytes, &key);
        assert_eq!(
            d.encrypted,
            d.samples.len(),
            "{name}: every sample encrypted"
        );
        assert_same_samples(&d.samples, &source_samples(source, kind), name);
    }
}

/// The clear lead as openvod writes it: the init segment has a second, clear sample
/// entry, and clear fragments select it with `tfhd` `sample_description_index` = 2 and
/// carry no `senc` (the layout Shaka Packager writes too). Checked with this file's
/// reader and with ffmpeg, which decodes it to the clear frames.
#[test]
fn clear_lead_leaves_the_first_segment_clear_and_still_decrypts() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = sources(dir.path());
    let (out, _) = package(
        dir.path(),
        "out",
        &inputs[..1],
        &[
            "--encrypt",
            "cenc,cbcs",
            "--key",
            KEY_ARG,
            "--clear-lead",
            "2",
            "--drm-systems",
            "widevine,fairplay",
        ],
    );
    // No --clear: only the encrypted copies.
    assert_eq!(entries(&out), vec!["cbcs", "cenc"]);
    let key = key_bytes(KEY);
    for scheme in ["cenc", "cbcs"] {
        let root = out.join(scheme);
        let cat_dir = dir.path().join(scheme);
        std::fs::create_dir_all(&cat_dir).unwrap();
        let sealed = concat_rendition(&root, "hi", &cat_dir);
        let bytes = std::fs::read(&sealed).unwrap();
        let d = decrypt_fragments(&bytes, &key);
        let source = source_samples(&inputs[0], openvod_media::TrackKind::Video);
        // 2 s of 25 fps video stay clear.
        assert_eq!(
            d.samples.len() - d.encrypted,
            50,
            "{scheme}: clear lead samples"
        );
        assert_same_samples(&d.samples, &source, scheme);
        let first = box_paths(&std::fs::read(root.join("hi/1.m4s")).unwrap());
        assert!(!first.contains(&"moof/traf/senc".to_string()), "{first:?}");
        // ffmpeg, which knows nothing of clear leads, decodes the clear segments through
        // the clear sample entry and decrypts the rest: the frames are the clear ones.
        let clear_cat = dir.path().join(format!("{scheme}-clear"));
        std::fs::create_dir_all(&clear_cat).unwrap();
        let plain = package(dir.path(), &format!("plain-{scheme}"), &inputs[..1], &[]).0;
        let want = framemd5_piped(&concat_rendition(&plain, "hi", &clear_cat), &[]).unwrap();
        let got = framemd5_piped(&sealed, &["-decryption_key", KEY])
            .unwrap_or_else(|e| panic!("{scheme}: ffmpeg cannot decode the clear lead: {e}"));
        assert_eq!(got, want, "{scheme}: frames with a clear lead");
        // The pssh of the systems asked for: Widevine; FairPlay (cbcs only) has none but
        // an skd:// key line.
        let init = box_paths(&std::fs::read(root.join("hi/init.mp4")).unwrap());
        assert_eq!(init.iter().filter(|p| *p == "moov/pssh").count(), 1);
        let playlist = std::fs::read_to_string(root.join("hi/index.m3u8")).unwrap();
        assert_eq!(
            playlist.contains("skd://"),
            scheme == "cbcs",
            "{scheme}: {playlist}"
        );
    }
}

#[test]
fn cbcs_output_decrypts_to_the_source_samples() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = sources(dir.path());
    let (out, _) = package(
        dir.path(),
        "out",
        &inputs[..1],
        &["--clear", "--encrypt", "cbcs", "--key", KEY_ARG],
    );
    let cbcs = out.join("cbcs");
    let key = key_bytes(KEY);
    for (name, kind, pattern) in [
        ("hi", openvod_media::TrackKind::Video, (1, 9)),
        ("hi_audio", openvod_media::TrackKind::Audio, (0, 0)),
    ] {
        let cat_dir = dir.path().join("cbcs-cat");
        std::fs::create_dir_all(&cat_dir).unwrap();
        let sealed = concat_rendition(&cbcs, name, &cat_dir);
        let bytes = std::fs::read(&sealed).unwrap();
        let enc = track_encryption(&bytes);
        assert_eq!(
            (enc.scheme, enc.iv_size, enc.pattern),
            (Scheme::Cbcs, 0, pattern),
            "{name}: cbcs signalling"
        );
        assert!(enc.constant_iv.is_some());
        let d = decrypt_fragments(&bytes, &key);
        assert_eq!(d.encrypted, d.samples.len());
        let source = source_samples(&inputs[0], kind);
        assert_same_samples(&d.samples, &source, name);
        // The encrypted samples differ from the clear ones.
        let raw = {
            let clear_cat = concat_rendition(&out, name, dir.path());
            std::fs::read(clear_cat).unwrap()
        };
        assert_ne!(raw.len(), 0);
        let undecrypted = decrypt_fragments(&bytes, &key_bytes(WRONG_KEY));
        assert!(
            undecrypted.samples != source,
            "{name}: a wrong key gives the source samples"
        );
        // ffmpeg 5.1 decrypts cbcs too: the decoded frames are the clear ones.
        let clear = concat_rendition(&out, name, dir.path());
        let want = framemd5_piped(&clear, &[]).unwrap();
        let got = framemd5_piped(&sealed, &["-decryption_key", KEY])
            .unwrap_or_else(|e| panic!("ffmpeg cannot decrypt cbcs {name}: {e}"));
        assert_eq!(got, want, "{name}: ffmpeg's cbcs decryption");
    }
}

#[test]
fn shaka_packager_agrees_on_cenc_and_cbcs() {
    let Some(shaka) = shaka_or_skip("shaka_packager_agrees_on_cenc_and_cbcs") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // One track per file, each with track_ID 1: Shaka Packager 3.4.2 crashes
    // (SIGSEGV) reading a fragmented MP4 whose only track has another track_ID, and
    // openvod keeps the source's track_ID (the audio of a video file is track 2).
    let video = make_source(
        dir.path(),
        "v.mp4",
        "640x360",
        25,
        6,
        false,
        &["-g", "25", "-keyint_min", "25", "-sc_threshold", "0"],
    );
    let audio = dir.path().join("a.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=6",
        "-c:a",
        "aac",
        audio.to_str().unwrap(),
    ]);
    let key = key_bytes(KEY);
    let (out, _) = package(
        dir.path(),
        "out",
        &[video.clone(), audio.clone()],
        &["--clear", "--encrypt", "cenc,cbcs", "--key", KEY_ARG],
    );
    // The clear renditions as single fragmented MP4 files: Shaka's input, and the
    // reference samples. openvod copies the source samples (without the AAC priming
    // frame the source's edit list skips).
    let mut clear = Vec::new();
    for (name, source, kind) in [
        ("v", &video, openvod_media::TrackKind::Video),
        ("a", &audio, openvod_media::TrackKind::Audio),
    ] {
        let file = concat_rendition(&out, name, dir.path());
        let samples = decrypt_fragments(&std::fs::read(&file).unwrap(), &key).samples;
        assert_same_samples(
            &samples,
            &source_samples(source, kind),
            &format!("clear {name}"),
        );
        clear.push((name, file, samples));
    }
    let cat = |scheme: &str, name: &str| {
        let d = dir.path().join(format!("cat-{scheme}"));
        std::fs::create_dir_all(&d).unwrap();
        concat_rendition(&out.join(scheme), name, &d)
    };

    for (name, clear_file, want) in &clear {
        let stream = if *name == "a" { "audio" } else { "video" };
        // 1. Shaka encrypts the clear rendition with the same raw key (cenc with a fixed
        //    8-byte IV, and cbcs); the decrypter these tests use on openvod's output
        //    (decrypt_sample over senc read by hand) recovers the clear samples from it.
        for (scheme, iv) in [
            ("cenc", "0011223344556677"),
            ("cbcs", "00112233445566778899aabbccddeeff"),
        ] {
            let output = dir.path().join(format!("shaka-{scheme}-{name}.mp4"));
            run_shaka(
                &shaka,
                &[
                    format!(
                        "in={},stream={stream},output={}",
                        clear_file.display(),
                        output.display()
                    ),
                    "--enable_raw_key_encryption".into(),
                    "--keys".into(),
                    shaka_key_args(),
                    "--protection_scheme".into(),
                    scheme.into(),
                    "--iv".into(),
                    iv.into(),
                    "--clear_lead".into(),
                    "0".into(),
                ],
            );
            let bytes = std::fs::read(&output).unwrap();
            let enc = track_encryption(&bytes);
            assert_eq!(enc.kid, key_bytes(KID), "Shaka {scheme} {name}: KID");
            let d = decrypt_fragments(&bytes, &key);
            assert_eq!(
                d.encrypted,
                d.samples.len(),
                "Shaka {scheme} {name}: every sample encrypted"
            );
            assert_same_samples(&d.samples, want, &format!("Shaka {scheme} {name}"));

            // 2. openvod's output of the same scheme, decrypted the same way, gives the
            //    same samples.
            let ours = std::fs::read(cat(scheme, name)).unwrap();
            let d = decrypt_fragments(&ours, &key);
            assert_eq!(d.encrypted, d.samples.len());
            assert_same_samples(&d.samples, want, &format!("openvod {scheme} {name}"));
        }

        // 3. Shaka decrypts openvod's cenc and cbcs output (raw-key decryption) to the
        //    clear samples; with a wrong key it does not.
        for scheme in ["cenc", "cbcs"] {
            let input = cat(scheme, name);
            let output = dir
                .path()
                .join(format!("{scheme}-{name}.shaka-decrypted.mp4"));
            run_shaka(
                &shaka,
                &[
                    format!(
                        "in={},stream={stream},output={}",
                        input.display(),
                        output.display()
                    ),
                    "--enable_raw_key_decryption".into(),
                    "--keys".into(),
                    shaka_key_args(),
                ],
            );
            let bytes = std::fs::read(&output).unwrap();
            assert!(
                protection_of(&bytes).is_none(),
                "Shaka's decryption of {scheme} {name} is still protected"
            );
            assert!(
                !box_paths(&bytes).iter().any(|p| p.ends_with("senc")),
                "Shaka's decryption of {scheme} {name} still has senc"
            );
            let got = decrypt_fragments(&bytes, &key).samples;
            assert_same_samples(
                &got,
                want,
                &format!("Shaka-decrypted openvod {scheme} {name}"),
            );

            let wrong = dir.path().join(format!("{scheme}-{name}.wrong.mp4"));
            let r = Command::new(&shaka)
                .arg(format!(
                    "in={},stream={stream},output={}",
                    input.display(),
                    wrong.display()
                ))
                .args(["--enable_raw_key_decryption", "--keys"])
                .arg(format!("label=:key_id={KID}:key={WRONG_KEY}"))
                .arg("--quiet")
                .output()
                .unwrap();
            if r.status.success() {
                let got = decrypt_fragments(&std::fs::read(&wrong).unwrap(), &key).samples;
                assert!(
                    got != *want,
                    "Shaka with a wrong key gives the clear samples of {scheme} {name}"
                );
            }
        }
    }
}

#[test]
fn hls_aes128_decodes_in_ffmpeg_to_the_clear_frames() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = sources(dir.path());
    let (out, stdout) = package(
        dir.path(),
        "out",
        &inputs,
        &["--clear", "--encrypt", "aes-128", "--key", KEY_ARG],
    );
    let aes = out.join("aes128");
    // HLS only (no DASH, no I-frame playlists), and the key beside the renditions.
    assert_eq!(
        entries(&aes),
        vec!["hi", "hi_audio", "key.bin", "lo", "master.m3u8"]
    );
    assert!(stdout.contains("aes128/key.bin"), "{stdout}");
    assert_eq!(std::fs::read(aes.join("key.bin")).unwrap(), key_bytes(KEY));
    let playlist = std::fs::read_to_string(aes.join("hi/index.m3u8")).unwrap();
    assert!(
        playlist.contains("#EXT-X-KEY:METHOD=AES-128,URI=\"../key.bin\""),
        "{playlist}"
    );
    assert!(!aes.join("hi/iframes.m3u8").exists());
    for name in ["hi", "hi_audio", "lo"] {
        let sealed = std::fs::read(aes.join(name).join("1.m4s")).unwrap();
        let plain = std::fs::read(out.join(name).join("1.m4s")).unwrap();
        assert_eq!(sealed.len(), (plain.len() / 16 + 1) * 16, "PKCS#7 padding");
        assert_ne!(&sealed[4..8], b"styp", "{name}/1.m4s is not encrypted");
    }

    let pre = ["-allowed_extensions", "ALL"];
    for (what, clear, sealed) in [
        ("master", out.join("master.m3u8"), aes.join("master.m3u8")),
        ("hi", out.join("hi/index.m3u8"), aes.join("hi/index.m3u8")),
        (
            "hi_audio",
            out.join("hi_audio/index.m3u8"),
            aes.join("hi_audio/index.m3u8"),
        ),
    ] {
        let want = framemd5(&clear, &pre).unwrap();
        let got = framemd5(&sealed, &pre)
            .unwrap_or_else(|e| panic!("ffmpeg cannot play the AES-128 {what}: {e}"));
        assert_eq!(
            got, want,
            "{what}: AES-128 frames differ from the clear ones"
        );
    }

    // With a wrong key in key.bin, ffmpeg fails or decodes other frames.
    std::fs::write(aes.join("key.bin"), key_bytes(WRONG_KEY)).unwrap();
    let want = framemd5(&out.join("hi/index.m3u8"), &pre).unwrap();
    let wrong = framemd5(&aes.join("hi/index.m3u8"), &pre);
    assert!(
        wrong.as_ref().map_or(true, |w| hashes(w) != hashes(&want)),
        "a wrong AES-128 key decodes to the clear frames"
    );
}

#[test]
fn key_uri_and_iv_flags() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = sources(dir.path());
    // Another key URI: written into the playlists, and no key file.
    let (out, _) = package(
        dir.path(),
        "uri",
        &inputs[..1],
        &[
            "--encrypt",
            "aes-128",
            "--key",
            KEY_ARG,
            "--key-uri",
            "https://keys.example/k/1",
        ],
    );
    let playlist = std::fs::read_to_string(out.join("aes128/hi/index.m3u8")).unwrap();
    assert!(
        playlist.contains("URI=\"https://keys.example/k/1\""),
        "{playlist}"
    );
    assert!(!out.join("aes128/key.bin").exists());

    // A fixed IV: cbcs uses it as the constant IV, cenc as the first sample's IV.
    let iv = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf";
    let r = openvod(&[
        "package",
        inputs[0].to_str().unwrap(),
        "--out",
        dir.path().join("iv").to_str().unwrap(),
        "--encrypt",
        "cbcs,cenc",
        "--key",
        KEY_ARG,
        "--iv",
        iv,
    ]);
    assert_ok(&r, "openvod package --iv");
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(stderr.contains("warning: --iv with cenc"), "{stderr}");
    let cbcs = track_encryption(&std::fs::read(dir.path().join("iv/cbcs/hi/init.mp4")).unwrap());
    assert_eq!(cbcs.constant_iv, Some(key_bytes(iv)));
    let seg = std::fs::read(dir.path().join("iv/cenc/hi/1.m4s")).unwrap();
    let top = children(&seg, 0, seg.len());
    let senc = find(&seg, &top, &[b"moof", b"traf", b"senc"]).unwrap();
    assert_eq!(senc.body(&seg)[8..16], key_bytes(iv)[..8]);

    // Without --iv the IVs differ per rendition and are stable from run to run.
    let run = |name: &str| {
        package(
            dir.path(),
            name,
            &inputs[..1],
            &["--encrypt", "cbcs", "--key", KEY_ARG],
        );
        let v = track_encryption(
            &std::fs::read(dir.path().join(name).join("cbcs/hi/init.mp4")).unwrap(),
        );
        let a = track_encryption(
            &std::fs::read(dir.path().join(name).join("cbcs/hi_audio/init.mp4")).unwrap(),
        );
        (v.constant_iv.unwrap(), a.constant_iv.unwrap())
    };
    let (v1, a1) = run("d1");
    let (v2, a2) = run("d2");
    assert_eq!((v1, a1), (v2, a2));
    assert_ne!(v1, a1);
}

#[test]
fn bad_encryption_flags_are_refused_without_showing_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_source(dir.path(), "in.mp4", "160x90", 25, 1, true, &[]);
    let out = dir.path().join("out");
    let cases: &[(&[&str], &str)] = &[
        (
            &["--encrypt", "cens", "--key", KEY_ARG],
            "unknown scheme \"cens\"",
        ),
        (&["--encrypt", "cenc"], "--key KID:KEY"),
        (&["--encrypt", "cenc", "--key", KEY], "KID:KEY"),
        (
            &[
                "--encrypt",
                "cenc",
                "--key",
                &format!("{KID}:{}", &KEY[..30]),
            ],
            "the key must be 32 hex digits (16 bytes), not 30 digits",
        ),
        (
            &[
                "--encrypt",
                "cenc",
                "--key",
                &format!("{KID}:{}x", &KEY[..31]),
            ],
            "the key must be 32 hex digits (16 bytes); character 32 is not a hex digit",
        ),
        (
            &[
                "--encrypt",
                "cenc",
                "--key",
                &format!("{}:{KEY}", &KID[..31]),
            ],
            "the KID must be 32 hex digits",
        ),
        (
            &["--encrypt", "cenc", "--key", KEY_ARG, "--iv", "00112233"],
            "--iv: must be 32 hex digits (16 bytes), not 8 digits",
        ),
        (
            &[
                "--encrypt",
                "cenc",
                "--key",
                KEY_ARG,
                "--drm-systems",
                "widevine,primetime",
            ],
            "unknown DRM system \"primetime\"",
        ),
        (
            &[
                "--encrypt",
                "cenc",
                "--key",
                KEY_ARG,
                "--drm-systems",
                "fairplay",
            ],
            "fairplay needs --encrypt cbcs",
        ),
        (
            &["--encrypt", "cenc", "--key", KEY_ARG, "--key-uri", "k.bin"],
            "--key-uri applies to --encrypt aes-128",
        ),
        (
            &["--encrypt", "aes-128", "--key", KEY_ARG, "--iv", KEY],
            "--iv applies to cenc and cbcs",
        ),
        (
            &["--encrypt", "cenc,cenc", "--key", KEY_ARG],
            "cenc is given twice",
        ),
        (
            &["--encrypt", "cenc", "--key", KEY_ARG, "--clear-lead=-1"],
            "--clear-lead",
        ),
        (
            &[
                "--encrypt",
                "aes-128",
                "--key",
                KEY_ARG,
                "--clear-lead",
                "4",
            ],
            "--clear-lead applies to cenc and cbcs",
        ),
        (&["--key", KEY_ARG], "--encrypt"),
    ];
    for (extra, want) in cases {
        let mut args = vec![
            "package",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let r = openvod(&args);
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success(), "{extra:?} was accepted");
        assert!(stderr.contains(want), "{extra:?}: {stderr}");
        for (what, text) in [
            ("stderr", &*stderr),
            ("stdout", &String::from_utf8_lossy(&r.stdout)),
        ] {
            assert_no_key(text, &format!("{extra:?} {what}"));
            // Nor a near miss of it (the cut and the mistyped keys above).
            assert!(
                !text.contains(&KEY[..30]),
                "{extra:?} {what} quotes the key: {text}"
            );
        }
        assert!(!out.exists(), "{extra:?} wrote output");
    }
}
