//! MediaConvert job import through the public API: the reference job maps to the
//! expected template, every ignored key is reported by its JSON path, and refused keys,
//! bad values and odd documents give one-line errors (never a panic). `codecs` covers
//! H.265 and AV1 outputs, several codecs in one job, and audio in video outputs;
//! `automated_abr` Automated ABR groups, imported as per-title ladders.

use std::path::PathBuf;

use openvod_transcode::mediaconvert::{import, LocationMap, MAX_JOB_BYTES, TEMPLATE_NAME};
use openvod_transcode::template::PackagingSettings;
use openvod_transcode::JobTemplate;
use serde_json::Value;

#[path = "mediaconvert/codecs.rs"]
mod codecs;

#[path = "mediaconvert/automated_abr.rs"]
mod automated_abr;

const REFERENCE: &str = include_str!("fixtures/mediaconvert/reference_cmaf.json");
const MINIMAL_TEMPLATE: &str = include_str!("fixtures/mediaconvert/minimal_template.json");
const BAD_CBR: &str = include_str!("fixtures/mediaconvert/bad_cbr.json");
const BAD_UNKNOWN_KEY: &str = include_str!("fixtures/mediaconvert/bad_unknown_key.json");
const BAD_ENCRYPTION: &str = include_str!("fixtures/mediaconvert/bad_encryption.json");
const BAD_TWO_INPUTS: &str = include_str!("fixtures/mediaconvert/bad_two_inputs.json");
const BAD_GOP_FRAMES: &str = include_str!("fixtures/mediaconvert/bad_gop_frames.json");
const BAD_JSON: &str = include_str!("fixtures/mediaconvert/bad_json.json");

fn maps() -> Vec<LocationMap> {
    vec![
        LocationMap::parse("s3://vod-source-111122223333=/srv/media/source").unwrap(),
        LocationMap::parse("s3://vod-destination-111122223333/=/srv/media/vod").unwrap(),
    ]
}

fn error_of(json: &str) -> String {
    match import(json, &maps()) {
        Ok(job) => panic!("expected an error, got {job:?}"),
        Err(e) => e.to_string(),
    }
}

/// The minimal template with the value at a JSON pointer set (replaced, or added to
/// its parent object).
fn patched(pointer: &str, value: Value) -> String {
    let mut doc: Value = serde_json::from_str(MINIMAL_TEMPLATE).unwrap();
    if let Some(slot) = doc.pointer_mut(pointer) {
        *slot = value;
    } else {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let obj = doc.pointer_mut(parent).and_then(Value::as_object_mut);
        obj.unwrap_or_else(|| panic!("no object at {parent}"))
            .insert(key.to_string(), value);
    }
    doc.to_string()
}

fn with_key(pointer: &str, key: &str, value: Value) -> String {
    patched(&format!("{pointer}/{key}"), value)
}

const H264_PTR: &str =
    "/Settings/OutputGroups/0/Outputs/0/VideoDescription/CodecSettings/H264Settings";

#[test]
fn reference_job_maps_to_the_expected_template() {
    let job = import(REFERENCE, &maps()).unwrap();
    assert_eq!(
        job.input,
        PathBuf::from("/srv/media/source/uploads/2024/big_buck_bunny.mp4")
    );
    assert_eq!(
        job.destination,
        Some(PathBuf::from("/srv/media/vod/big_buck_bunny/cmaf"))
    );
    let t = &job.template;
    type RungFields<'a> = (&'a str, u32, Option<u32>, u64, Option<u8>);
    let rungs: Vec<RungFields<'_>> = t
        .video
        .rungs
        .iter()
        .map(|r| (r.name.as_str(), r.height, r.width, r.max_bitrate, r.quality))
        .collect();
    assert_eq!(
        rungs,
        vec![
            // 16:9 widths: the source's aspect ratio decides, nothing to report.
            ("1080p", 1080, None, 5_000_000, Some(8)),
            ("720p", 720, None, 3_000_000, Some(7)),
            ("540p", 540, None, 1_600_000, Some(7)),
            ("360p", 360, None, 800_000, Some(7)),
        ]
    );
    assert_eq!(t.name, TEMPLATE_NAME);
    assert_eq!(t.video.codec, openvod_transcode::template::VideoCodec::H264);
    assert_eq!(
        t.video.profile,
        openvod_transcode::template::H264Profile::High
    );
    assert_eq!(t.video.preset, openvod_transcode::template::Preset::Medium);
    assert_eq!(t.video.quality, 8);
    assert_eq!(t.video.gop_seconds, 2.0);
    assert_eq!(
        t.packaging,
        PackagingSettings {
            segment_seconds: 4.0,
            fragment_seconds: 2.0,
            hls: true,
            dash: true,
            mode: openvod_transcode::template::PackagingMode::Static,
            downloads: false,
        }
    );
    let a = t.audio.as_ref().unwrap();
    assert_eq!(
        (
            a.name.as_str(),
            a.codec,
            a.bitrate,
            a.sample_rate,
            a.channels
        ),
        (
            "audio",
            openvod_transcode::template::AudioCodec::Aac,
            128_000,
            48_000,
            2
        )
    );
    t.validate().unwrap();
}

