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

mod av1;
mod boxes;
mod shaka;

use boxes::*;
use openvod_media::crypt::{decrypt_sample, Scheme, Subsample};
use shaka::*;

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
        for (scheme, iv) in SHAKA_IVS {
            let output = dir.path().join(format!("shaka-{scheme}-{name}.mp4"));
            shaka_encrypt(&shaka, clear_file, stream, &output, scheme, iv);
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

/// HEVC: a NAL unit's header is two bytes (ISO/IEC 23008-2, 7.3.1.2), kept clear with
/// its length field; ffmpeg decrypts the `cenc` copy of an `hvc1` rendition to exactly
/// the clear frames, and the init segment keeps `hvc1` as the original format.
#[test]
fn hevc_cenc_and_cbcs_output_decrypts_in_ffmpeg_to_the_clear_frames() {
    let dir = tempfile::tempdir().unwrap();
    let hevc = [
        "-c:v",
        "libx265",
        "-tag:v",
        "hvc1",
        "-x265-params",
        "keyint=25:min-keyint=25:scenecut=0:open-gop=0:log-level=error",
    ];
    let src = make_source(dir.path(), "hevc.mp4", "320x180", 25, 4, false, &hevc);
    let (out, _) = package(
        dir.path(),
        "out",
        &[src],
        &["--clear", "--encrypt", "cenc,cbcs", "--key", KEY_ARG],
    );
    let cenc = out.join("cenc");
    let init = std::fs::read(cenc.join("hevc/init.mp4")).unwrap();
    let paths = box_paths(&init);
    let frma = "moov/trak/mdia/minf/stbl/stsd/encv/sinf/frma";
    assert!(paths.contains(&frma.to_string()), "{paths:?}");
    let at = init
        .windows(4)
        .position(|w| w == b"frma")
        .expect("a frma box");
    assert_eq!(
        &init[at + 4..at + 8],
        b"hvc1",
        "the original format is hvc1"
    );
    let master = std::fs::read_to_string(cenc.join("master.m3u8")).unwrap();
    assert!(master.contains("CODECS=\"hvc1.1.6.L"), "{master}");

    let clear = concat_rendition(&out, "hevc", dir.path());
    let want = framemd5_piped(&clear, &[]).unwrap();
    assert_eq!(want.len(), 100, "4 s at 25 fps");
    // ffmpeg's MP4 reader decrypts both schemes (its cbcs path honours the 1:9 pattern).
    for scheme in ["cenc", "cbcs"] {
        let sealed_dir = dir.path().join(format!("{scheme}-cat"));
        std::fs::create_dir_all(&sealed_dir).unwrap();
        let sealed = concat_rendition(&out.join(scheme), "hevc", &sealed_dir);
        let got = framemd5_piped(&sealed, &["-decryption_key", KEY])
            .unwrap_or_else(|e| panic!("ffmpeg cannot decrypt the HEVC {scheme} copy: {e}"));
        assert_eq!(
            got, want,
            "decrypted HEVC {scheme} frames differ from the clear ones"
        );
        let wrong = framemd5_piped(&sealed, &["-decryption_key", WRONG_KEY]);
        assert!(
            wrong.as_ref().map_or(true, |w| hashes(w) != hashes(&want)),
            "a wrong key decodes the {scheme} copy to the clear frames"
        );
    }
}
