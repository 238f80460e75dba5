//! H.265 and AV1 outputs, outputs in several codecs, and audio carried by video outputs.

use openvod_transcode::mediaconvert::{import, LocationMap, MediaConvertJob};
use openvod_transcode::template::VideoCodec;
use serde_json::{json, Value};

const HEVC: &str = include_str!("../fixtures/mediaconvert/hevc_cmaf.json");
const AV1: &str = include_str!("../fixtures/mediaconvert/av1_cmaf.json");
const MIXED_AV: &str = include_str!("../fixtures/mediaconvert/mixed_av_cmaf.json");

const OUTPUTS: &str = "/Settings/OutputGroups/0/Outputs";

fn bucket_maps() -> Vec<LocationMap> {
    vec![
        LocationMap::parse("s3://media-in-444455556666=/srv/in").unwrap(),
        LocationMap::parse("s3://media-out-444455556666=/srv/out").unwrap(),
    ]
}

fn doc(json: &str) -> Value {
    serde_json::from_str(json).unwrap()
}

fn import_doc(doc: &Value) -> openvod_transcode::Result<MediaConvertJob> {
    import(&doc.to_string(), &bucket_maps())
}

fn error_of(doc: &Value) -> String {
    match import_doc(doc) {
        Ok(job) => panic!("expected an error, got {job:?}"),
        Err(e) => {
            let e = e.to_string();
            assert!(!e.contains('\n'), "{e}");
            e
        }
    }
}

/// `doc` with the value at a JSON pointer replaced, or added to its parent object.
fn set(mut doc: Value, pointer: &str, value: Value) -> Value {
    if let Some(slot) = doc.pointer_mut(pointer) {
        *slot = value;
    } else {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        doc.pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("no object at {parent}"))
            .insert(key.to_string(), value);
    }
    doc
}

fn remove(mut doc: Value, pointer: &str) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let removed = doc
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .and_then(|o| o.remove(key));
    assert!(removed.is_some(), "nothing at {pointer}");
    doc
}

fn settings_ptr(output: usize, key: &str) -> String {
    format!("{OUTPUTS}/{output}/VideoDescription/CodecSettings/{key}")
}

/// The H.265 job with `key` of an output's `H265Settings` set to `value`.
fn hevc_with(output: usize, key: &str, value: Value) -> Value {
    set(
        doc(HEVC),
        &settings_ptr(output, &format!("H265Settings/{key}")),
        value,
    )
}

/// Each rung of every codec's ladder: name, codec, height, cap and CRF.
fn ladder(job: &MediaConvertJob) -> Vec<(String, VideoCodec, u32, u64, u8)> {
    let v = &job.template.video;
    v.ladder()
        .into_iter()
        .map(|(codec, r)| {
            let crf = codec.crf(r.quality.unwrap_or(v.quality));
            (r.name, codec, r.height, r.max_bitrate, crf)
        })
        .collect()
}

fn has_warning(job: &MediaConvertJob, expected: &str) -> bool {
    job.warnings.iter().any(|w| w == expected)
}

fn assert_warns(job: &MediaConvertJob, expected: &[String]) {
    for w in expected {
        assert!(
            has_warning(job, w),
            "missing {w}\n{}",
            job.warnings.join("\n")
        );
    }
}

/// No warning names any of `keys`: their values are what openvod does anyway.
fn assert_quiet(job: &MediaConvertJob, keys: &[&str]) {
    for key in keys {
        assert!(
            !job.warnings.iter().any(|w| w.contains(key)),
            "{key} should be quiet: {:?}",
            job.warnings
        );
    }
}