#[test]
fn reference_job_warns_about_each_ignored_field_by_path() {
    let job = import(REFERENCE, &maps()).unwrap();
    let has = |w: &str| job.warnings.iter().any(|x| x == w);
    for w in [
        "ignored: Role = \"arn:aws:iam::111122223333:role/vod-MediaConvertRole\"",
        "ignored: AccelerationSettings = {\"Mode\":\"PREFERRED\"}",
        "ignored: StatusUpdateInterval = \"SECONDS_60\"",
        "ignored: Settings.OutputGroups[0].Name = \"CMAF\"",
        "ignored: Settings.OutputGroups[0].OutputGroupSettings.CmafGroupSettings.ManifestDurationFormat = \"INTEGER\"",
        "ignored: Settings.OutputGroups[0].OutputGroupSettings.CmafGroupSettings.MpdProfile = \"MAIN_PROFILE\"",
        "ignored: Settings.OutputGroups[0].Outputs[0].VideoDescription.CodecSettings.H264Settings.QualityTuningLevel = \"MULTI_PASS_HQ\"",
        "ignored: Settings.OutputGroups[0].Outputs[0].VideoDescription.CodecSettings.H264Settings.SceneChangeDetect = \"TRANSITION_DETECTION\"",
        "ignored: Settings.OutputGroups[0].Outputs[1].VideoDescription.CodecSettings.H264Settings.HrdBufferSize = 7500000",
        "ignored: Settings.OutputGroups[0].Outputs[3].VideoDescription.CodecSettings.H264Settings.AdaptiveQuantization = \"HIGH\"",
        "ignored: Settings.Inputs[0].VideoSelector.Rotate = \"DEGREE_0\"",
        "ignored: Settings.OutputGroups[0].Outputs[4].AudioDescriptions[0].LanguageCode = \"ENG\"",
    ] {
        assert!(has(w), "missing warning {w}\nwarnings:\n{}", job.warnings.join("\n"));
    }
    // Values openvod matches anyway are accepted silently.
    for quiet in [
        "Priority",
        "InterlaceMode",
        "ParControl",
        "ParNumerator",
        "GopClosedCadence",
        "NumberReferenceFrames",
        "FramerateControl",
        "ScalingBehavior",
        "TimecodeConfig",
        "SegmentControl",
        "ManifestCompression",
        "Outputs[0].VideoDescription.CodecSettings.H264Settings.HrdBufferSize",
        "AudioSelectors",
        "AudioSourceName",
        "LanguageCodeControl",
    ] {
        assert!(
            !job.warnings.iter().any(|w| w.contains(quiet)),
            "{quiet} should be quiet: {:?}",
            job.warnings
        );
    }
    assert!(job
        .warnings
        .iter()
        .all(|w| w.starts_with("ignored: ") && !w.contains('\n')));
}

