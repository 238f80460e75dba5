//! Import of AWS Elemental MediaConvert jobs, for `openvod transcode --mediaconvert-job`.
//!
//! A MediaConvert job is turned into a [`JobTemplate`] plus an input file and an output
//! folder, so that a team moving off MediaConvert can keep its job JSON. Three shapes of
//! document are accepted, as the AWS documentation writes them: a `CreateJob` request body
//! (`{"Settings": {...}, "Role": ..., "Queue": ...}`), a job-template document
//! (`{"Name": ..., "Settings": {...}}`), and a bare `Settings` object
//! (`{"Inputs": [...], "OutputGroups": [...]}`).
//!
//! openvod does a small part of what MediaConvert can do: one input, one CMAF output group
//! (`CMAF_GROUP_SETTINGS`) of H.264 QVBR video rungs and at most one AAC audio rendition.
//! The importer therefore walks **every key** of the document, and each key is one of:
//!
//! * **mapped**: read into the template (`Width`, `Height`, `MaxBitrate`,
//!   `QvbrQualityLevel`, `SegmentLength`, ...);
//! * **harmless**: it does not change the pictures or sounds openvod writes (queue and
//!   billing settings, encoder tuning such as `QualityTuningLevel`, manifest cosmetics).
//!   It is accepted, and reported in [`MediaConvertJob::warnings`] as
//!   `ignored: <json.path> = <value>` unless its value is the one openvod behaves like
//!   anyway (each table below lists those values), so that nobody is surprised;
//! * **refused**: anything else, including every key this module does not know. Ignoring
//!   such a key (`Encryption`, `CaptionDescriptions`, `VideoPreprocessors`, a `CBR` rate
//!   control, ...) would give an output different from the one the job describes, so the
//!   import fails with a one-line [`Error::MediaConvert`] naming the JSON path.
//!
//! Values are type- and range-checked with the same bounds as [`JobTemplate::validate`]
//! (which also runs on the result), and the document is limited to [`MAX_JOB_BYTES`].
//! Nothing read from the JSON is unwrapped: odd documents give errors, never panics.
//!
//! S3 locations (`s3://bucket/key`) are mapped to local folders with [`LocationMap`]s
//! (`--map s3://bucket=DIR`); keys with `.` or `..` segments are refused so that a job
//! cannot point outside the mapped folder.

use std::fmt::Display;
use std::path::PathBuf;

use openvod_media::segment::SegmentTarget;
use serde_json::{Map, Value};

use crate::template::{AudioSettings, JobTemplate, LadderRung, PackagingSettings};
use crate::{Error, Result};

/// Largest job document accepted. MediaConvert's own jobs are far smaller (tens of KiB);
/// the bound keeps a stray multi-gigabyte file from being read and parsed.
pub const MAX_JOB_BYTES: usize = 1 << 20;

/// Name given to imported templates (MediaConvert jobs have no name of their own).
pub const TEMPLATE_NAME: &str = "mediaconvert";

/// An imported MediaConvert job.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaConvertJob {
    /// `Settings.Inputs[0].FileInput`, mapped to a local path.
    pub input: PathBuf,
    /// `CmafGroupSettings.Destination` mapped to a local folder; `None` when the job has no
    /// destination (the caller then needs `--out`).
    pub destination: Option<PathBuf>,
    /// The ladder, codec, audio and packaging settings the job describes, on top of the
    /// built-in default template (whose preset and frame-rate cap are kept); it passes
    /// [`JobTemplate::validate`].
    pub template: JobTemplate,
    /// One line per accepted-but-ignored field: `ignored: <json.path> = <value>`.
    pub warnings: Vec<String>,
}

/// Where an S3 bucket of the job lives on this machine: `--map s3://bucket=DIR`.
///
/// `s3://bucket/a/b.mp4` is read from `DIR/a/b.mp4`, and a `Destination` of
/// `s3://bucket/out/` is written to the folder `DIR/out`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationMap {
    pub bucket: String,
    pub dir: PathBuf,
}

impl LocationMap {
    /// Parses `s3://bucket=DIR`. Only whole buckets are mapped (no prefixes): the prefix of
    /// each S3 URL is kept under `DIR`, so one map serves every key of the bucket.
    pub fn parse(arg: &str) -> Result<LocationMap> {
        let bad = |why: &str| {
            Error::MediaConvert(format!(
                "--map {}: {why}; expected s3://BUCKET=DIR",
                quoted(arg)
            ))
        };
        let rest = arg
            .strip_prefix("s3://")
            .ok_or_else(|| bad("does not start with s3://"))?;
        let (bucket, dir) = rest.split_once('=').ok_or_else(|| bad("has no '=DIR'"))?;
        let bucket = bucket.strip_suffix('/').unwrap_or(bucket);
        if bucket.contains('/') {
            return Err(bad(
                "maps a prefix; map the whole bucket (keys keep their prefix under DIR)",
            ));
        }
        if !valid_bucket(bucket) {
            return Err(bad("the bucket name is not a valid S3 bucket name"));
        }
        if dir.is_empty() || dir.contains('\0') {
            return Err(bad("the folder is empty or invalid"));
        }
        Ok(LocationMap {
            bucket: bucket.to_string(),
            dir: PathBuf::from(dir),
        })
    }
}

/// S3 bucket names: 3-63 of `a-z 0-9 . -` today; older us-east-1 buckets may be up to 255
/// characters with capitals and `_`, so those are allowed too.
fn valid_bucket(b: &str) -> bool {
    (1..=255).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
}

/// Imports a MediaConvert job document (see the module documentation for what is
/// accepted). `maps` locate the S3 buckets it names.
pub fn import(json: &str, maps: &[LocationMap]) -> Result<MediaConvertJob> {
    if json.len() > MAX_JOB_BYTES {
        return Err(Error::MediaConvert(format!(
            "the document is {} bytes, more than the 1 MiB limit for a job",
            json.len()
        )));
    }
    for (i, m) in maps.iter().enumerate() {
        if maps[..i]
            .iter()
            .any(|o| o.bucket == m.bucket && o.dir != m.dir)
        {
            return Err(Error::MediaConvert(format!(
                "--map s3://{} is given twice with different folders",
                m.bucket
            )));
        }
    }
    let root: Value = serde_json::from_str(json)
        .map_err(|e| Error::MediaConvert(format!("not valid JSON: {e}")))?;
    let mut cx = Importer {
        maps,
        warnings: Vec::new(),
    };
    let mut top = Obj::new(&root, String::new())?;
    let (input, destination, template) = if let Some((settings, path)) = top.take("Settings") {
        // A CreateJob body or a job template. `JobTemplate` in a CreateJob means "start from
        // this template and apply Settings on top"; openvod cannot fetch the template, so
        // the job's own Settings must be complete (a missing OutputGroups says so).
        let job_template = match top.take("JobTemplate") {
            Some((v, p)) => {
                cx.warnings.push(format!(
                    "{} (openvod cannot read MediaConvert \
                        templates: only this job's Settings are used)",
                    ignored(&p, v)
                ));
                Some(v.as_str().unwrap_or("?").to_string())
            }
            None => None,
        };
        top.finish(&mut cx.warnings, TOP_LEVEL)?;
        cx.settings(settings, path, job_template.as_deref())?
    } else if top.has("Inputs") || top.has("OutputGroups") {
        cx.settings(&root, String::new(), None)?
    } else {
        return Err(Error::MediaConvert(
            "expected a CreateJob request ({\"Settings\": ...}), a job template, or a Settings \
             object ({\"Inputs\": ..., \"OutputGroups\": ...})"
                .into(),
        ));
    };
    Ok(MediaConvertJob {
        input,
        destination,
        template,
        warnings: cx.warnings,
    })
}