#[test]
fn hevc_job_maps_to_hevc_rungs_on_x265s_scale() {
    let job = import(HEVC, &bucket_maps()).unwrap();
    let t = &job.template;
    assert_eq!(t.video.codec, VideoCodec::Hevc);
    assert!(t.video.codecs.is_empty());
    assert_eq!(
        ladder(&job),
        vec![
            // QVBR 8 and 7 on x265's CRF scale: 5 steps above x264's 22 and 24.
            ("hevc_1080p".into(), VideoCodec::Hevc, 1080, 4_500_000, 27),
            ("hevc_720p".into(), VideoCodec::Hevc, 720, 2_400_000, 29),
            ("hevc_432p".into(), VideoCodec::Hevc, 432, 900_000, 29),
        ]
    );
    assert_eq!(t.video.gop_seconds, 2.0);
    assert_eq!(t.packaging.segment_seconds, 6.0);
    let a = t.audio.as_ref().unwrap();
    assert_eq!((a.name.as_str(), a.bitrate), ("aac", 96_000));
    t.validate().unwrap();

    let h265 = "Settings.OutputGroups[0].Outputs[0].VideoDescription.CodecSettings.H265Settings";
    assert_warns(
        &job,
        &[
            format!("ignored: {h265}.Tiles = \"ENABLED\""),
            format!("ignored: {h265}.SampleAdaptiveOffsetFilterMode = \"ADAPTIVE\""),
            format!("ignored: {h265}.QualityTuningLevel = \"SINGLE_PASS_HQ\""),
            format!("ignored: {h265}.SceneChangeDetect = \"TRANSITION_DETECTION\""),
            // x265's medium writes 4 B-frames.
            format!("ignored: {h265}.NumberBFramesBetweenReferenceFrames = 3"),
            format!("ignored: {h265}.ParControl = \"INITIALIZE_FROM_SOURCE\""),
        ],
    );
    // What openvod does anyway is quiet: Main, hvc1, a buffer of twice the cap, no
    // temporal layers, no HLG SEI.
    assert_quiet(
        &job,
        &[
            "CodecProfile",
            "WriteMp4PackagingType",
            "HrdBufferSize",
            "TemporalIds",
            "AlternateTransferFunctionSei",
            "GopSize",
            "InterlaceMode",
            "FramerateControl",
        ],
    );
}

#[test]
fn hevc_profiles_and_sample_entries() {
    let profile = |p: &str| hevc_with(1, "CodecProfile", p.into());
    let job = import_doc(&profile("MAIN_HIGH")).unwrap();
    assert!(
        job.warnings.iter().any(|w| w.starts_with(
            "ignored: Settings.OutputGroups[0].Outputs[1].VideoDescription.CodecSettings.H265Settings.CodecProfile = \"MAIN_HIGH\" in part (openvod writes HEVC at the tier x265 chooses"
        )),
        "{:?}",
        job.warnings
    );
    // Main 10 is the template's: for every H.265 output, from sources of 10 bits or more.
    let mut main10 = doc(HEVC);
    for i in 0..3 {
        main10 = set(
            main10,
            &settings_ptr(i, "H265Settings/CodecProfile"),
            "MAIN10_MAIN".into(),
        );
    }
    let job = import_doc(&main10).unwrap();
    assert!(job.template.video.hevc_main10);
    assert!(
        !import(HEVC, &bucket_maps())
            .unwrap()
            .template
            .video
            .hevc_main10
    );
    assert!(
        has_warning(
            &job,
            "ignored: Settings.OutputGroups[0].Outputs[2].VideoDescription.CodecSettings.H265Settings.CodecProfile = \"MAIN10_MAIN\" for 8-bit sources (openvod encodes Main 10 from sources of 10 bits or more, and Main from 8-bit ones)"
        ),
        "{:?}",
        job.warnings
    );
    for (p, expected) in [
        (
            "MAIN10_MAIN",
            "Outputs[1].VideoDescription.CodecSettings.H265Settings.CodecProfile: Main 10 differs from Main at Settings.OutputGroups[0].Outputs[0].VideoDescription.CodecSettings.H265Settings.CodecProfile: openvod encodes every rung with one CodecProfile",
        ),
        (
            "MAIN_422_8BIT_MAIN",
            "H265Settings.CodecProfile: \"MAIN_422_8BIT_MAIN\" is not supported (only MAIN_MAIN, MAIN_HIGH, MAIN10_MAIN or MAIN10_HIGH",
        ),
    ] {
        let e = error_of(&profile(p));
        assert!(e.contains(expected), "expected {expected:?} in {e:?}");
    }

    let packaging = |t: &str| hevc_with(0, "WriteMp4PackagingType", t.into());
    let job = import_doc(&packaging("HEV1")).unwrap();
    assert!(
        has_warning(
            &job,
            "ignored: Settings.OutputGroups[0].Outputs[0].VideoDescription.CodecSettings.H265Settings.WriteMp4PackagingType = \"HEV1\" (openvod tags HEVC hvc1, with the parameter sets in the sample entry, as Apple's HLS rules require)"
        ),
        "{:?}",
        job.warnings
    );
    let e = error_of(&packaging("AVC1"));
    assert!(
        e.contains("H265Settings.WriteMp4PackagingType: \"AVC1\" is not HVC1 or HEV1"),
        "{e}"
    );
}