#[test]
fn all_three_document_shapes_are_accepted() {
    let template_doc = import(MINIMAL_TEMPLATE, &[]).unwrap();
    assert_eq!(template_doc.input, PathBuf::from("/data/in/talk.mov"));
    assert_eq!(template_doc.destination, Some(PathBuf::from("out/talk")));
    assert!(
        template_doc
            .warnings
            .iter()
            .any(|w| w == "ignored: Name = \"talk-cmaf\""),
        "{:?}",
        template_doc.warnings
    );

    let doc: Value = serde_json::from_str(MINIMAL_TEMPLATE).unwrap();
    let bare = doc["Settings"].to_string();
    let bare_job = import(&bare, &[]).unwrap();
    assert_eq!(bare_job.template, template_doc.template);
    assert_eq!(bare_job.input, template_doc.input);

    let create_job =
        serde_json::json!({ "Role": "arn:aws:iam::1:role/r", "Settings": doc["Settings"] })
            .to_string();
    let created = import(&create_job, &[]).unwrap();
    assert_eq!(created.template, template_doc.template);
    assert_eq!(
        created.warnings,
        vec!["ignored: Role = \"arn:aws:iam::1:role/r\"".to_string()]
    );

    let t = &template_doc.template;
    assert_eq!(t.video.rungs.len(), 1);
    assert_eq!(
        (
            t.video.rungs[0].name.as_str(),
            t.video.rungs[0].height,
            t.video.rungs[0].width
        ),
        ("720p", 720, None)
    );
    assert_eq!(
        t.video.profile,
        openvod_transcode::template::H264Profile::Main
    );
    // Not in the job: the built-in default's packaging, no audio output.
    assert_eq!(t.packaging, JobTemplate::default_ladder().packaging);
    assert_eq!(t.audio, None);
}

#[test]
fn s3_locations_need_a_map() {
    let err = import(REFERENCE, &[]).unwrap_err().to_string();
    assert!(
        err.contains("Settings.Inputs[0].FileInput: bucket vod-source-111122223333 is not mapped"),
        "{err}"
    );
    assert!(
        err.contains("pass --map s3://vod-source-111122223333=DIR"),
        "{err}"
    );

    let only_source = [LocationMap::parse("s3://vod-source-111122223333=/in").unwrap()];
    let err = import(REFERENCE, &only_source).unwrap_err().to_string();
    assert!(
        err.contains(
            "CmafGroupSettings.Destination: bucket vod-destination-111122223333 is not mapped"
        ),
        "{err}"
    );
    assert!(
        err.contains("--map s3://vod-destination-111122223333=DIR"),
        "{err}"
    );

    let m = [LocationMap::parse("s3://b=/srv/b").unwrap()];
    let input = |url: &str| import(&patched("/Settings/Inputs/0/FileInput", url.into()), &m);
    assert_eq!(
        input("s3://b/a/x.mp4").unwrap().input,
        PathBuf::from("/srv/b/a/x.mp4")
    );
    for bad in [
        "s3://b/../etc/passwd",
        "s3://b/a/./x.mp4",
        "s3://b/dir/",
        "s3://b",
        "https://example.com/x.mp4",
        "",
        "s3:///x",
    ] {
        let e = input(bad).unwrap_err().to_string();
        assert!(e.contains("Settings.Inputs[0].FileInput: "), "{bad}: {e}");
    }
    let dest = |url: &str| {
        import(
            &patched(
                "/Settings/OutputGroups/0/OutputGroupSettings/CmafGroupSettings/Destination",
                url.into(),
            ),
            &m,
        )
    };
    assert_eq!(
        dest("s3://b/").unwrap().destination,
        Some(PathBuf::from("/srv/b"))
    );
    assert_eq!(
        dest("s3://b/x/y").unwrap().destination,
        Some(PathBuf::from("/srv/b/x/y"))
    );
    assert!(dest("s3://b/$dt$/")
        .unwrap_err()
        .to_string()
        .contains("format identifiers"));
    assert!(dest("s3://b/x/../../y/").is_err());
}

