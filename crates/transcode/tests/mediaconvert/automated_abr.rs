//! Automated ABR groups (`AutomatedEncodingSettings.AbrSettings`) imported as per-title
//! ladders: the bounds, the QVBR level as a quality score, the rules that set the
//! candidate heights, and the refusals, each by JSON path.

use openvod_transcode::mediaconvert::{import, LocationMap, MediaConvertJob};
use openvod_transcode::per_title::{LadderMode, LadderSettings};
use openvod_transcode::template::{H264Profile, VideoCodec};
use openvod_transcode::JobTemplate;
use serde_json::{json, Value};

const ABR: &str = include_str!("../fixtures/mediaconvert/automated_abr_cmaf.json");

const GROUP: &str = "/Settings/OutputGroups/0";
const ABR_SETTINGS: &str = "/Settings/OutputGroups/0/AutomatedEncodingSettings/AbrSettings";
const VIDEO: &str = "/Settings/OutputGroups/0/Outputs/0/VideoDescription";
const H264: &str = "/Settings/OutputGroups/0/Outputs/0/VideoDescription/CodecSettings/H264Settings";
/// The JSON path of `AbrSettings` in messages.
const ABR_PATH: &str = "Settings.OutputGroups[0].AutomatedEncodingSettings.AbrSettings";

fn maps() -> Vec<LocationMap> {
    vec![
        LocationMap::parse("s3://media-in-444455556666=/srv/in").unwrap(),
        LocationMap::parse("s3://media-out-444455556666=/srv/out").unwrap(),
    ]
}

fn doc() -> Value {
    serde_json::from_str(ABR).unwrap()
}

fn import_doc(d: &Value) -> MediaConvertJob {
    import(&d.to_string(), &maps()).unwrap_or_else(|e| panic!("{e}"))
}

fn error_of(d: &Value) -> String {
    match import(&d.to_string(), &maps()) {
        Ok(job) => panic!("expected an error, got {job:?}"),
        Err(e) => {
            let e = e.to_string();
            assert!(e.starts_with("MediaConvert job: "), "{e}");
            assert!(!e.contains('\n'), "{e}");
            e
        }
    }
}

/// `d` with the value at a JSON pointer replaced, or added to its parent object.
fn set(mut d: Value, pointer: &str, value: Value) -> Value {
    if let Some(slot) = d.pointer_mut(pointer) {
        *slot = value;
    } else {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        d.pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("no object at {parent}"))
            .insert(key.to_string(), value);
    }
    d
}

fn with_abr(value: Value) -> Value {
    set(doc(), ABR_SETTINGS, value)
}

fn heights(job: &MediaConvertJob) -> Vec<u32> {
    job.template.video.rungs.iter().map(|r| r.height).collect()
}

#[test]
fn automated_abr_job_imports_as_a_per_title_ladder() {
    let job = import_doc(&doc());
    let t = &job.template;
    assert_eq!(
        t.ladder,
        LadderSettings {
            mode: LadderMode::PerTitle,
            min_bitrate: 400_000,
            max_bitrate: 6_000_000,
            max_rungs: 5,
            // QVBR level 7 on openvod's score scale.
            top_quality: 91.0,
            quality_step: LadderSettings::default().quality_step,
            codec: None,
        }
    );
    // The output's codec settings are every rendition's.
    assert_eq!(t.video.codec, VideoCodec::H264);
    assert!(t.video.codecs.is_empty());
    assert_eq!(t.video.profile, H264Profile::High);
    assert_eq!(t.video.gop_seconds, 2.0);
    // No ALLOWED_RENDITIONS rule: the built-in ladder's heights are the candidates,
    // capped at the job's ceiling should the template be run as a fixed ladder.
    let builtin: Vec<u32> = JobTemplate::default_ladder()
        .video
        .rungs
        .iter()
        .map(|r| r.height)
        .collect();
    assert_eq!(heights(&job), builtin);
    assert_eq!(heights(&job), [1080, 720, 540, 360]);
    for r in &t.video.rungs {
        assert_eq!(r.name, format!("{}p", r.height));
        assert_eq!(
            (r.width, r.max_bitrate, r.quality, r.codec),
            (None, 6_000_000, None, None)
        );
    }
    assert_eq!(t.packaging.segment_seconds, 6.0);
    assert_eq!(t.audio.as_ref().unwrap().name, "aac");
    t.validate().unwrap();
    // The output's NameModifier cannot name renditions the analysis chooses.
    assert!(
        job.warnings.iter().any(|w| w.starts_with(
            "ignored: Settings.OutputGroups[0].Outputs[0].NameModifier = \"_video\": "
        )),
        "{:?}",
        job.warnings
    );
}