// ---------------------------------------------------------------------------------------
// Tables of harmless fields.
//
// Each entry names a key that openvod accepts without using. Values listed in `quiet`
// are what openvod does anyway (x264 `medium`, closed 2 s GOPs, square pixels, fMP4 CMAF
// segments, floating-point EXTINF, SegmentTimeline...), so they are accepted silently;
// other values are reported as ignored (`Else::Warn`), or refused when they would change
// the output (`Else::Refuse`, `Else::WarnOnly` for the values still harmless).
// ---------------------------------------------------------------------------------------

/// A JSON value in a table.
#[derive(Debug, Clone, Copy)]
enum Lit {
    S(&'static str),
    N(f64),
    EmptyObject,
    EmptyArray,
    /// An object with exactly these keys and values.
    Obj(&'static [(&'static str, Lit)]),
}

impl Lit {
    fn matches(self, v: &Value) -> bool {
        match (self, v) {
            (Lit::S(s), Value::String(t)) => s == t,
            (Lit::N(n), Value::Number(m)) => m.as_f64() == Some(n),
            (Lit::EmptyObject, Value::Object(m)) => m.is_empty(),
            (Lit::EmptyArray, Value::Array(a)) => a.is_empty(),
            (Lit::Obj(fields), Value::Object(m)) => {
                m.len() == fields.len()
                    && fields
                        .iter()
                        .all(|(k, l)| m.get(*k).is_some_and(|x| l.matches(x)))
            }
            _ => false,
        }
    }
}