#[test]
fn location_maps_parse() {
    let m = LocationMap::parse("s3://my-bucket=/data/my bucket=1").unwrap();
    assert_eq!(
        m,
        LocationMap {
            bucket: "my-bucket".into(),
            dir: PathBuf::from("/data/my bucket=1")
        }
    );
    for bad in [
        "my-bucket=/x",
        "s3://my-bucket",
        "s3://my-bucket/prefix=/x",
        "s3://=/x",
        "s3://b=",
        "s3://b a=/x",
    ] {
        let e = LocationMap::parse(bad).unwrap_err().to_string();
        assert!(e.contains("expected s3://BUCKET=DIR"), "{bad}: {e}");
    }
    let twice = [
        LocationMap::parse("s3://b=/x").unwrap(),
        LocationMap::parse("s3://b=/y").unwrap(),
    ];
    assert!(import(MINIMAL_TEMPLATE, &twice)
        .unwrap_err()
        .to_string()
        .contains("given twice"));
}

#[test]
fn errors_name_the_json_path() {
    let cases = [
        (
            BAD_CBR,
            "Settings.OutputGroups[0].Outputs[2].VideoDescription.CodecSettings.H264Settings.RateControlMode: \"CBR\" is not supported (only QVBR); ignoring it would change the output",
        ),
        (BAD_UNKNOWN_KEY, "Settings.OutputGroups[0].Outputs[0].VideoDescription.CodecSettings.H264Settings.SuperResolution: not supported by openvod; ignoring it would change the output"),
        (BAD_ENCRYPTION, "Settings.OutputGroups[0].OutputGroupSettings.CmafGroupSettings.Encryption: not supported by openvod; ignoring it would change the output"),
        (BAD_TWO_INPUTS, "Settings.Inputs[1]: a second input is not supported"),
        (BAD_GOP_FRAMES, "Settings.OutputGroups[0].Outputs[0].VideoDescription.CodecSettings.H264Settings.GopSizeUnits: \"FRAMES\" is not supported"),
    ];
    for (json, expected) in cases {
        let e = error_of(json);
        assert!(e.starts_with("MediaConvert job: "), "{e}");
        assert!(e.contains(expected), "expected {expected:?} in {e:?}");
        assert!(!e.contains('\n'), "{e}");
    }
    assert!(error_of(BAD_GOP_FRAMES).contains("frame rate"));
    let e = error_of(BAD_JSON);
    assert!(e.contains("not valid JSON") && e.contains("line"), "{e}");
}

#[test]
fn oversize_documents_are_refused() {
    let mut big = REFERENCE.to_string();
    big.push_str(&" ".repeat(MAX_JOB_BYTES));
    assert!(error_of(&big).contains("more than the 1 MiB limit"));
}

