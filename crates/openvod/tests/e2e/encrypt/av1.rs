//! AV1 Common Encryption held against Shaka Packager: the subsamples openvod writes into
//! `senc` for every sample of an AV1 track are Shaka Packager's, byte for byte, under
//! `cenc` and `cbcs`, with one tile and with several; both decrypt to the source samples,
//! and ffmpeg decrypts openvod's copies to the clear frames.

use super::*;
use openvod_media::crypt::{subsample_counts, VideoSubsampler};

/// An SVT-AV1 source of 4 s of testsrc2 at 30 fps in 2 s GOPs (two segments of 2 s),
/// `params` given to the encoder; encoded once and cached like `make_source`'s.
fn av1_source(dir: &Path, name: &str, size: &str, params: &[&str]) -> PathBuf {
    let video = format!("testsrc2=size={size}:rate=30:duration=4");
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        &video,
        "-c:v",
        "libsvtav1",
        "-preset",
        "10",
        "-crf",
        "35",
        "-g",
        "60",
    ];
    args.extend(params);
    let cached = fixture(&args, "mp4", |out| {
        let mut args = args.clone();
        args.push(out.to_str().unwrap());
        ffmpeg(&args);
    });
    let path = dir.join(name);
    std::fs::copy(cached, &path).unwrap();
    path
}

#[test]
fn av1_subsamples_are_shaka_packagers_and_decrypt_to_the_clear_frames() {
    let Some(shaka) =
        shaka_or_skip("av1_subsamples_are_shaka_packagers_and_decrypt_to_the_clear_frames")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key = key_bytes(KEY);
    // One tile, and 2 x 2 tiles (tile-columns and tile-rows are log2).
    for (name, size, params, tiles) in [
        ("one", "640x360", &[][..], 1),
        (
            "tiles",
            "1280x720",
            &["-svtav1-params", "tile-columns=1:tile-rows=1"][..],
            4,
        ),
    ] {
        let source = av1_source(dir.path(), &format!("{name}.mp4"), size, params);
        let want = source_samples(&source, openvod_media::TrackKind::Video);
        let (out, _) = package(
            dir.path(),
            &format!("out-{name}"),
            std::slice::from_ref(&source),
            &["--clear", "--encrypt", "cenc,cbcs", "--key", KEY_ARG],
        );
        let master = std::fs::read_to_string(out.join("cenc/master.m3u8")).unwrap();
        assert!(master.contains("CODECS=\"av01.0."), "{master}");

        let clear = concat_rendition(&out, name, dir.path());
        let clear_frames = framemd5_piped(&clear, &[]).unwrap();
        for (scheme, iv) in SHAKA_IVS {
            let shaka_file = dir.path().join(format!("shaka-{scheme}-{name}.mp4"));
            shaka_encrypt(&shaka, &source, "video", &shaka_file, scheme, iv);
            let theirs = decrypt_fragments(&std::fs::read(&shaka_file).unwrap(), &key);
            let cat_dir = dir.path().join(format!("cat-{scheme}-{name}"));
            std::fs::create_dir_all(&cat_dir).unwrap();
            let ours_file = concat_rendition(&out.join(scheme), name, &cat_dir);
            let ours = decrypt_fragments(&std::fs::read(&ours_file).unwrap(), &key);
            let what = format!("{name} {scheme}");
            assert_eq!(ours.encrypted, want.len(), "{what}: every sample encrypted");
            assert_same_samples(&ours.samples, &want, &format!("openvod {what}"));
            assert_same_samples(&theirs.samples, &want, &format!("Shaka {what}"));
            for (i, (a, b)) in ours.subsamples.iter().zip(&theirs.subsamples).enumerate() {
                assert_eq!(
                    a, b,
                    "{what}: subsamples of sample {i}, openvod's then Shaka's"
                );
            }
            let entries: usize = ours.subsamples.iter().map(Vec::len).sum();
            let widest = ours.subsamples.iter().map(Vec::len).max().unwrap_or(0);
            eprintln!(
                "{what}: {} samples, {entries} subsamples, at most {widest} in a sample, the same as Shaka Packager's",
                want.len()
            );
            if scheme == "cbcs" {
                // A subsample per tile: a key frame has at least `tiles`.
                assert!(
                    widest >= tiles,
                    "{what}: at most {widest} subsamples in a sample"
                );
            }
            // ffmpeg decrypts openvod's copy to the clear frames.
            let frames = framemd5_piped(&ours_file, &["-decryption_key", KEY])
                .unwrap_or_else(|e| panic!("ffmpeg cannot decrypt {what}: {e}"));
            assert_eq!(frames, clear_frames, "{what}: decrypted frames");
        }

        // Walking the whole track in one go finds the subsamples measured with a restart
        // at every sync sample, as each segment is written: the sync samples are random
        // access points.
        let tracks = openvod_transcode::package::read_mp4(&source).unwrap();
        let track = &tracks[0];
        let bytes = std::fs::read(&source).unwrap();
        let counts = subsample_counts(track, &bytes[..]).unwrap();
        for scheme in [Scheme::Cenc, Scheme::Cbcs] {
            let mut whole = VideoSubsampler::new(&track.sample_description).unwrap();
            let mut map = Vec::new();
            for (i, s) in track.samples.iter().enumerate() {
                let data = &bytes[s.offset as usize..][..s.size as usize];
                whole
                    .subsamples_into(data, i == 0, scheme, &mut map)
                    .unwrap();
                assert_eq!(
                    map.len(),
                    usize::from(counts.scheme(scheme)[i]),
                    "{name} {scheme}: sample {i}"
                );
            }
        }
    }
}