#[test]
fn bad_video_codecs_are_named_by_path() {
    let codec = settings_ptr(0, "Codec");
    let cases = [
        (
            set(doc(HEVC), &codec, "VP9".into()),
            "Outputs[0].VideoDescription.CodecSettings.Codec: \"VP9\" is not supported (only H_264, H_265 or AV1)",
        ),
        (
            set(doc(HEVC), &codec, "H_264".into()),
            "Outputs[0].VideoDescription.CodecSettings.H264Settings: missing; required with Codec H_264",
        ),
        (
            hevc_with(2, "RateControlMode", "VBR".into()),
            "Outputs[2].VideoDescription.CodecSettings.H265Settings.RateControlMode: \"VBR\" is not supported (only QVBR)",
        ),
        (
            remove(doc(HEVC), &settings_ptr(0, "H265Settings/RateControlMode")),
            "H265Settings.RateControlMode: missing; MediaConvert's default is CBR",
        ),
        (
            hevc_with(0, "GopSizeUnits", "FRAMES".into()),
            "H265Settings.GopSizeUnits: \"FRAMES\" is not supported",
        ),
        (
            hevc_with(0, "Telecine", "HARD".into()),
            "H265Settings.Telecine: \"HARD\" is not supported",
        ),
        (
            hevc_with(0, "BandwidthReductionFilter", json!({"Strength": "AUTO"})),
            "H265Settings.BandwidthReductionFilter: not supported by openvod",
        ),
        (
            hevc_with(1, "GopSize", 3.into()),
            "Outputs[1].VideoDescription.CodecSettings.H265Settings.GopSize: 3 differs from 2 at",
        ),
    ];
    for (json, expected) in cases {
        let e = error_of(&json);
        assert!(e.starts_with("MediaConvert job: "), "{e}");
        assert!(e.contains(expected), "expected {expected:?} in {e:?}");
    }
    // Another codec's settings left beside the chosen one change nothing.
    let leftover = set(
        doc(HEVC),
        &settings_ptr(0, "H264Settings"),
        json!({"RateControlMode": "CBR", "Bitrate": 5000000}),
    );
    let job = import_doc(&leftover).unwrap();
    assert!(
        job.warnings.iter().any(|w| w.starts_with(
            "ignored: Settings.OutputGroups[0].Outputs[0].VideoDescription.CodecSettings.H264Settings = {"
        )),
        "{:?}",
        job.warnings
    );
}

/// The H.264 settings of the mixed job's first output, for an output of the HEVC job.
fn h264_codec_settings() -> Value {
    doc(MIXED_AV)
        .pointer(&format!("{OUTPUTS}/0/VideoDescription/CodecSettings"))
        .unwrap()
        .clone()
}