#[test]
fn refused_values_and_fields() {
    let cases = [
        (
            with_key(H264_PTR, "InterlaceMode", "TOP_FIELD".into()),
            "H264Settings.InterlaceMode: \"TOP_FIELD\" is not supported (only \"PROGRESSIVE\")",
        ),
        (
            with_key(H264_PTR, "FramerateControl", "SPECIFIED".into()),
            "H264Settings.FramerateControl: \"SPECIFIED\" is not supported",
        ),
        (
            with_key(H264_PTR, "Telecine", "HARD".into()),
            "H264Settings.Telecine",
        ),
        (
            with_key(H264_PTR, "CodecProfile", "HIGH_10BIT".into()),
            "H264Settings.CodecProfile: \"HIGH_10BIT\"",
        ),
        (
            with_key(H264_PTR, "ParControl", "SPECIFIED".into()),
            "H264Settings.ParControl: SPECIFIED needs",
        ),
        (
            with_key(
                "/Settings/OutputGroups/0/Outputs/0/VideoDescription",
                "VideoPreprocessors",
                serde_json::json!({"Deinterlacer": {}}),
            ),
            "Outputs[0].VideoDescription.VideoPreprocessors: not supported",
        ),
        (
            with_key(
                "/Settings/OutputGroups/0/Outputs/0",
                "CaptionDescriptions",
                serde_json::json!([]),
            ),
            "Outputs[0].CaptionDescriptions",
        ),
        (
            with_key(
                "/Settings/Inputs/0",
                "InputClippings",
                serde_json::json!([{"StartTimecode": "00:00:10:00"}]),
            ),
            "Settings.Inputs[0].InputClippings",
        ),
        (
            with_key("/Settings/Inputs/0", "DenoiseFilter", "ENABLED".into()),
            "Settings.Inputs[0].DenoiseFilter: \"ENABLED\"",
        ),
        (
            with_key(
                "/Settings/Inputs/0",
                "AudioSelectors",
                serde_json::json!({"Audio Selector 1": {"Tracks": [2]}}),
            ),
            "Settings.Inputs[0].AudioSelectors[\"Audio Selector 1\"].Tracks: [2]",
        ),
        (
            patched(
                "/Settings/OutputGroups/0/OutputGroupSettings/Type",
                "HLS_GROUP_SETTINGS".into(),
            ),
            "OutputGroupSettings.Type: \"HLS_GROUP_SETTINGS\" is not supported",
        ),
        (
            patched(
                "/Settings/OutputGroups/0/Outputs/0/VideoDescription/CodecSettings/Codec",
                "MPEG2".into(),
            ),
            "CodecSettings.Codec: \"MPEG2\" is not supported",
        ),
        (
            patched(
                "/Settings/OutputGroups/0/Outputs/0/NameModifier",
                "_../x".into(),
            ),
            "Outputs[0].NameModifier: \"_../x\" does not make a rendition name",
        ),
        (
            patched(
                "/Settings/OutputGroups/0/Outputs/0/ContainerSettings/Container",
                "MP4".into(),
            ),
            "ContainerSettings.Container: \"MP4\"",
        ),
    ];
    for (json, expected) in cases {
        let e = error_of(&json);
        assert!(e.contains(expected), "expected {expected:?} in {e:?}");
    }
}

#[test]
fn audio_settings_are_mapped_and_checked() {
    let audio_output = |aac: Value| {
        let mut doc: Value = serde_json::from_str(MINIMAL_TEMPLATE).unwrap();
        let outputs = doc
            .pointer_mut("/Settings/OutputGroups/0/Outputs")
            .and_then(Value::as_array_mut)
            .unwrap();
        outputs.push(serde_json::json!({
            "NameModifier": "-aac",
            "ContainerSettings": {"Container": "CMFC"},
            "AudioDescriptions": [{"AudioSourceName": "Audio Selector 1", "CodecSettings": {"Codec": "AAC", "AacSettings": aac}}]
        }));
        doc.to_string()
    };
    let job = import(&audio_output(serde_json::json!({"Bitrate": 96000, "SampleRate": 44100, "CodingMode": "CODING_MODE_5_1", "CodecProfile": "LC"})), &[]).unwrap();
    let a = job.template.audio.unwrap();
    assert_eq!(
        (a.name.as_str(), a.bitrate, a.sample_rate, a.channels),
        ("aac", 96_000, 44_100, 6)
    );
    let cases = [
        (
            serde_json::json!({"CodecProfile": "HEV1"}),
            "AacSettings.CodecProfile: \"HEV1\" is not supported (only LC",
        ),
        (
            serde_json::json!({"CodingMode": "CODING_MODE_1_1"}),
            "AacSettings.CodingMode: \"CODING_MODE_1_1\"",
        ),
        (
            serde_json::json!({"SampleRate": 47999}),
            "AacSettings.SampleRate: 47999 is not an AAC sample rate",
        ),
        (
            serde_json::json!({"Bitrate": 1000}),
            "AacSettings.Bitrate: 1000 is outside 16000..512000",
        ),
        (
            serde_json::json!({"Bitrate": "128k"}),
            "AacSettings.Bitrate: expected a whole number, found \"128k\"",
        ),
    ];
    for (aac, expected) in cases {
        let e = error_of(&audio_output(aac));
        assert!(e.contains(expected), "expected {expected:?} in {e:?}");
    }
}