#[test]
fn absent_abr_fields_keep_openvods_defaults_but_awss_ceiling() {
    let job = import_doc(&with_abr(json!({})));
    assert_eq!(
        job.template.ladder,
        LadderSettings {
            mode: LadderMode::PerTitle,
            max_bitrate: 8_000_000,
            ..LadderSettings::default()
        }
    );
    assert_eq!(heights(&job), [1080, 720, 540, 360]);

    // One bound alone: the other keeps its default.
    let job = import_doc(&with_abr(json!({"MaxAbrBitrate": 3_000_000})));
    assert_eq!(job.template.ladder.max_bitrate, 3_000_000);
    assert_eq!(
        job.template.ladder.min_bitrate,
        LadderSettings::default().min_bitrate
    );
    let job = import_doc(&with_abr(json!({"MaxQualityLevel": 9.5})));
    assert_eq!(job.template.ladder.top_quality, 96.25);
    assert_eq!(
        job.template.ladder.max_rungs,
        LadderSettings::default().max_rungs
    );
}

#[test]
fn abr_values_out_of_awss_ranges_are_refused_by_path() {
    let cases = [
        (
            json!({"MaxRenditions": 2}),
            format!("{ABR_PATH}.MaxRenditions: 2 is outside 3..15 renditions"),
        ),
        (
            json!({"MaxRenditions": 16}),
            format!("{ABR_PATH}.MaxRenditions: 16 is outside 3..15 renditions"),
        ),
        (
            json!({"MaxAbrBitrate": 500_000, "MinAbrBitrate": 600_000}),
            format!("{ABR_PATH}.MaxAbrBitrate: 500000 is not above MinAbrBitrate 600000"),
        ),
        (
            json!({"MaxAbrBitrate": 600_000, "MinAbrBitrate": 600_000}),
            format!("{ABR_PATH}.MaxAbrBitrate: 600000 is not above MinAbrBitrate 600000"),
        ),
        (
            json!({"MinAbrBitrate": 9_000_000}),
            format!("{ABR_PATH}.MinAbrBitrate: 9000000 is not below the default ceiling of 8000000"),
        ),
        (
            json!({"MaxAbrBitrate": 50_000}),
            format!("{ABR_PATH}.MaxAbrBitrate: 50000 is outside 100000..100000000"),
        ),
        (
            json!({"MaxAbrBitrate": "8M"}),
            format!("{ABR_PATH}.MaxAbrBitrate: expected a whole number"),
        ),
        (
            json!({"MaxQualityLevel": 11}),
            format!("{ABR_PATH}.MaxQualityLevel: 11 is outside 1..10"),
        ),
        (
            json!({"MaxRenditions": 6, "MaxResolution": "1080p"}),
            format!("{ABR_PATH}.MaxResolution: not supported by openvod; ignoring it would change the output"),
        ),
        (json!([]), format!("{ABR_PATH}: expected an object")),
    ];
    for (abr, expected) in cases {
        let e = error_of(&with_abr(abr.clone()));
        assert!(
            e.contains(&expected),
            "{abr}: expected {expected:?} in {e:?}"
        );
    }
    // AbrSettings is AutomatedEncodingSettings' one key.
    let e = error_of(&set(
        doc(),
        &format!("{GROUP}/AutomatedEncodingSettings"),
        json!({}),
    ));
    assert!(
        e.contains("Settings.OutputGroups[0].AutomatedEncodingSettings.AbrSettings: missing"),
        "{e}"
    );
    let e = error_of(&set(
        doc(),
        &format!("{GROUP}/AutomatedEncodingSettings/Preset"),
        json!("x"),
    ));
    assert!(
        e.contains("AutomatedEncodingSettings.Preset: not supported by openvod"),
        "{e}"
    );
}