#[test]
fn outputs_in_several_codecs_make_one_valid_template() {
    let mut d = set(
        doc(HEVC),
        &format!("{OUTPUTS}/2/VideoDescription/CodecSettings"),
        h264_codec_settings(),
    );
    for i in 0..3 {
        d = remove(d, &format!("{OUTPUTS}/{i}/NameModifier"));
    }
    let job = import_doc(&d).unwrap();
    let t = &job.template;
    // The job's codec is the first output's; the H.264 rung names its own codec, and its
    // default name says it, as a template's ladder per codec does.
    assert_eq!(t.video.codec, VideoCodec::Hevc);
    let own: Vec<Option<VideoCodec>> = t.video.rungs.iter().map(|r| r.codec).collect();
    assert_eq!(own, vec![None, None, Some(VideoCodec::H264)]);
    assert_eq!(
        ladder(&job),
        vec![
            ("1080p".into(), VideoCodec::Hevc, 1080, 4_500_000, 27),
            ("720p".into(), VideoCodec::Hevc, 720, 2_400_000, 29),
            ("432p-h264".into(), VideoCodec::H264, 432, 2_500_000, 24),
        ]
    );
    // The H.264 profile comes from the H.264 output alone.
    assert_eq!(
        t.video.profile,
        openvod_transcode::template::H264Profile::Main
    );
    t.validate().unwrap();
    let back: openvod_transcode::JobTemplate =
        serde_json::from_value(serde_json::to_value(t).unwrap()).unwrap();
    assert_eq!(&back, t);

    // Rungs named the same are refused, whatever their codecs.
    let same = set(
        doc(HEVC),
        &format!("{OUTPUTS}/2/VideoDescription/CodecSettings"),
        h264_codec_settings(),
    );
    let same = set(
        same,
        &format!("{OUTPUTS}/2/NameModifier"),
        "_hevc_720p".into(),
    );
    let e = error_of(&same);
    assert!(
        e.contains("Outputs[2]: rendition name \"hevc_720p\" is also the name of Settings.OutputGroups[0].Outputs[1]: give each output its own NameModifier"),
        "{e}"
    );
    // A job whose outputs keep openvod's default names apart is accepted even when two
    // codecs share a height.
    let mut two = set(
        doc(HEVC),
        &format!("{OUTPUTS}/2/VideoDescription/CodecSettings"),
        h264_codec_settings(),
    );
    two = set(
        two,
        &format!("{OUTPUTS}/2/VideoDescription/Height"),
        720.into(),
    );
    two = set(
        two,
        &format!("{OUTPUTS}/2/VideoDescription/Width"),
        1280.into(),
    );
    two = remove(two, &format!("{OUTPUTS}/1/NameModifier"));
    two = remove(two, &format!("{OUTPUTS}/2/NameModifier"));
    let names: Vec<String> = import_doc(&two)
        .unwrap()
        .template
        .video
        .rungs
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, vec!["hevc_1080p", "720p", "720p-h264"]);
}