impl Display for Lit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lit::S(s) => write!(f, "{s:?}"),
            Lit::N(n) => write!(f, "{n}"),
            Lit::EmptyObject => f.write_str("{}"),
            Lit::EmptyArray => f.write_str("[]"),
            Lit::Obj(fields) => {
                f.write_str("{")?;
                for (i, (k, l)) in fields.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{k:?}: {l}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// What to do with a value of a harmless field that is not in its `quiet` list.
#[derive(Debug, Clone, Copy)]
enum Else {
    /// Accept with an `ignored:` warning.
    Warn,
    /// Warn for these values, refuse any other.
    WarnOnly(&'static [Lit]),
    /// Refuse: any other value would change the output.
    Refuse,
}

#[derive(Debug, Clone, Copy)]
struct Field {
    key: &'static str,
    quiet: &'static [Lit],
    other: Else,
}

const fn warn(key: &'static str, quiet: &'static [Lit]) -> Field {
    Field {
        key,
        quiet,
        other: Else::Warn,
    }
}

const fn refuse(key: &'static str, quiet: &'static [Lit]) -> Field {
    Field {
        key,
        quiet,
        other: Else::Refuse,
    }
}

const fn warn_only(key: &'static str, quiet: &'static [Lit], also: &'static [Lit]) -> Field {
    Field {
        key,
        quiet,
        other: Else::WarnOnly(also),
    }
}

use Lit::{EmptyArray, EmptyObject, N, S};

/// Top-level keys of a CreateJob body or job template besides `Settings` and
/// `JobTemplate`: where and how AWS runs the job, never what it writes.
const TOP_LEVEL: &[Field] = &[
    warn(
        "AccelerationSettings",
        &[Lit::Obj(&[("Mode", S("DISABLED"))])],
    ),
    warn("BillingTagsSource", &[]),
    warn("Category", &[]),
    warn("ClientRequestToken", &[]),
    warn("Description", &[]),
    warn("HopDestinations", &[EmptyArray]),
    warn("JobEngineVersion", &[]),
    warn("Name", &[]),
    warn("Priority", &[N(0.0)]),
    warn("Queue", &[]),
    warn("Role", &[]),
    warn("SimulateReservedQueue", &[S("DISABLED")]),
    warn("StatusUpdateInterval", &[]),
    warn("Tags", &[EmptyObject]),
    warn("Type", &[]),
    warn("UserMetadata", &[EmptyObject]),
];

/// `Settings`. Timecode and ad-avail settings only affect metadata openvod does not write
/// (`-map_metadata -1`). Watermarking, `AvailBlanking`, `MotionImageInserter`, `Esam` and
/// the rest change the pictures and are refused as unknown keys.
const SETTINGS: &[Field] = &[
    warn("AdAvailOffset", &[N(0.0)]),
    warn("ExtendedDataServices", &[]),
    warn("FollowSource", &[N(1.0)]),
    warn("TimecodeConfig", &[Lit::Obj(&[("Source", S("ZEROBASED"))])]),
    warn("TimedMetadataInsertion", &[]),
];

/// `Inputs[0]`. Input filters change the pictures unless left at their defaults;
/// `InputClippings`, `CaptionSelectors`, `ImageInserter`, `Crop`, `Position`... are
/// refused as unknown keys.
const INPUT: &[Field] = &[
    refuse("AdvancedInputFilter", &[S("DISABLED")]),
    refuse("DeblockFilter", &[S("DISABLED")]),
    refuse("DenoiseFilter", &[S("DISABLED")]),
    // FORCE applies the deblock/denoise filters even to clean sources.
    warn_only("FilterEnable", &[S("AUTO")], &[S("DISABLE")]),
    warn("FilterStrength", &[N(0.0)]),
    warn("InputScanType", &[S("AUTO")]),
    refuse("ProgramNumber", &[N(1.0)]),
    warn("PsiControl", &[S("USE_PSI")]),
    warn("TimecodeSource", &[S("ZEROBASED")]),
    warn("TimecodeStart", &[]),
];

/// `Inputs[0].VideoSelector`. openvod follows the source's colour space and range and
/// applies its rotation (`Rotate: AUTO`); forcing any of them changes the pictures.
const VIDEO_SELECTOR: &[Field] = &[
    refuse("AlphaBehavior", &[S("DISCARD")]),
    refuse("ColorSpace", &[S("FOLLOW")]),
    warn("ColorSpaceUsage", &[S("FALLBACK")]),
    warn("EmbeddedTimecodeOverride", &[S("NONE")]),
    warn("MaxLuminance", &[]),
    refuse("PadVideo", &[S("DISABLED")]),
    // DEGREE_0 (MediaConvert's default) differs only for sources with a rotation.
    warn_only("Rotate", &[S("AUTO")], &[S("DEGREE_0")]),
    refuse("SampleRange", &[S("FOLLOW")]),
];

/// `Inputs[0].AudioSelectors.<name>` besides `SelectorType` and `Tracks`. openvod
/// always takes the source's first audio track, as-is.
const AUDIO_SELECTOR: &[Field] = &[
    warn("AudioDurationCorrection", &[S("DISABLED")]),
    warn("CustomLanguageCode", &[]),
    warn("DefaultSelection", &[S("DEFAULT")]),
    refuse("Offset", &[N(0.0)]),
    // Only meaningful for Dolby E sources; the console writes 1.
    refuse("ProgramSelection", &[N(0.0), N(1.0)]),
];

/// `OutputGroups[i]` besides `Outputs` and `OutputGroupSettings`.
const OUTPUT_GROUP: &[Field] = &[warn("Name", &[]), warn("CustomName", &[])];

/// `CmafGroupSettings` besides `Destination`, `SegmentLength`, `FragmentLength`,
/// `WriteHlsManifest` and `WriteDashManifest`. openvod writes segmented fMP4 files,
/// floating-point `EXTINF`, RFC 6381 `CODECS`, `RESOLUTION` and a `SegmentTimeline`;
/// `Encryption`, `AdditionalManifests` and trick-play outputs are refused.
const CMAF_GROUP: &[Field] = &[
    refuse("AdditionalManifests", &[EmptyArray]),
    warn("BaseUrl", &[S("")]),
    warn("ClientCache", &[S("ENABLED")]),
    warn("CodecSpecification", &[S("RFC_6381")]),
    warn("DashManifestStyle", &[S("BASIC")]),
    warn("DestinationSettings", &[]),
    refuse("ImageBasedTrickPlay", &[S("NONE")]),
    warn("ImageBasedTrickPlaySettings", &[]),
    refuse("ManifestCompression", &[S("NONE")]),
    warn("ManifestDurationFormat", &[S("FLOATING_POINT")]),
    warn("MinBufferTime", &[]),
    warn("MinFinalSegmentLength", &[N(0.0)]),
    warn("MpdManifestBandwidthType", &[]),
    warn("MpdProfile", &[]),
    warn("PtsOffsetHandlingForBFrames", &[]),
    refuse("SegmentControl", &[S("SEGMENTED_FILES")]),
    // openvod cuts segments on GOP boundaries, which is what GOP_MULTIPLE does.
    warn("SegmentLengthControl", &[S("GOP_MULTIPLE")]),
    warn("StreamInfResolution", &[S("INCLUDE")]),
    warn("TargetDurationCompatibilityMode", &[]),
    warn("VideoCompositionOffsets", &[]),
    warn("WriteSegmentTimelineInRepresentation", &[S("ENABLED")]),
];

/// `Outputs[i]` besides `NameModifier`, `ContainerSettings`, `VideoDescription` and
/// `AudioDescriptions`. `CaptionDescriptions` and `Preset` are refused.
const OUTPUT: &[Field] = &[
    warn("Extension", &[]),
    refuse("OutputSettings", &[EmptyObject]),
];

/// `ContainerSettings.CmfcSettings`: manifest signalling and metadata tracks. openvod
/// writes I-frame playlists (`IFrameOnlyManifest: INCLUDE`) and no SCTE-35 or ID3.
const CMFC: &[Field] = &[
    warn("AudioDuration", &[]),
    warn("AudioGroupId", &[]),
    warn("AudioRenditionSets", &[]),
    warn("AudioTrackType", &[]),
    warn("DescriptiveVideoServiceFlag", &[S("DONT_FLAG")]),
    warn("IFrameOnlyManifest", &[S("INCLUDE")]),
    warn("KlvMetadata", &[S("NONE")]),
    warn("ManifestMetadataSignaling", &[S("DISABLED")]),
    warn("Scte35Esam", &[S("NONE")]),
    warn("Scte35Source", &[S("NONE")]),
    warn("TimedMetadata", &[S("NONE")]),
    warn("TimedMetadataBoxVersion", &[]),
    warn("TimedMetadataSchemeIdUri", &[]),
    warn("TimedMetadataValue", &[]),
];

/// `VideoDescription` besides `Width`, `Height` and `CodecSettings`. `Crop`, `Position`
/// and `VideoPreprocessors` are refused. openvod scales to exactly `Width` x `Height`
/// when both are given, like `STRETCH_TO_OUTPUT`; MediaConvert's `DEFAULT` gives the same
/// picture whenever the source has that aspect ratio.
const VIDEO_DESCRIPTION: &[Field] = &[
    warn("AfdSignaling", &[S("NONE")]),
    warn("AntiAlias", &[S("ENABLED")]),
    warn("ChromaPositionMode", &[]),
    warn("ColorMetadata", &[S("INSERT")]),
    warn("DropFrameTimecode", &[S("ENABLED")]),
    warn("FixedAfd", &[]),
    // RESPOND crops or boxes the picture by the source's AFD code.
    warn_only("RespondToAfd", &[S("NONE")], &[S("PASSTHROUGH")]),
    refuse("ScalingBehavior", &[S("DEFAULT"), S("STRETCH_TO_OUTPUT")]),
    warn("Sharpness", &[N(50.0)]),
    warn("TimecodeInsertion", &[S("DISABLED")]),
    warn("TimecodeTrack", &[S("DISABLED")]),
];

/// `H264Settings` besides the mapped `RateControlMode`, `MaxBitrate`, `QvbrSettings`,
/// `CodecProfile`, `GopSize`, `GopSizeUnits`, `HrdBufferSize` and the `Par*` fields.
/// Quiet values are x264 `medium` with openvod's options (3 reference frames, 3 B-frames
/// with pyramid, adaptive B-frame placement, CABAC, closed GOPs, no scene-cut keyframes,
/// a VBV that starts 90 % full). Tuning fields only trade encode time against quality at
/// the same settings, so they are ignored; `InterlaceMode`, `Telecine`, `SlowPal`,
/// `ScanTypeConversionMode` and a specified frame rate change the output.
const H264: &[Field] = &[
    warn("AdaptiveQuantization", &[S("AUTO")]),
    warn("Bitrate", &[]),
    warn("CodecLevel", &[S("AUTO")]),
    warn("DynamicSubGop", &[S("ADAPTIVE")]),
    warn("EndOfStreamMarkers", &[]),
    warn("EntropyEncoding", &[S("CABAC")]),
    warn("FieldEncoding", &[S("PAFF")]),
    warn("FlickerAdaptiveQuantization", &[S("DISABLED")]),
    warn("FramerateConversionAlgorithm", &[S("DUPLICATE_DROP")]),
    refuse("FramerateControl", &[S("INITIALIZE_FROM_SOURCE")]),
    warn("FramerateDenominator", &[]),
    warn("FramerateNumerator", &[]),
    warn("GopBReference", &[S("ENABLED")]),
    warn("GopClosedCadence", &[N(1.0)]),
    warn("HrdBufferFinalFillPercentage", &[]),
    warn("HrdBufferInitialFillPercentage", &[N(90.0)]),
    refuse("InterlaceMode", &[S("PROGRESSIVE")]),
    warn("MinIInterval", &[N(0.0)]),
    warn("NumberBFramesBetweenReferenceFrames", &[N(3.0)]),
    warn("NumberReferenceFrames", &[N(3.0)]),
    warn("QualityTuningLevel", &[]),
    warn("RepeatPps", &[S("DISABLED")]),
    warn("SaliencyAwareEncoding", &[S("DISABLED")]),
    // INTERLACED is the no-op default for progressive outputs.
    refuse("ScanTypeConversionMode", &[S("INTERLACED")]),
    warn("SceneChangeDetect", &[S("DISABLED")]),
    refuse("SlowPal", &[S("DISABLED")]),
    warn("Slices", &[N(1.0)]),
    warn("Softness", &[N(0.0)]),
    warn("SpatialAdaptiveQuantization", &[S("ENABLED")]),
    warn("Syntax", &[S("DEFAULT")]),
    refuse("Telecine", &[S("NONE")]),
    warn("TemporalAdaptiveQuantization", &[S("ENABLED")]),
    warn("UnregisteredSeiTimecode", &[S("DISABLED")]),
    warn("WriteMp4PackagingType", &[]),
];

/// `QvbrSettings` besides `QvbrQualityLevel`. `MaxAverageBitrate` caps the average rate
/// and is refused.
const QVBR: &[Field] = &[warn("QvbrQualityLevelFineTune", &[N(0.0)])];

/// `AudioDescriptions[0]` besides `AudioSourceName` and `CodecSettings`.
/// `AudioNormalizationSettings` and `RemixSettings` change the sound and are refused.
const AUDIO_DESCRIPTION: &[Field] = &[
    warn("AudioChannelTaggingSettings", &[]),
    warn("AudioType", &[N(0.0)]),
    warn("AudioTypeControl", &[S("FOLLOW_INPUT")]),
    warn("CustomLanguageCode", &[]),
    warn("LanguageCode", &[]),
    warn("LanguageCodeControl", &[S("FOLLOW_INPUT")]),
    warn("StreamName", &[]),
];

/// `AacSettings` besides `Bitrate`, `SampleRate`, `CodingMode` and `CodecProfile`. openvod
/// encodes MPEG-4 AAC-LC at a constant `Bitrate` in fMP4 (no LATM/LOAS).
const AAC: &[Field] = &[
    warn("AudioDescriptionBroadcasterMix", &[S("NORMAL")]),
    warn("RateControlMode", &[S("CBR")]),
    refuse("RawFormat", &[S("NONE")]),
    warn("Specification", &[S("MPEG4")]),
    warn("VbrQuality", &[]),
];

const CHANGES: &str = "ignoring it would change the output";

// ---------------------------------------------------------------------------------------
// The walk.
// ---------------------------------------------------------------------------------------

/// A JSON object being read: the keys the importer reads are marked as taken, and
/// [`Obj::finish`] sorts the rest into harmless and refused, so no key goes unexamined.
struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
    taken: Vec<&'a str>,
}

impl<'a> Obj<'a> {
    fn new(v: &'a Value, path: String) -> Result<Obj<'a>> {
        match v {
            Value::Object(map) => Ok(Obj {
                path,
                map,
                taken: Vec::new(),
            }),
            other => Err(err(
                &path,
                format!("expected an object, found {}", show(other)),
            )),
        }
    }

    fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| !v.is_null())
    }

    /// The value of `key` and its path, marking it as read. `null` carries no setting and
    /// counts as absent.
    fn take(&mut self, key: &str) -> Option<(&'a Value, String)> {
        let (k, v) = self.map.get_key_value(key)?;
        self.taken.push(k.as_str());
        if v.is_null() {
            None
        } else {
            Some((v, join(&self.path, key)))
        }
    }

    /// Like [`Obj::take`], with an error naming the missing key and why it is needed.
    fn need(&mut self, key: &str, why: &str) -> Result<(&'a Value, String)> {
        let path = join(&self.path, key);
        self.take(key)
            .ok_or_else(|| err(&path, format!("missing; {why}")))
    }

    /// Checks every key not taken against `fields`: quiet values pass, harmless ones are
    /// added to `warnings`, anything else is an error.
    fn finish(self, warnings: &mut Vec<String>, fields: &[Field]) -> Result<()> {
        for (key, value) in self.map {
            if value.is_null() || self.taken.contains(&key.as_str()) {
                continue;
            }
            let path = join(&self.path, key);
            let Some(field) = fields.iter().find(|f| f.key == key) else {
                return Err(err(&path, format!("not supported by openvod; {CHANGES}")));
            };
            if field.quiet.iter().any(|l| l.matches(value)) {
                continue;
            }
            match field.other {
                Else::Warn => warnings.push(ignored(&path, value)),
                Else::WarnOnly(also) if also.iter().any(|l| l.matches(value)) => {
                    warnings.push(ignored(&path, value))
                }
                Else::WarnOnly(also) => {
                    let allowed: Vec<Lit> = field.quiet.iter().chain(also).copied().collect();
                    return Err(refused(&path, value, &allowed));
                }
                Else::Refuse => return Err(refused(&path, value, field.quiet)),
            }
        }
        Ok(())
    }
}