#[test]
fn h265_automated_abr_job_keeps_hevc() {
    let settings = json!({
        "Codec": "H_265",
        "H265Settings": {
            "RateControlMode": "QVBR",
            "QualityTuningLevel": "MULTI_PASS_HQ",
            "CodecProfile": "MAIN10_MAIN",
            "WriteMp4PackagingType": "HVC1",
            "GopSizeUnits": "SECONDS",
            "GopSize": 2
        }
    });
    let job = import_doc(&set(doc(), &format!("{VIDEO}/CodecSettings"), settings));
    let t = &job.template;
    assert_eq!(t.video.codec, VideoCodec::Hevc);
    assert!(t.video.codecs.is_empty());
    assert!(t.video.hevc_main10);
    assert_eq!(t.ladder.mode, LadderMode::PerTitle);
    // The analysis runs in the ladder's codec.
    assert_eq!(t.ladder.codec, None);
    assert_eq!(t.video.ladder_codecs(), [VideoCodec::Hevc]);
    assert_eq!(heights(&job), [1080, 720, 540, 360]);
    t.validate().unwrap();
}

#[test]
fn automated_abr_outputs_give_no_size_and_no_level() {
    for key in ["Height", "Width"] {
        let e = error_of(&set(doc(), &format!("{VIDEO}/{key}"), json!(720)));
        assert!(
            e.contains(&format!(
                "Settings.OutputGroups[0].Outputs[0].VideoDescription.{key}: an Automated ABR \
                 group's output gives no size"
            )),
            "{e}"
        );
        assert!(e.contains("ALLOWED_RENDITIONS"), "{e}");
    }
    let e = error_of(&set(
        doc(),
        &format!("{H264}/QvbrSettings"),
        json!({"QvbrQualityLevel": 8}),
    ));
    assert!(
        e.contains("H264Settings.QvbrSettings.QvbrQualityLevel: in an Automated ABR group")
            && e.contains("AbrSettings.MaxQualityLevel"),
        "{e}"
    );
    // Still QVBR only.
    let e = error_of(&set(
        doc(),
        &format!("{H264}/RateControlMode"),
        json!("CBR"),
    ));
    assert!(
        e.contains("H264Settings.RateControlMode: \"CBR\" is not supported"),
        "{e}"
    );

    // One video output: every rendition is made from it.
    let mut d = doc();
    let video = d
        .pointer("/Settings/OutputGroups/0/Outputs/0")
        .unwrap()
        .clone();
    d.pointer_mut("/Settings/OutputGroups/0/Outputs")
        .and_then(Value::as_array_mut)
        .unwrap()
        .push(video);
    let e = error_of(&d);
    assert!(
        e.contains("Settings.OutputGroups[0].Outputs[2]: a second video output in an Automated ABR group (the first is Settings.OutputGroups[0].Outputs[0])"),
        "{e}"
    );
}

#[test]
fn an_outputs_max_bitrate_lowers_the_ceiling() {
    let job = import_doc(&set(doc(), &format!("{H264}/MaxBitrate"), json!(4_000_000)));
    assert_eq!(job.template.ladder.max_bitrate, 4_000_000);
    assert!(job
        .template
        .video
        .rungs
        .iter()
        .all(|r| r.max_bitrate == 4_000_000));
    // Above MaxAbrBitrate it changes nothing.
    let job = import_doc(&set(doc(), &format!("{H264}/MaxBitrate"), json!(9_000_000)));
    assert_eq!(job.template.ladder.max_bitrate, 6_000_000);
    // At or under the floor no rendition could be capped.
    let e = error_of(&set(doc(), &format!("{H264}/MaxBitrate"), json!(400_000)));
    assert!(
        e.contains("H264Settings.MaxBitrate: 400000 is not above the ladder's floor of 400000 b/s"),
        "{e}"
    );
}