#[test]
fn audio_in_video_outputs_becomes_the_one_audio_rendition() {
    let job = import(MIXED_AV, &[]).unwrap();
    let t = &job.template;
    let names: Vec<&str> = t.video.rungs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["720p", "360p"]);
    let a = t.audio.as_ref().expect("the carried audio is kept");
    assert_eq!(
        (a.name.as_str(), a.bitrate, a.sample_rate, a.channels),
        ("audio", 128_000, 48_000, 2)
    );
    let first = "Settings.OutputGroups[0].Outputs[0].AudioDescriptions";
    let second = "Settings.OutputGroups[0].Outputs[1].AudioDescriptions";
    let split = format!(
        "split: {first}: this audio is written as its own rendition \"audio\" (openvod carries each track in its own CMAF rendition), shared by every video rendition"
    );
    let dropped = format!(
        "ignored: {second}: the same audio as {first}, written once as the rendition \"audio\""
    );
    assert!(has_warning(&job, &split), "{:?}", job.warnings);
    assert!(has_warning(&job, &dropped), "{:?}", job.warnings);
    assert_eq!(
        job.warnings
            .iter()
            .filter(|w| w.contains("AudioDescriptions"))
            .count(),
        2
    );

    // Different audio in two outputs cannot be one rendition.
    let bitrate = format!("{OUTPUTS}/1/AudioDescriptions/0/CodecSettings/AacSettings/Bitrate");
    let e = error_of(&set(doc(MIXED_AV), &bitrate, 96_000.into()));
    assert!(
        e.contains(&format!("{second}: AAC 96000 b/s 48000 Hz 2 channels differs from AAC 128000 b/s 48000 Hz 2 channels at {first}: openvod writes one audio rendition")),
        "{e}"
    );
    // Bad audio settings in a video output are refused by their own path.
    let mode = format!("{OUTPUTS}/0/AudioDescriptions/0/CodecSettings/AacSettings/CodingMode");
    let e = error_of(&set(doc(MIXED_AV), &mode, "CODING_MODE_1_1".into()));
    assert!(
        e.contains(&format!(
            "{first}[0].CodecSettings.AacSettings.CodingMode: \"CODING_MODE_1_1\""
        )),
        "{e}"
    );

    // Beside an audio output of the same sound, the carried copies are dropped and the
    // audio output's name is kept; a different sound is refused.
    let audio_output = |bitrate: u64| {
        let mut d = doc(MIXED_AV);
        let list = d
            .pointer_mut(OUTPUTS)
            .and_then(Value::as_array_mut)
            .unwrap();
        list.push(json!({
            "NameModifier": "_stereo",
            "ContainerSettings": {"Container": "CMFC"},
            "AudioDescriptions": [{"CodecSettings": {"Codec": "AAC", "AacSettings": {"Bitrate": bitrate, "SampleRate": 48000, "CodingMode": "CODING_MODE_2_0"}}}]
        }));
        d
    };
    let job = import_doc(&audio_output(128_000)).unwrap();
    assert_eq!(job.template.audio.as_ref().unwrap().name, "stereo");
    assert!(!job.warnings.iter().any(|w| w.starts_with("split:")));
    assert!(
        has_warning(
            &job,
            &format!("ignored: {first}: the same audio as Settings.OutputGroups[0].Outputs[2], written once as the rendition \"stereo\"")
        ),
        "{:?}",
        job.warnings
    );
    let e = error_of(&audio_output(192_000));
    assert!(
        e.contains(&format!(
            "{first}: AAC 128000 b/s 48000 Hz 2 channels differs from AAC 192000 b/s"
        )),
        "{e}"
    );

    // Audio in one video output only is split all the same.
    let job = import_doc(&remove(
        doc(MIXED_AV),
        &format!("{OUTPUTS}/1/AudioDescriptions"),
    ))
    .unwrap();
    assert!(job.template.audio.is_some());
    assert!(has_warning(&job, &split), "{:?}", job.warnings);
}

#[test]
fn automated_abr_refuses_outputs_with_sizes() {
    // An Automated ABR group's outputs leave their sizes to the analysis (see
    // `automated_abr`): the H.265 job's sized outputs cannot be its one video output.
    let d = set(
        doc(HEVC),
        "/Settings/OutputGroups/0/AutomatedEncodingSettings",
        json!({"AbrSettings": {"MaxAbrBitrate": 8000000, "MaxRenditions": 6, "MinAbrBitrate": 600000}}),
    );
    let e = error_of(&d);
    assert!(
        e.contains("Settings.OutputGroups[0].Outputs[0].VideoDescription.Height: an Automated ABR group's output gives no size"),
        "{e}"
    );
}