struct Importer<'m> {
    maps: &'m [LocationMap],
    warnings: Vec<String>,
}

/// Whether a location names a file to read or a folder to write.
#[derive(Clone, Copy, PartialEq)]
enum Target {
    Input,
    Destination,
}

/// What a video output contributes to the ladder.
struct VideoOut {
    path: String,
    rung: LadderRung,
    profile: Option<(String, String)>,
    gop: Option<(f64, String)>,
}

/// The H.264 settings of one output.
struct H264Out {
    max_bitrate: u64,
    quality: Option<u8>,
    /// Value as written (`HIGH`) and JSON path of `CodecProfile`.
    profile: Option<(String, String)>,
    /// GOP length in seconds and the JSON path of `GopSize`; `None` for AUTO.
    gop: Option<(f64, String)>,
}

impl Importer<'_> {
    fn settings(
        &mut self,
        v: &Value,
        path: String,
        job_template: Option<&str>,
    ) -> Result<(PathBuf, Option<PathBuf>, JobTemplate)> {
        let mut s = Obj::new(v, path)?;
        let why_template = match job_template {
            Some(name) => format!(
                " (this job starts from the MediaConvert template {}, which openvod cannot \
                 read: copy its Settings into the job)",
                quoted(name)
            ),
            None => String::new(),
        };
        let (inputs, inputs_path) = s.need(
            "Inputs",
            &format!("a job needs exactly one input with a FileInput{why_template}"),
        )?;
        let (input, selectors) = self.inputs(inputs, &inputs_path)?;
        let (groups, groups_path) = s.need(
            "OutputGroups",
            &format!("a job needs one CMAF_GROUP_SETTINGS output group{why_template}"),
        )?;
        let (destination, template) = self.output_groups(groups, &groups_path, &selectors)?;
        s.finish(&mut self.warnings, SETTINGS)?;
        Ok((input, destination, template))
    }

    /// `Inputs`: exactly one input. Returns its local path and the names of its audio
    /// selectors (all of which select the first audio track).
    fn inputs(&mut self, v: &Value, path: &str) -> Result<(PathBuf, Vec<String>)> {
        let list = array(v, path)?;
        match list.len() {
            0 => return Err(err(path, "empty; a job needs exactly one input")),
            1 => {}
            n => {
                return Err(err(
                    &index(path, 1),
                    format!(
                        "a second input is not supported: openvod transcodes one file, and \
                         MediaConvert would join the job's {n} inputs one after the other; \
                         {CHANGES}"
                    ),
                ))
            }
        }
        let mut o = Obj::new(&list[0], index(path, 0))?;
        let (file, file_path) = o.need("FileInput", "the file to transcode")?;
        let input = self.locate(text(file, &file_path)?, &file_path, Target::Input)?;
        let selectors = match o.take("AudioSelectors") {
            Some((v, p)) => self.audio_selectors(v, &p)?,
            None => Vec::new(),
        };
        if let Some((v, p)) = o.take("VideoSelector") {
            Obj::new(v, p)?.finish(&mut self.warnings, VIDEO_SELECTOR)?;
        }
        o.finish(&mut self.warnings, INPUT)?;
        Ok((input, selectors))
    }

    /// `AudioSelectors`: each must select the first audio track, which is what openvod
    /// encodes (`{"DefaultSelection": "DEFAULT"}`, or `SelectorType: TRACK` with
    /// `Tracks: [1]`). Language, PID or external-file selectors would pick other audio.
    fn audio_selectors(&mut self, v: &Value, path: &str) -> Result<Vec<String>> {
        let o = Obj::new(v, path.to_string())?;
        let mut names = Vec::new();
        for (name, sel) in o.map {
            let sel_path = join(path, name);
            if sel.is_null() {
                continue;
            }
            let mut s = Obj::new(sel, sel_path)?;
            let selector_type = match s.take("SelectorType") {
                Some((t, p)) => {
                    let t = text(t, &p)?;
                    if t != "TRACK" {
                        return Err(err(
                            &p,
                            format!(
                                "{} is not supported (only TRACK with Tracks [1]: openvod uses the \
                                 source's first audio track); {CHANGES}",
                                quoted(t)
                            ),
                        ));
                    }
                    Some(p)
                }
                None => None,
            };
            match s.take("Tracks") {
                Some((t, p)) => {
                    let first_only = t
                        .as_array()
                        .is_some_and(|a| a.len() == 1 && a[0].as_f64() == Some(1.0));
                    if !first_only {
                        return Err(err(
                            &p,
                            format!(
                                "{} is not supported (only [1]: openvod uses the source's first \
                                 audio track); {CHANGES}",
                                show(t)
                            ),
                        ));
                    }
                }
                None => {
                    if let Some(p) = selector_type {
                        return Err(err(&p, "TRACK needs Tracks (openvod supports [1])"));
                    }
                }
            }
            s.finish(&mut self.warnings, AUDIO_SELECTOR)?;
            names.push(name.clone());
        }
        Ok(names)
    }

    /// `OutputGroups`: exactly one group, of type `CMAF_GROUP_SETTINGS`.
    fn output_groups(
        &mut self,
        v: &Value,
        path: &str,
        selectors: &[String],
    ) -> Result<(Option<PathBuf>, JobTemplate)> {
        let groups = array(v, path)?;
        let mut found = None;
        for (i, g) in groups.iter().enumerate() {
            let group_path = index(path, i);
            let mut go = Obj::new(g, group_path.clone())?;
            let (settings, settings_path) =
                go.need("OutputGroupSettings", "the group's Type and settings")?;
            let mut so = Obj::new(settings, settings_path)?;
            let (t, type_path) = so.need("Type", "the output group type")?;
            let t = text(t, &type_path)?;
            if t != "CMAF_GROUP_SETTINGS" {
                return Err(err(
                    &type_path,
                    format!(
                        "{} is not supported (only CMAF_GROUP_SETTINGS: openvod writes one CMAF \
                         package with HLS and DASH manifests); ignoring the group would change \
                         the output",
                        quoted(t)
                    ),
                ));
            }
            if found.is_some() {
                return Err(err(
                    &group_path,
                    format!(
                        "a second CMAF_GROUP_SETTINGS group is not supported: \
                        openvod writes one package per job; {CHANGES}"
                    ),
                ));
            }
            let (cmaf, cmaf_path) = so.need(
                "CmafGroupSettings",
                "required with Type CMAF_GROUP_SETTINGS",
            )?;
            let (destination, packaging) = self.cmaf_group(cmaf, &cmaf_path)?;
            so.finish(&mut self.warnings, &[])?;
            let (outputs, outputs_path) = go.need("Outputs", "the renditions of the group")?;
            let template = self.outputs(outputs, &outputs_path, selectors, packaging)?;
            go.finish(&mut self.warnings, OUTPUT_GROUP)?;
            found = Some((destination, template));
        }
        found.ok_or_else(|| {
            err(
                path,
                "empty; a job needs one CMAF_GROUP_SETTINGS output group",
            )
        })
    }

    /// `CmafGroupSettings`: destination, segment and fragment lengths, manifests.
    /// Lengths not given are the built-in default template's (4 s segments of 2 s
    /// fragments), not MediaConvert's (10 s segments), because openvod's defaults are the
    /// ones the rest of the platform is tuned for.
    fn cmaf_group(
        &mut self,
        v: &Value,
        path: &str,
    ) -> Result<(Option<PathBuf>, PackagingSettings)> {
        let mut o = Obj::new(v, path.to_string())?;
        let mut p = JobTemplate::default_ladder().packaging;
        let destination = match o.take("Destination") {
            Some((d, dp)) => Some(self.locate(text(d, &dp)?, &dp, Target::Destination)?),
            None => None,
        };
        if let Some((s, sp)) = o.take("SegmentLength") {
            p.segment_seconds = num(s, &sp, 0.1, 60.0, "seconds")?;
        }
        if let Some((f, fp)) = o.take("FragmentLength") {
            p.fragment_seconds = num(f, &fp, 0.1, 60.0, "seconds")?;
        }
        if let Some((h, hp)) = o.take("WriteHlsManifest") {
            p.hls = enabled(h, &hp)?;
        }
        if let Some((d, dp)) = o.take("WriteDashManifest") {
            p.dash = enabled(d, &dp)?;
        }
        let target = SegmentTarget {
            segment_seconds: p.segment_seconds,
            fragment_seconds: p.fragment_seconds,
        };
        target
            .validate()
            .map_err(|e| err(path, format!("SegmentLength and FragmentLength: {e}")))?;
        if !p.hls && !p.dash {
            return Err(err(
                path,
                "WriteHlsManifest and WriteDashManifest are \
                both DISABLED: no manifest would be written",
            ));
        }
        o.finish(&mut self.warnings, CMAF_GROUP)?;
        Ok((destination, p))
    }

    /// `Outputs`: one CMAF output per rendition, each either video (`VideoDescription`)
    /// or audio (`AudioDescriptions`), as MediaConvert requires in a CMAF group.
    fn outputs(
        &mut self,
        v: &Value,
        path: &str,
        selectors: &[String],
        packaging: PackagingSettings,
    ) -> Result<JobTemplate> {
        let list = array(v, path)?;
        // 16 rungs (JobTemplate::validate) plus audio; bounds the work and the warnings.
        if list.len() > 17 {
            return Err(err(
                path,
                format!(
                    "{} outputs; openvod supports up to 16 video outputs and one audio output",
                    list.len()
                ),
            ));
        }
        let mut videos: Vec<VideoOut> = Vec::new();
        let mut audio: Option<(AudioSettings, String)> = None;
        for (i, out) in list.iter().enumerate() {
            let out_path = index(path, i);
            let mut o = Obj::new(out, out_path.clone())?;
            let modifier = match o.take("NameModifier") {
                Some((n, np)) => Some((text(n, &np)?, np)),
                None => None,
            };
            if let Some((c, cp)) = o.take("ContainerSettings") {
                self.container(c, &cp)?;
            }
            let video = o.take("VideoDescription");
            // An empty AudioDescriptions list, as some tools write, means no audio.
            let audios = o
                .take("AudioDescriptions")
                .filter(|(a, _)| a.as_array().is_none_or(|a| !a.is_empty()));
            o.finish(&mut self.warnings, OUTPUT)?;
            let name = match &modifier {
                Some((n, np)) => Some(rendition_name(n, np)?),
                None => None,
            };
            match (video, audios) {
                (Some((vd, vp)), None) => {
                    let (height, width, h) = self.video(vd, &vp)?;
                    let name = name.unwrap_or_else(|| format!("{height}p"));
                    if let Some(other) = videos.iter().find(|o| o.rung.name == name) {
                        return Err(err(
                            &out_path,
                            format!(
                                "rendition name {} is also the name of \
                                {}: give each output its own NameModifier",
                                quoted(&name),
                                other.path
                            ),
                        ));
                    }
                    videos.push(VideoOut {
                        path: out_path,
                        rung: LadderRung {
                            name,
                            height,
                            width,
                            max_bitrate: h.max_bitrate,
                            quality: h.quality,
                        },
                        profile: h.profile,
                        gop: h.gop,
                    });
                }
                (None, Some((ad, ap))) => {
                    if let Some((_, first)) = &audio {
                        return Err(err(
                            &out_path,
                            format!(
                                "a second audio output is not supported (the first is \
                                {first}): openvod writes one audio rendition; {CHANGES}"
                            ),
                        ));
                    }
                    let a = self.audio(ad, &ap, selectors, name)?;
                    audio = Some((a, out_path));
                }
                (Some(_), Some(_)) => {
                    return Err(err(
                        &out_path,
                        "has both VideoDescription and AudioDescriptions; \
                            each output of a CMAF group carries one stream",
                    ))
                }
                (None, None) => {
                    return Err(err(
                        &out_path,
                        "has neither VideoDescription nor AudioDescriptions",
                    ))
                }
            }
        }
        let Some(first) = videos.first() else {
            return Err(err(
                path,
                "no video output: openvod needs at least one output with a VideoDescription",
            ));
        };
        let mut t = JobTemplate::default_ladder();
        t.name = TEMPLATE_NAME.to_string();
        if let Some(q) = first.rung.quality {
            t.video.quality = q;
        }
        // The template has one profile and one GOP length for every rung (equal GOPs are
        // also what lets the renditions cut at the same instants, which switching needs),
        // so outputs that differ cannot be imported faithfully.
        let profile = same_everywhere(
            videos.iter().map(|v| v.profile.clone()),
            "CodecProfile",
            |a, b| a == b,
        )?;
        if let Some(p) = profile {
            t.video.profile = p.to_ascii_lowercase();
        }
        let gop = same_everywhere(videos.iter().map(|v| v.gop.clone()), "GopSize", |a, b| {
            (a - b).abs() < 1e-9
        })?;
        if let Some(g) = gop {
            t.video.gop_seconds = g;
        }
        if let Some((a, ap)) = &audio {
            if let Some(v) = videos.iter().find(|v| v.rung.name == a.name) {
                return Err(err(
                    ap,
                    format!(
                        "rendition name {} is also the name of \
                        {}: give each output its own NameModifier",
                        quoted(&a.name),
                        v.path
                    ),
                ));
            }
        }
        t.video.rungs = videos.into_iter().map(|v| v.rung).collect();
        t.audio = audio.map(|(a, _)| a);
        t.packaging = packaging;
        t.validate()
            .map_err(|e| err(path, format!("the imported template is not valid: {e}")))?;
        Ok(t)
    }

    /// `ContainerSettings`: a CMAF group's outputs are CMFC.
    fn container(&mut self, v: &Value, path: &str) -> Result<()> {
        let mut o = Obj::new(v, path.to_string())?;
        if let Some((c, cp)) = o.take("Container") {
            let c = text(c, &cp)?;
            if c != "CMFC" {
                return Err(err(
                    &cp,
                    format!(
                        "{} is not supported (only CMFC in a CMAF group); {CHANGES}",
                        quoted(c)
                    ),
                ));
            }
        }
        if let Some((c, cp)) = o.take("CmfcSettings") {
            Obj::new(c, cp)?.finish(&mut self.warnings, CMFC)?;
        }
        o.finish(&mut self.warnings, &[])
    }

    /// `VideoDescription`: `Height` (and `Width`) of the rung, and its H.264 settings.
    fn video(&mut self, v: &Value, path: &str) -> Result<(u32, Option<u32>, H264Out)> {
        let mut o = Obj::new(v, path.to_string())?;
        let height_path = join(path, "Height");
        let height = match o.take("Height") {
            Some((h, hp)) => int(h, &hp, 16, 4320, "pixels")?,
            None => {
                return Err(err(
                    &height_path,
                    "missing; openvod needs the height of each rung \
                        (MediaConvert would keep the source's size)",
                ))
            }
        };
        let width = match o.take("Width") {
            Some((w, wp)) => {
                let w = int(w, &wp, 16, 7680, "pixels")?;
                if w % 2 == 1 || height % 2 == 1 {
                    return Err(err(
                        &wp,
                        format!("{w}x{height}: width and height must be even for H.264 4:2:0"),
                    ));
                }
                // openvod keeps the source's display aspect ratio (and never letterboxes):
                // Height sets the rung's short side. A 16:9 Width is what that gives
                // for the usual source; any other is reported.
                let ratio = w as f64 / height as f64;
                if (ratio - 16.0 / 9.0).abs() > 0.02 {
                    self.warnings.push(format!(
                        "ignored: {wp} = {w}: openvod keeps the source's aspect ratio, the rung is {height} pixels on its short side"
                    ));
                }
                None
            }
            None => None,
        };
        let (cs, cs_path) = o.need("CodecSettings", "the video codec settings")?;
        let mut c = Obj::new(cs, cs_path)?;
        let (codec, codec_path) = c.need("Codec", "openvod encodes H_264")?;
        let codec = text(codec, &codec_path)?;
        if codec != "H_264" {
            return Err(err(
                &codec_path,
                format!("{} is not supported (only H_264); {CHANGES}", quoted(codec)),
            ));
        }
        let (h, h_path) = c.need("H264Settings", "required with Codec H_264")?;
        let h264 = self.h264(h, &h_path)?;
        c.finish(&mut self.warnings, &[])?;
        o.finish(&mut self.warnings, VIDEO_DESCRIPTION)?;
        Ok((height as u32, width, h264))
    }

    /// `H264Settings`. openvod encodes capped quality (QVBR): x264 CRF from
    /// `QvbrQualityLevel`, `-maxrate` from `MaxBitrate` with a buffer of twice that.
    fn h264(&mut self, v: &Value, path: &str) -> Result<H264Out> {
        let mut o = Obj::new(v, path.to_string())?;
        let (mode, mode_path) = o.need(
            "RateControlMode",
            "MediaConvert's default is CBR, openvod encodes only QVBR (set RateControlMode QVBR)",
        )?;
        let mode = text(mode, &mode_path)?;
        if mode != "QVBR" {
            return Err(err(
                &mode_path,
                format!("{} is not supported (only QVBR); {CHANGES}", quoted(mode)),
            ));
        }
        let (mb, mb_path) = o.need("MaxBitrate", "QVBR needs the peak bit rate of the rung")?;
        let max_bitrate = int(mb, &mb_path, 50_000, 200_000_000, "bits per second")?;
        let quality = match o.take("QvbrSettings") {
            Some((q, qp)) => {
                let mut qo = Obj::new(q, qp)?;
                // Absent: MediaConvert picks a level from the output size; openvod uses the
                // template's level.
                let level = match qo.take("QvbrQualityLevel") {
                    Some((l, lp)) => Some(int(l, &lp, 1, 10, "QVBR quality level")? as u8),
                    None => None,
                };
                qo.finish(&mut self.warnings, QVBR)?;
                level
            }
            None => None,
        };
        let profile = match o.take("CodecProfile") {
            Some((p, pp)) => {
                let p = text(p, &pp)?;
                match p {
                    "HIGH" | "MAIN" | "BASELINE" => Some((p.to_string(), pp)),
                    _ => {
                        return Err(err(
                            &pp,
                            format!(
                                "{} is not supported (only HIGH, MAIN or \
                                BASELINE: openvod encodes 8-bit 4:2:0); {CHANGES}",
                                quoted(p)
                            ),
                        ))
                    }
                }
            }
            None => None,
        };
        let gop = self.gop(&mut o)?;
        // openvod's VBV buffer is twice MaxBitrate; another size only changes how bursts
        // are smoothed.
        if let Some((b, bp)) = o.take("HrdBufferSize") {
            let size = int(b, &bp, 0, 1_000_000_000, "bits")?;
            if size != 2 * max_bitrate {
                self.warnings.push(ignored(&bp, b));
            }
        }
        self.pixel_aspect(&mut o)?;
        o.finish(&mut self.warnings, H264)?;
        Ok(H264Out {
            max_bitrate,
            quality,
            profile,
            gop,
        })
    }

    /// `GopSizeUnits` and `GopSize`. openvod's GOP is a length in seconds, converted to
    /// frames with the source's frame rate once it is probed; a GOP in frames cannot be
    /// converted here because the frame rate is not in the job (it comes from the source,
    /// `FramerateControl: INITIALIZE_FROM_SOURCE`).
    fn gop(&mut self, o: &mut Obj<'_>) -> Result<Option<(f64, String)>> {
        let units = match o.take("GopSizeUnits") {
            Some((u, up)) => Some((text(u, &up)?, up)),
            None => None,
        };
        let size = o.take("GopSize");
        match (units, size) {
            (None, None) => Ok(None),
            (Some(("AUTO", _)), size) => {
                if let Some((s, sp)) = size {
                    // MediaConvert ignores GopSize with AUTO too.
                    self.warnings.push(ignored(&sp, s));
                }
                Ok(None)
            }
            (Some(("SECONDS", _)), Some((s, sp))) => {
                Ok(Some((num(s, &sp, 0.5, 10.0, "seconds")?, sp)))
            }
            (Some(("SECONDS", up)), None) => Err(err(&up, "SECONDS needs a GopSize")),
            (Some(("FRAMES", up)), _) => Err(err(
                &up,
                "\"FRAMES\" is not supported: openvod sets the GOP in seconds, and a GOP in \
                 frames cannot be converted without the frame rate, which comes from the source; \
                 use GopSizeUnits SECONDS (e.g. GopSize 2)",
            )),
            (Some((u, up)), _) => Err(err(
                &up,
                format!(
                    "{} is not supported (only SECONDS or AUTO); {CHANGES}",
                    quoted(u)
                ),
            )),
            (None, Some((_, sp))) => Err(err(
                &sp,
                "GopSize without GopSizeUnits is ambiguous (older MediaConvert jobs count it in \
                 frames); add GopSizeUnits SECONDS",
            )),
        }
    }

    /// `ParControl`, `ParNumerator`, `ParDenominator`. openvod always writes square pixels
    /// (`setsar=1`): a specified 1:1 is what it does anyway; following the source's pixel
    /// shape differs only for anamorphic sources (warned); any other shape is refused.
    fn pixel_aspect(&mut self, o: &mut Obj<'_>) -> Result<()> {
        let control = o.take("ParControl");
        let num = o.take("ParNumerator");
        let den = o.take("ParDenominator");
        let mode = match &control {
            Some((c, cp)) => Some((text(c, cp)?, cp.as_str())),
            None => None,
        };
        match mode {
            Some(("SPECIFIED", cp)) => {
                let (Some((n, np)), Some((d, dp))) = (num, den) else {
                    return Err(err(cp, "SPECIFIED needs ParNumerator and ParDenominator"));
                };
                let n = int(n, &np, 1, 1_000_000, "")?;
                let d = int(d, &dp, 1, 1_000_000, "")?;
                if n != d {
                    return Err(err(
                        &np,
                        format!(
                            "a {n}:{d} pixel aspect ratio is not supported \
                            (openvod writes square pixels); {CHANGES}"
                        ),
                    ));
                }
            }
            Some(("INITIALIZE_FROM_SOURCE", _)) | None => {
                for (v, p) in [control, num, den].into_iter().flatten() {
                    self.warnings.push(ignored(&p, v));
                }
            }
            Some((other, cp)) => {
                return Err(err(
                    cp,
                    format!(
                    "{} is not supported (only SPECIFIED 1:1 or INITIALIZE_FROM_SOURCE); {CHANGES}",
                    quoted(other)
                ),
                ))
            }
        }
        Ok(())
    }

    /// `AudioDescriptions` of an audio output: one AAC-LC description.
    fn audio(
        &mut self,
        v: &Value,
        path: &str,
        selectors: &[String],
        name: Option<String>,
    ) -> Result<AudioSettings> {
        let list = array(v, path)?;
        if list.len() > 1 {
            return Err(err(
                &index(path, 1),
                format!(
                    "a second audio description is not supported: \
                    a CMAF output carries one track; {CHANGES}"
                ),
            ));
        }
        let Some(first) = list.first() else {
            return Err(err(path, "empty"));
        };
        let mut d = Obj::new(first, index(path, 0))?;
        let mut a = JobTemplate::default_ladder()
            .audio
            .unwrap_or(AudioSettings {
                name: "audio".into(),
                codec: "aac".into(),
                bitrate: 128_000,
                sample_rate: 48_000,
                channels: 2,
            });
        if let Some(n) = name {
            a.name = n;
        }
        if let Some((s, sp)) = d.take("AudioSourceName") {
            let s = text(s, &sp)?;
            if !selectors.is_empty() && !selectors.iter().any(|n| n == s) {
                return Err(err(
                    &sp,
                    format!(
                        "{} names no selector of Inputs[0].AudioSelectors",
                        quoted(s)
                    ),
                ));
            }
        }
        let (cs, cs_path) = d.need("CodecSettings", "the audio codec settings")?;
        let mut c = Obj::new(cs, cs_path)?;
        let (codec, codec_path) = c.need("Codec", "openvod encodes AAC")?;
        let codec = text(codec, &codec_path)?;
        if codec != "AAC" {
            return Err(err(
                &codec_path,
                format!("{} is not supported (only AAC); {CHANGES}", quoted(codec)),
            ));
        }
        let (aac, aac_path) = c.need("AacSettings", "required with Codec AAC")?;
        let mut s = Obj::new(aac, aac_path)?;
        if let Some((b, bp)) = s.take("Bitrate") {
            a.bitrate = int(b, &bp, 16_000, 512_000, "bits per second")?;
        }
        if let Some((r, rp)) = s.take("SampleRate") {
            let rate = int(r, &rp, 8000, 96_000, "Hz")?;
            if ![
                8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000,
            ]
            .contains(&rate)
            {
                return Err(err(&rp, format!("{rate} is not an AAC sample rate")));
            }
            a.sample_rate = rate as u32;
        }
        if let Some((m, mp)) = s.take("CodingMode") {
            let m = text(m, &mp)?;
            a.channels = match m {
                "CODING_MODE_1_0" => 1,
                "CODING_MODE_2_0" => 2,
                "CODING_MODE_5_1" => 6,
                _ => {
                    return Err(err(
                        &mp,
                        format!(
                            "{} is not supported (only CODING_MODE_1_0, \
                            CODING_MODE_2_0 or CODING_MODE_5_1); {CHANGES}",
                            quoted(m)
                        ),
                    ))
                }
            };
        }
        if let Some((p, pp)) = s.take("CodecProfile") {
            let p = text(p, &pp)?;
            if p != "LC" {
                return Err(err(
                    &pp,
                    format!(
                        "{} is not supported (only LC: openvod encodes AAC-LC); {CHANGES}",
                        quoted(p)
                    ),
                ));
            }
        }
        s.finish(&mut self.warnings, AAC)?;
        c.finish(&mut self.warnings, &[])?;
        d.finish(&mut self.warnings, AUDIO_DESCRIPTION)?;
        Ok(a)
    }

    /// Maps `s3://bucket/key` through the `--map`s, or takes a local path as it is.
    /// MediaConvert itself accepts only S3 and HTTP(S) locations; local paths are allowed
    /// so that a job can be pointed at local files without inventing a bucket.
    ///
    /// A `Destination` is always a folder: `s3://b/out/` and `s3://b/out/movie` map to
    /// `DIR/out` and `DIR/out/movie` (MediaConvert would use `movie` as the base name of
    /// the manifests in `out/`; openvod names its files itself).
    fn locate(&self, url: &str, path: &str, target: Target) -> Result<PathBuf> {
        if url.is_empty() || url.contains('\0') {
            return Err(err(path, format!("{} is not a location", quoted(url))));
        }
        if target == Target::Destination && url.contains('$') {
            return Err(err(
                path,
                format!(
                    "{}: format identifiers ($dt$, $fn$, ...) \
                    are not supported; give a plain folder",
                    quoted(url)
                ),
            ));
        }
        let Some(rest) = url.strip_prefix("s3://") else {
            if url.contains("://") {
                return Err(err(
                    path,
                    format!(
                        "{} is not supported: use s3:// locations (mapped with \
                         --map s3://BUCKET=DIR) or local paths{}",
                        quoted(url),
                        if target == Target::Input {
                            "; download HTTP(S) inputs first"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            return Ok(PathBuf::from(url));
        };
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if !valid_bucket(bucket) {
            return Err(err(
                path,
                format!(
                    "{}: {} is not an S3 bucket name",
                    quoted(url),
                    quoted(bucket)
                ),
            ));
        }
        let Some(map) = self.maps.iter().find(|m| m.bucket == bucket) else {
            return Err(err(
                path,
                format!(
                    "bucket {bucket} is not mapped to a local folder: pass --map s3://{bucket}=DIR"
                ),
            ));
        };
        if target == Target::Input && (key.is_empty() || key.ends_with('/')) {
            return Err(err(
                path,
                format!("{} names a folder, not a file", quoted(url)),
            ));
        }
        let mut local = map.dir.clone();
        for part in key.split('/').filter(|p| !p.is_empty()) {
            if part == "." || part == ".." {
                return Err(err(
                    path,
                    format!(
                        "{}: keys with . or .. segments are not \
                        supported (they would leave the mapped folder)",
                        quoted(url)
                    ),
                ));
            }
            local.push(part);
        }
        Ok(local)
    }
}

/// The rendition (folder) name of an output: its `NameModifier` without the leading `_`
/// or `-` MediaConvert users put there to separate it from the base name ("_1080p" ->
/// "1080p"). Names are folder names, so they are limited to `A-Z a-z 0-9 . _ -` and may not
/// start with `.` (no `..`, no hidden folders that could clash with openvod's own work
/// folder).
fn rendition_name(modifier: &str, path: &str) -> Result<String> {
    let name = modifier.trim_start_matches(['_', '-']);
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(name.to_string())
    } else {
        Err(err(
            path,
            format!(
                "{} does not make a rendition name: without its leading _ or - it must be 1 to 64 \
                 of A-Z a-z 0-9 . _ - and not start with .",
                quoted(modifier)
            ),
        ))
    }
}

/// The one value every video output agrees on (outputs without the field accept any);
/// the error names the first output that differs.
fn same_everywhere<T: Clone + Display>(
    values: impl Iterator<Item = Option<(T, String)>>,
    what: &str,
    eq: impl Fn(&T, &T) -> bool,
) -> Result<Option<T>> {
    let mut first: Option<(T, String)> = None;
    for (v, p) in values.flatten() {
        match &first {
            None => first = Some((v, p)),
            Some((f, fp)) if !eq(f, &v) => {
                return Err(err(
                    &p,
                    format!(
                        "{v} differs from {f} at {fp}: openvod \
                        encodes every rung with one {what}; {CHANGES}"
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(first.map(|(v, _)| v))
}

// ---------------------------------------------------------------------------------------
// Values, paths and messages.
// ---------------------------------------------------------------------------------------

fn err(path: &str, msg: impl Display) -> Error {
    if path.is_empty() {
        Error::MediaConvert(format!("top level: {msg}"))
    } else {
        Error::MediaConvert(format!("{path}: {msg}"))
    }
}

fn ignored(path: &str, v: &Value) -> String {
    format!("ignored: {path} = {}", show(v))
}

fn refused(path: &str, v: &Value, allowed: &[Lit]) -> Error {
    let only = if allowed.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = allowed.iter().map(|l| l.to_string()).collect();
        format!(" (only {})", list.join(" or "))
    };
    err(
        path,
        format!("{} is not supported{only}; {CHANGES}", show(v)),
    )
}

/// A key in a path: plain keys as `.Key`, others (spaces, quotes, very long) as
/// `["..."]`, JSON-escaped so that a message is always one line.
fn join(base: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key.len() <= 64
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    match (base.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{base}.{key}"),
        (_, false) => format!("{base}[{}]", quoted(key)),
    }
}

fn index(base: &str, i: usize) -> String {
    format!("{base}[{i}]")
}

/// A string as a JSON literal, shortened.
fn quoted(s: &str) -> String {
    show(&Value::String(s.to_string()))
}

/// A value as compact JSON, shortened to keep messages one readable line.
fn show(v: &Value) -> String {
    let s = serde_json::to_string(v).unwrap_or_else(|_| "?".into());
    if s.chars().count() > 80 {
        let mut t: String = s.chars().take(77).collect();
        t.push_str("...");
        t
    } else {
        s
    }
}

fn text<'a>(v: &'a Value, path: &str) -> Result<&'a str> {
    v.as_str()
        .ok_or_else(|| err(path, format!("expected a string, found {}", show(v))))
}

fn array<'a>(v: &'a Value, path: &str) -> Result<&'a Vec<Value>> {
    v.as_array()
        .ok_or_else(|| err(path, format!("expected a list, found {}", show(v))))
}

fn enabled(v: &Value, path: &str) -> Result<bool> {
    match text(v, path)? {
        "ENABLED" => Ok(true),
        "DISABLED" => Ok(false),
        other => Err(err(
            path,
            format!(
                "expected \"ENABLED\" or \"DISABLED\", found {}",
                quoted(other)
            ),
        )),
    }
}

/// A whole number within `lo..=hi` (integral floats such as `4.0` are accepted, as some
/// JSON writers produce them).
fn int(v: &Value, path: &str, lo: u64, hi: u64, unit: &str) -> Result<u64> {
    let f = match v.as_f64() {
        Some(f) if f.is_finite() && f.fract() == 0.0 => f,
        _ => {
            return Err(err(
                path,
                format!("expected a whole number, found {}", show(v)),
            ))
        }
    };
    if f < lo as f64 || f > hi as f64 {
        let unit = if unit.is_empty() {
            String::new()
        } else {
            format!(" {unit}")
        };
        return Err(err(
            path,
            format!("{} is outside {lo}..{hi}{unit}", show(v)),
        ));
    }
    Ok(v.as_u64().unwrap_or(f as u64))
}

/// A number within `lo..=hi`.
fn num(v: &Value, path: &str, lo: f64, hi: f64, unit: &str) -> Result<f64> {
    match v.as_f64() {
        Some(f) if f.is_finite() && (lo..=hi).contains(&f) => Ok(f),
        Some(_) => Err(err(
            path,
            format!("{} is outside {lo}..{hi} {unit}", show(v)),
        )),
        None => Err(err(path, format!("expected a number, found {}", show(v)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFERENCE: &str = include_str!("../tests/fixtures/mediaconvert/reference_cmaf.json");
    const MINIMAL_TEMPLATE: &str =
        include_str!("../tests/fixtures/mediaconvert/minimal_template.json");
    const BAD_CBR: &str = include_str!("../tests/fixtures/mediaconvert/bad_cbr.json");
    const BAD_UNKNOWN_KEY: &str =
        include_str!("../tests/fixtures/mediaconvert/bad_unknown_key.json");
    const BAD_ENCRYPTION: &str = include_str!("../tests/fixtures/mediaconvert/bad_encryption.json");
    const BAD_TWO_INPUTS: &str = include_str!("../tests/fixtures/mediaconvert/bad_two_inputs.json");
    const BAD_GOP_FRAMES: &str = include_str!("../tests/fixtures/mediaconvert/bad_gop_frames.json");
    const BAD_JSON: &str = include_str!("../tests/fixtures/mediaconvert/bad_json.json");

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
        assert_eq!(t.video.codec, "h264");
        assert_eq!(t.video.profile, "high");
        assert_eq!(t.video.preset, "medium");
        assert_eq!(t.video.quality, 8);
        assert_eq!(t.video.gop_seconds, 2.0);
        assert_eq!(
            t.packaging,
            PackagingSettings {
                segment_seconds: 4.0,
                fragment_seconds: 2.0,
                hls: true,
                dash: true,
                mode: crate::template::PackagingMode::Static,
            }
        );
        let a = t.audio.as_ref().unwrap();
        assert_eq!(
            (
                a.name.as_str(),
                a.codec.as_str(),
                a.bitrate,
                a.sample_rate,
                a.channels
            ),
            ("audio", "aac", 128_000, 48_000, 2)
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
        assert_eq!(t.video.profile, "main");
        // Not in the job: the built-in default's packaging, no audio output.
        assert_eq!(t.packaging, JobTemplate::default_ladder().packaging);
        assert_eq!(t.audio, None);
    }

    #[test]
    fn s3_locations_need_a_map() {
        let err = import(REFERENCE, &[]).unwrap_err().to_string();
        assert!(
            err.contains(
                "Settings.Inputs[0].FileInput: bucket vod-source-111122223333 is not mapped"
            ),
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
                    "H_265".into(),
                ),
                "CodecSettings.Codec: \"H_265\"",
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
}