#[test]
fn rules_set_the_candidate_heights() {
    let allowed = json!({
        "Type": "ALLOWED_RENDITIONS",
        "AllowedRenditions": [
            {"Width": 1280, "Height": 720, "Required": "DISABLED"},
            {"Width": 1920, "Height": 1080},
            {"Width": 640, "Height": 360},
            {"Width": 1280, "Height": 720}
        ]
    });
    let job = import_doc(&with_abr(json!({"Rules": [allowed.clone()]})));
    // Largest first, duplicates once (as AWS ignores them).
    assert_eq!(heights(&job), [1080, 720, 360]);
    let names: Vec<&str> = job
        .template
        .video
        .rungs
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(names, ["1080p", "720p", "360p"]);
    job.template.validate().unwrap();

    // A floor on the bottom rendition: the candidates under it are left out.
    let bottom = json!({"Type": "MIN_BOTTOM_RENDITION_SIZE", "MinBottomRenditionSize": {"Width": 960, "Height": 540}});
    let job = import_doc(&with_abr(json!({"Rules": [bottom.clone()]})));
    assert_eq!(heights(&job), [1080, 720, 540]);
    let job = import_doc(&with_abr(
        json!({"Rules": [allowed.clone(), bottom.clone()]}),
    ));
    assert_eq!(heights(&job), [1080, 720]);

    // A width that is not 16:9 to the height is reported: openvod keeps the source's
    // aspect ratio.
    let square =
        json!({"Type": "ALLOWED_RENDITIONS", "AllowedRenditions": [{"Width": 720, "Height": 720}]});
    let job = import_doc(&with_abr(json!({"Rules": [square]})));
    assert_eq!(heights(&job), [720]);
    let w = format!(
        "ignored: {ABR_PATH}.Rules[0].AllowedRenditions[0].Width = 720: openvod keeps the source's aspect ratio"
    );
    assert!(
        job.warnings.iter().any(|x| x.starts_with(&w)),
        "{:?}",
        job.warnings
    );
}

#[test]
fn rules_openvod_cannot_follow_are_refused_by_path() {
    let rule = |r: Value| with_abr(json!({"Rules": [r]}));
    let cases = [
        (
            json!({"Type": "MIN_TOP_RENDITION_SIZE", "MinTopRenditionSize": {"Width": 1920, "Height": 1080}}),
            format!("{ABR_PATH}.Rules[0].Type: \"MIN_TOP_RENDITION_SIZE\" is not supported"),
        ),
        (
            json!({"Type": "FORCE_INCLUDE_RENDITIONS", "ForceIncludeRenditions": [{"Width": 1280, "Height": 720}]}),
            format!("{ABR_PATH}.Rules[0].Type: \"FORCE_INCLUDE_RENDITIONS\" is not supported"),
        ),
        (
            json!({"Type": "ALLOWED_RENDITIONS", "AllowedRenditions": [{"Width": 1280, "Height": 720, "Required": "ENABLED"}]}),
            format!("{ABR_PATH}.Rules[0].AllowedRenditions[0].Required: \"ENABLED\" is not supported"),
        ),
        (
            json!({"Type": "ALLOWED_RENDITIONS", "AllowedRenditions": []}),
            format!("{ABR_PATH}.Rules[0].AllowedRenditions: empty"),
        ),
        (
            json!({"Type": "ALLOWED_RENDITIONS"}),
            format!("{ABR_PATH}.Rules[0].AllowedRenditions: missing"),
        ),
        (
            json!({"Type": "ALLOWED_RENDITIONS", "AllowedRenditions": [{"Width": 1280, "Height": 721}]}),
            format!("{ABR_PATH}.Rules[0].AllowedRenditions[0].Height: 721: heights must be even"),
        ),
        (
            json!({"Type": "ALLOWED_RENDITIONS", "AllowedRenditions": [{"Width": 1280, "Height": 720}], "MinTopRenditionSize": {"Height": 720}}),
            format!("{ABR_PATH}.Rules[0].MinTopRenditionSize: not supported by openvod"),
        ),
        (
            json!({"Type": "MIN_BOTTOM_RENDITION_SIZE", "MinBottomRenditionSize": {"Width": 3840, "Height": 2160}}),
            format!("{ABR_PATH}.Rules[0].MinBottomRenditionSize.Height: 2160 pixels is above every candidate height"),
        ),
        (
            json!({"Type": "MAX_RESOLUTION"}),
            format!("{ABR_PATH}.Rules[0].Type: \"MAX_RESOLUTION\" is not a rule type"),
        ),
    ];
    for (r, expected) in cases {
        let e = error_of(&rule(r.clone()));
        assert!(e.contains(&expected), "{r}: expected {expected:?} in {e:?}");
    }
    let allowed = json!({"Type": "ALLOWED_RENDITIONS", "AllowedRenditions": [{"Height": 720}]});
    let e = error_of(&with_abr(json!({"Rules": [allowed.clone(), allowed]})));
    assert!(
        e.contains(&format!(
            "{ABR_PATH}.Rules[1].Type: a second ALLOWED_RENDITIONS rule"
        )),
        "{e}"
    );
}