#[test]
fn av1_job_maps_to_av1_rungs_beside_an_h264_one() {
    let job = import(AV1, &bucket_maps()).unwrap();
    let t = &job.template;
    assert_eq!(t.video.codec, VideoCodec::Av1);
    assert_eq!(
        ladder(&job),
        vec![
            // QVBR 8 and 7 on SVT-AV1's CRF scale: 12 steps above x264's 22 and 24.
            ("av1_1080p".into(), VideoCodec::Av1, 1080, 3_500_000, 34),
            ("av1_720p".into(), VideoCodec::Av1, 720, 1_800_000, 36),
            ("av1_360p".into(), VideoCodec::Av1, 360, 500_000, 36),
            ("avc_360p".into(), VideoCodec::H264, 360, 800_000, 24),
        ]
    );
    let own: Vec<Option<VideoCodec>> = t.video.rungs.iter().map(|r| r.codec).collect();
    assert_eq!(own, vec![None, None, None, Some(VideoCodec::H264)]);
    // The AV1 outputs give no GOP: the H.264 output's 2 s is every rung's.
    assert_eq!(t.video.gop_seconds, 2.0);
    assert!(!t.video.hevc_main10);
    t.validate().unwrap();
    let av1 = "Settings.OutputGroups[0].Outputs[0].VideoDescription.CodecSettings.Av1Settings";
    assert_warns(
        &job,
        &[
            format!("ignored: {av1}.AdaptiveQuantization = \"HIGH\""),
            format!("ignored: {av1}.NumberBFramesBetweenReferenceFrames = 7"),
        ],
    );
    assert_quiet(
        &job,
        &[
            "BitDepth",
            "FilmGrainSynthesis",
            "QvbrQualityLevelFineTune",
            "Slices",
            "SpatialAdaptiveQuantization",
            "FramerateControl",
        ],
    );
    // QVBR is AV1's only rate control: leaving it out means QVBR.
    let job = import_doc(&remove(
        doc(AV1),
        &settings_ptr(1, "Av1Settings/RateControlMode"),
    ))
    .unwrap();
    assert_eq!(job.template.video.rungs[1].max_bitrate, 1_800_000);
}

#[test]
fn av1_outputs_openvod_cannot_make_are_refused_by_path() {
    let av1 = |output: usize, key: &str, value: Value| {
        set(
            doc(AV1),
            &settings_ptr(output, &format!("Av1Settings/{key}")),
            value,
        )
    };
    let video = |output: usize, key: &str, value: Value| {
        set(
            doc(AV1),
            &format!("{OUTPUTS}/{output}/VideoDescription/{key}"),
            value,
        )
    };
    let cases = [
        (
            av1(0, "GopSize", 48.into()),
            "Outputs[0].VideoDescription.CodecSettings.Av1Settings.GopSize: AV1's GopSize counts frames, and openvod sets the GOP in seconds",
        ),
        (
            av1(1, "BitDepth", "BIT_10".into()),
            "Av1Settings.BitDepth: \"BIT_10\" is not supported (only \"BIT_8\")",
        ),
        (
            av1(1, "FilmGrainSynthesis", "ENABLED".into()),
            "Av1Settings.FilmGrainSynthesis: \"ENABLED\" is not supported (only \"DISABLED\")",
        ),
        (
            av1(2, "RateControlMode", "CBR".into()),
            "Outputs[2].VideoDescription.CodecSettings.Av1Settings.RateControlMode: \"CBR\" is not supported (only QVBR)",
        ),
        (
            av1(2, "MaxBitrate", 10_000.into()),
            "Av1Settings.MaxBitrate: 10000 is outside 50000..200000000",
        ),
        (
            video(2, "Height", 48.into()),
            "Outputs[2].VideoDescription.Height: 48 pixels is too small for AV1: its encoder makes pictures of at least 64 pixels on each side",
        ),
        (
            video(2, "Width", 48.into()),
            "Outputs[2].VideoDescription.Width: 48 pixels is too small for AV1",
        ),
        (
            remove(doc(AV1), &settings_ptr(0, "Av1Settings")),
            "Outputs[0].VideoDescription.CodecSettings.Av1Settings: missing; required with Codec AV1",
        ),
    ];
    for (json, expected) in cases {
        let e = error_of(&json);
        assert!(e.contains(expected), "expected {expected:?} in {e:?}");
    }
    // 48 pixels is an H.264 rung all the same.
    let small = set(
        doc(AV1),
        &format!("{OUTPUTS}/3/VideoDescription/Height"),
        48.into(),
    );
    let small = remove(small, &format!("{OUTPUTS}/3/VideoDescription/Width"));
    assert_eq!(
        import_doc(&small).unwrap().template.video.rungs[3].height,
        48
    );
}
