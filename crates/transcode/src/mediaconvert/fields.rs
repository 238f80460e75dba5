//! The tables of harmless fields: one per JSON object the importer walks, and tables of
//! the fields several codecs share.
//!
//! Each entry names a key that openvod accepts without using. Values listed in `quiet`
//! are what openvod does anyway (x264's and x265's `medium`, closed 2 s GOPs, square pixels, fMP4 CMAF
//! segments, floating-point EXTINF, SegmentTimeline...), so they are accepted silently;
//! other values are reported as ignored (`Else::Warn`), or refused when they would change
//! the output (`Else::Refuse`, `Else::WarnOnly` for the values still harmless).

use std::fmt::Display;

use serde_json::Value;

/// A JSON value in a table.
#[derive(Debug, Clone, Copy)]
pub(super) enum Lit {
    S(&'static str),
    N(f64),
    EmptyObject,
    EmptyArray,
    /// An object with exactly these keys and values.
    Obj(&'static [(&'static str, Lit)]),
}

impl Lit {
    pub(super) fn matches(self, v: &Value) -> bool {
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
pub(super) enum Else {
    /// Accept with an `ignored:` warning.
    Warn,
    /// Warn for these values, refuse any other.
    WarnOnly(&'static [Lit]),
    /// Refuse: any other value would change the output.
    Refuse,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Field {
    pub(super) key: &'static str,
    pub(super) quiet: &'static [Lit],
    pub(super) other: Else,
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
pub(super) const TOP_LEVEL: &[Field] = &[
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
pub(super) const SETTINGS: &[Field] = &[
    warn("AdAvailOffset", &[N(0.0)]),
    warn("ExtendedDataServices", &[]),
    warn("FollowSource", &[N(1.0)]),
    warn("TimecodeConfig", &[Lit::Obj(&[("Source", S("ZEROBASED"))])]),
    warn("TimedMetadataInsertion", &[]),
];

/// `Inputs[0]`. Input filters change the pictures unless left at their defaults;
/// `InputClippings`, `CaptionSelectors`, `ImageInserter`, `Crop`, `Position`... are
/// refused as unknown keys.
pub(super) const INPUT: &[Field] = &[
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
pub(super) const VIDEO_SELECTOR: &[Field] = &[
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
pub(super) const AUDIO_SELECTOR: &[Field] = &[
    warn("AudioDurationCorrection", &[S("DISABLED")]),
    warn("CustomLanguageCode", &[]),
    warn("DefaultSelection", &[S("DEFAULT")]),
    refuse("Offset", &[N(0.0)]),
    // Only meaningful for Dolby E sources; the console writes 1.
    refuse("ProgramSelection", &[N(0.0), N(1.0)]),
];

/// `OutputGroups[i]` besides `Outputs` and `OutputGroupSettings`.
pub(super) const OUTPUT_GROUP: &[Field] = &[warn("Name", &[]), warn("CustomName", &[])];

/// `CmafGroupSettings` besides `Destination`, `SegmentLength`, `FragmentLength`,
/// `WriteHlsManifest` and `WriteDashManifest`. openvod writes segmented fMP4 files,
/// floating-point `EXTINF`, RFC 6381 `CODECS`, `RESOLUTION` and a `SegmentTimeline`;
/// `Encryption`, `AdditionalManifests` and trick-play outputs are refused.
pub(super) const CMAF_GROUP: &[Field] = &[
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
pub(super) const OUTPUT: &[Field] = &[
    warn("Extension", &[]),
    refuse("OutputSettings", &[EmptyObject]),
];

/// `ContainerSettings.CmfcSettings`: manifest signalling and metadata tracks. openvod
/// writes I-frame playlists (`IFrameOnlyManifest: INCLUDE`) and no SCTE-35 or ID3.
pub(super) const CMFC: &[Field] = &[
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
pub(super) const VIDEO_DESCRIPTION: &[Field] = &[
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

/// `VideoDescription.CodecSettings` besides `Codec` and the settings of that codec:
/// MediaConvert reads only the settings of the codec `Codec` names, so the others'
/// settings (left over from an edited job) change nothing.
pub(super) const CODEC_SETTINGS: &[Field] = &[
    warn("Av1Settings", &[]),
    warn("H264Settings", &[]),
    warn("H265Settings", &[]),
];

/// `H264Settings`, `H265Settings` and `Av1Settings`: the frame rate. openvod keeps the
/// source's (halved above the template's cap); a specified rate changes the output.
pub(super) const FRAME_RATE: &[Field] = &[
    warn("FramerateConversionAlgorithm", &[S("DUPLICATE_DROP")]),
    refuse("FramerateControl", &[S("INITIALIZE_FROM_SOURCE")]),
    warn("FramerateDenominator", &[]),
    warn("FramerateNumerator", &[]),
];

/// `H264Settings` and `H265Settings` besides the mapped `RateControlMode`, `MaxBitrate`,
/// `QvbrSettings`, `CodecProfile`, `GopSize`, `GopSizeUnits`, `HrdBufferSize`, the `Par*`
/// fields and [`FRAME_RATE`]: what both encoders share. Quiet values are x264's and
/// x265's `medium` with openvod's options (3 reference frames, B-frames with pyramid,
/// closed GOPs, no scene-cut keyframes, a VBV that starts 90 % full). Tuning fields only
/// trade encode time against quality at the same settings, so they are ignored;
/// `InterlaceMode`, `Telecine`, `SlowPal` and `ScanTypeConversionMode` change the output.
pub(super) const AVC_HEVC: &[Field] = &[
    warn("AdaptiveQuantization", &[S("AUTO")]),
    warn("Bitrate", &[]),
    warn("CodecLevel", &[S("AUTO")]),
    warn("DynamicSubGop", &[S("ADAPTIVE")]),
    warn("EndOfStreamMarkers", &[]),
    warn("FlickerAdaptiveQuantization", &[S("DISABLED")]),
    warn("GopBReference", &[S("ENABLED")]),
    warn("GopClosedCadence", &[N(1.0)]),
    warn("HrdBufferFinalFillPercentage", &[]),
    warn("HrdBufferInitialFillPercentage", &[N(90.0)]),
    refuse("InterlaceMode", &[S("PROGRESSIVE")]),
    warn("MinIInterval", &[N(0.0)]),
    warn("NumberReferenceFrames", &[N(3.0)]),
    // Quality reports MediaConvert writes beside the output; openvod writes none.
    warn("PerFrameMetrics", &[EmptyArray]),
    warn("QualityTuningLevel", &[]),
    // INTERLACED is the no-op default for progressive outputs.
    refuse("ScanTypeConversionMode", &[S("INTERLACED")]),
    warn("SceneChangeDetect", &[S("DISABLED")]),
    refuse("SlowPal", &[S("DISABLED")]),
    warn("Slices", &[N(1.0)]),
    warn("SpatialAdaptiveQuantization", &[S("ENABLED")]),
    refuse("Telecine", &[S("NONE")]),
    warn("TemporalAdaptiveQuantization", &[S("ENABLED")]),
    warn("UnregisteredSeiTimecode", &[S("DISABLED")]),
];

/// `H264Settings` besides [`AVC_HEVC`] and [`FRAME_RATE`]: x264 `medium` writes 3
/// B-frames and CABAC.
pub(super) const H264: &[Field] = &[
    warn("EntropyEncoding", &[S("CABAC")]),
    warn("FieldEncoding", &[S("PAFF")]),
    warn("NumberBFramesBetweenReferenceFrames", &[N(3.0)]),
    warn("RepeatPps", &[S("DISABLED")]),
    warn("SaliencyAwareEncoding", &[S("DISABLED")]),
    warn("Softness", &[N(0.0)]),
    warn("Syntax", &[S("DEFAULT")]),
    warn("WriteMp4PackagingType", &[]),
];

/// `H265Settings` besides [`AVC_HEVC`], [`FRAME_RATE`] and the mapped
/// `WriteMp4PackagingType`: x265 `medium` writes 4 B-frames, no tiles and no temporal
/// layers, with its own sample-adaptive-offset decisions. The HLG transfer-function SEI
/// only labels the pictures for HDR displays.
pub(super) const H265: &[Field] = &[
    warn("AlternateTransferFunctionSei", &[S("DISABLED")]),
    warn("NumberBFramesBetweenReferenceFrames", &[N(4.0)]),
    warn("SampleAdaptiveOffsetFilterMode", &[S("DEFAULT")]),
    warn("TemporalIds", &[S("DISABLED")]),
    warn("Tiles", &[S("DISABLED")]),
];

/// `Av1Settings` besides the mapped `RateControlMode`, `MaxBitrate`, `QvbrSettings` and
/// `GopSize`, and [`FRAME_RATE`]. openvod encodes 8-bit AV1 without film grain
/// synthesis (which replaces the source's grain by a synthesized one: other pictures).
pub(super) const AV1: &[Field] = &[
    warn("AdaptiveQuantization", &[]),
    refuse("BitDepth", &[S("BIT_8")]),
    refuse("FilmGrainSynthesis", &[S("DISABLED")]),
    warn("NumberBFramesBetweenReferenceFrames", &[]),
    warn("PerFrameMetrics", &[EmptyArray]),
    warn("Slices", &[N(1.0)]),
    warn("SpatialAdaptiveQuantization", &[S("ENABLED")]),
];

/// `QvbrSettings` besides `QvbrQualityLevel`. `MaxAverageBitrate` caps the average rate
/// and is refused.
pub(super) const QVBR: &[Field] = &[warn("QvbrQualityLevelFineTune", &[N(0.0)])];

/// `AudioDescriptions[0]` besides `AudioSourceName` and `CodecSettings`.
/// `AudioNormalizationSettings` and `RemixSettings` change the sound and are refused.
pub(super) const AUDIO_DESCRIPTION: &[Field] = &[
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
pub(super) const AAC: &[Field] = &[
    warn("AudioDescriptionBroadcasterMix", &[S("NORMAL")]),
    warn("RateControlMode", &[S("CBR")]),
    refuse("RawFormat", &[S("NONE")]),
    warn("Specification", &[S("MPEG4")]),
    warn("VbrQuality", &[]),
];