#[test]
fn bad_types_and_numbers_are_errors() {
    let cases = [
        (
            "/Settings/OutputGroups/0/Outputs/0/VideoDescription/Height",
            Value::from("720"),
            "VideoDescription.Height: expected a whole number, found \"720\"",
        ),
        (
            "/Settings/OutputGroups/0/Outputs/0/VideoDescription/Height",
            Value::from(721.5),
            "expected a whole number",
        ),
        (
            "/Settings/OutputGroups/0/Outputs/0/VideoDescription/Height",
            Value::from(-720),
            "-720 is outside 16..4320",
        ),
        (
            &format!("{H264_PTR}/MaxBitrate"),
            serde_json::json!(1e300),
            "H264Settings.MaxBitrate: 1e+300 is outside 50000..200000000",
        ),
        (
            &format!("{H264_PTR}/MaxBitrate"),
            Value::from(u64::MAX),
            "is outside 50000..200000000",
        ),
        (
            &format!("{H264_PTR}/QvbrSettings/QvbrQualityLevel"),
            Value::from(11),
            "QvbrQualityLevel: 11 is outside 1..10",
        ),
        (
            &format!("{H264_PTR}/GopSize"),
            Value::from(0.1),
            "H264Settings.GopSize: 0.1 is outside 0.5..10 seconds",
        ),
        (
            "/Settings/OutputGroups/0/OutputGroupSettings/CmafGroupSettings/FragmentLength",
            Value::from(3),
            "CmafGroupSettings: SegmentLength and FragmentLength",
        ),
        (
            "/Settings/OutputGroups/0/OutputGroupSettings/CmafGroupSettings/WriteHlsManifest",
            Value::from(true),
            "WriteHlsManifest: expected a string",
        ),
        (
            "/Settings/Inputs",
            serde_json::json!({}),
            "Settings.Inputs: expected a list",
        ),
        (
            "/Settings/Inputs",
            serde_json::json!([]),
            "Settings.Inputs: empty",
        ),
        (
            "/Settings/OutputGroups/0/Outputs",
            serde_json::json!([[]]),
            "Outputs[0]: expected an object",
        ),
    ];
    for (pointer, value, expected) in cases {
        let e = error_of(&patched(pointer, value));
        assert!(e.contains(expected), "expected {expected:?} in {e:?}");
    }
    for doc in ["[]", "null", "3", "\"x\"", "{}", "{\"Settings\": 3}"] {
        assert!(import(doc, &[]).is_err(), "{doc}");
    }
}

#[test]
fn hrd_buffer_of_twice_max_bitrate_is_quiet() {
    let job = import(
        &with_key(H264_PTR, "HrdBufferSize", Value::from(5_000_000)),
        &[],
    )
    .unwrap();
    assert!(
        !job.warnings.iter().any(|w| w.contains("HrdBufferSize")),
        "{:?}",
        job.warnings
    );
    let job = import(
        &with_key(H264_PTR, "HrdBufferSize", Value::from(6_250_000)),
        &[],
    )
    .unwrap();
    assert!(
        job.warnings
            .iter()
            .any(|w| w.ends_with("H264Settings.HrdBufferSize = 6250000")),
        "{:?}",
        job.warnings
    );
}

/// Every value of the minimal job replaced by odd JSON: the import returns, whatever it
/// returns, and never panics.
#[test]
fn odd_values_never_panic() {
    fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, x)| {
                pointers(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                )
            }),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, x)| pointers(x, format!("{at}/{i}"), out)),
            _ => {}
        }
        out.push(at);
    }
    let doc: Value = serde_json::from_str(MINIMAL_TEMPLATE).unwrap();
    let mut all = Vec::new();
    pointers(&doc, String::new(), &mut all);
    let odd = [
        Value::Null,
        Value::Bool(true),
        Value::from(-1),
        Value::from(0),
        serde_json::json!(1.7e308),
        Value::from(u64::MAX),
        Value::from("x"),
        Value::from("s3://b/../x"),
        serde_json::json!([]),
        serde_json::json!({}),
        serde_json::json!([{}]),
    ];
    for p in all.iter().filter(|p| !p.is_empty()) {
        for v in &odd {
            let mut d = doc.clone();
            if let Some(slot) = d.pointer_mut(p) {
                *slot = v.clone();
            }
            let _ = import(&d.to_string(), &[]);
        }
    }
}
