//! `openvod package`: MP4 renditions to CMAF for HLS and DASH, clear or encrypted.

use std::path::{Path, PathBuf};

use super::print_renditions;
use anyhow::{bail, Context, Result};
use clap::Args;
use openvod_drm::{ContentKey, DrmSystem};
use openvod_media::crypt::derived_iv;
use openvod_media::segment::SegmentTarget;
use openvod_media::{Copy, CopyKeys, Manifests, Packaging, Rendition, RenditionKeys};
use openvod_transcode::output::StagedDir;
use openvod_transcode::package;

#[derive(Args)]
pub struct PackageArgs {
    /// MP4 files, one or more renditions each (fragmented or progressive).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output folder; written in full or not at all.
    #[arg(long)]
    out: PathBuf,
    /// Segment length in seconds.
    #[arg(long, default_value_t = 4.0)]
    segment: f64,
    /// Fragment length in seconds; a segment is a whole number of fragments.
    #[arg(long, default_value_t = 2.0)]
    fragment: f64,
    /// Replace the output folder if it exists.
    #[arg(long)]
    overwrite: bool,
    /// Print a JSON summary on stdout (never the key).
    #[arg(long)]
    json: bool,
    /// Encrypt a copy of the output with SCHEME, using the key of --key: `cenc` (Common
    /// Encryption, AES-CTR: DASH, HLS SAMPLE-AES-CTR), `cbcs` (Common Encryption, AES-CBC
    /// 1:9 pattern: DASH, HLS SAMPLE-AES, FairPlay) or `aes-128` (HLS whole-segment
    /// AES-128, HLS only). Repeat it (or separate with commas) for several copies; each
    /// goes in its own folder under --out: cenc/, cbcs/, aes128/. Without --clear no
    /// clear copy is written.
    #[arg(long = "encrypt", value_name = "SCHEME", value_delimiter = ',')]
    encrypt: Vec<String>,
    /// With --encrypt: also write the clear copy, at the root of --out.
    #[arg(long, requires = "encrypt")]
    clear: bool,
    /// The content key, raw: KID:KEY, each 32 hex digits (16 bytes). One key protects
    /// every track of every encrypted copy. It is never printed, but like any argument it
    /// is visible to other local users in the process list.
    #[arg(long, value_name = "KID:KEY", requires = "encrypt")]
    key: Option<String>,
    /// The IV, 32 hex digits (16 bytes), for cenc and cbcs. cenc uses its first 8 bytes
    /// as the IV of each track's first sample and counts up one per sample; cbcs uses it
    /// as the constant IV. Default: a different IV per track and scheme, derived from the
    /// key and the rendition name (SHA-256), so repackaging gives the same bytes. A fixed
    /// IV is for testing and interoperability checks only: with cenc, tracks under one
    /// key then reuse AES-CTR counter blocks. AES-128 ignores it (its IV is the media
    /// sequence number).
    #[arg(long, value_name = "HEX", requires = "encrypt")]
    iv: Option<String>,
    /// DRM systems signalled (pssh boxes in the init segments, DASH ContentProtection,
    /// HLS key tags) by the cenc and cbcs copies: a comma-separated list of widevine,
    /// playready, clearkey and fairplay (cbcs only; left out of cenc copies), or `none`.
    #[arg(
        long,
        value_name = "LIST",
        default_value = "widevine,playready,clearkey",
        requires = "encrypt"
    )]
    drm_systems: String,
    /// cenc and cbcs: leave the segments that start in the first SECONDS clear, so that
    /// playback starts while the licence is fetched. The clear fragments take a second,
    /// clear sample entry of the init segment.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 0.0,
        requires = "encrypt"
    )]
    clear_lead: f64,
    /// aes-128: the URI of the key in every `EXT-X-KEY` tag, relative to the media
    /// playlist (aes128/NAME/index.m3u8) or absolute. Default: `../key.bin`, and the raw
    /// 16-byte key is written to aes128/key.bin, which that URI names. With any other URI
    /// no key file is written: serve the key there yourself.
    #[arg(long, value_name = "URI", requires = "encrypt")]
    key_uri: Option<String>,
}

/// The `--key-uri` default, relative to `aes128/NAME/index.m3u8`.
const DEFAULT_KEY_URI: &str = "../key.bin";
/// Where the key goes with the default URI, relative to the AES-128 copy's folder.
const KEY_FILE: &str = "key.bin";

/// The checked encryption flags of `openvod package`.
struct Encryption {
    /// The protected copies asked for, each once.
    copies: Vec<Copy>,
    key: ContentKey,
    iv: Option<[u8; 16]>,
    systems: Vec<DrmSystem>,
    clear_lead: f64,
    key_uri: String,
    /// Whether to write the key to `aes128/key.bin` (the default URI).
    write_key_file: bool,
}

impl Encryption {
    /// Checks the flags before any input is read. Errors never quote the key.
    fn from_args(args: &PackageArgs) -> Result<Option<Encryption>> {
        if args.encrypt.is_empty() {
            return Ok(None);
        }
        let mut copies = Vec::new();
        for s in &args.encrypt {
            let s = s.trim();
            // The copy's name, or its folder's (`aes128`).
            let copy = s
                .parse::<Copy>()
                .ok()
                .or_else(|| Copy::from_folder(s))
                .filter(|c| c.is_protected())
                .with_context(|| {
                    format!(
                        "--encrypt: unknown scheme {:?} (cenc, cbcs or aes-128)",
                        s.chars().take(32).collect::<String>()
                    )
                })?;
            if copies.contains(&copy) {
                bail!("--encrypt: {copy} is given twice");
            }
            copies.push(copy);
        }
        let key = parse_raw_key(
            args.key
                .as_deref()
                .context("--encrypt needs the content key: --key KID:KEY (32 hex digits each)")?,
        )?;
        let sample_copies = copies.iter().any(|c| c.sample_scheme().is_some());
        let iv = match &args.iv {
            Some(text) => {
                if !sample_copies {
                    bail!("--iv applies to cenc and cbcs (the IV of aes-128 is the media sequence number)");
                }
                Some(parse_hex16(text).map_err(|why| anyhow::anyhow!("--iv: {why}"))?)
            }
            None => None,
        };
        let mut systems: Vec<DrmSystem> = Vec::new();
        let list = args.drm_systems.trim();
        if !list.eq_ignore_ascii_case("none") {
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let system: DrmSystem = name
                    .parse()
                    .map_err(|e| anyhow::anyhow!("--drm-systems: {e}"))?;
                if !systems.contains(&system) {
                    systems.push(system);
                }
            }
        }
        if systems.contains(&DrmSystem::FairPlay)
            && !copies.iter().any(|c| c.signals(DrmSystem::FairPlay))
        {
            bail!("--drm-systems: fairplay needs --encrypt cbcs (FairPlay is HLS SAMPLE-AES, cbcs only)");
        }
        if !args.clear_lead.is_finite() || args.clear_lead < 0.0 {
            bail!("--clear-lead must be a number of seconds, 0 or more");
        }
        if args.clear_lead > 0.0 && !sample_copies {
            bail!("--clear-lead applies to cenc and cbcs (aes-128 encrypts every segment)");
        }
        let aes128 = copies.contains(&Copy::Aes128);
        let (key_uri, write_key_file) = match &args.key_uri {
            Some(uri) => {
                if !aes128 {
                    bail!("--key-uri applies to --encrypt aes-128");
                }
                if uri.is_empty() || uri.chars().any(|c| c == '"' || c.is_control()) {
                    bail!("--key-uri must be a non-empty URI without quotes or control characters");
                }
                (uri.clone(), uri == DEFAULT_KEY_URI)
            }
            None => (DEFAULT_KEY_URI.to_string(), aes128),
        };
        Ok(Some(Encryption {
            copies,
            key,
            iv,
            systems,
            clear_lead: args.clear_lead,
            key_uri,
            write_key_file,
        }))
    }

    /// The DRM systems one copy signals.
    fn systems_for(&self, copy: Copy) -> Vec<DrmSystem> {
        self.systems
            .iter()
            .copied()
            .filter(|&s| copy.signals(s))
            .collect()
    }

    /// The keys of one copy, for every rendition.
    fn copy_keys(&self, copy: Copy, renditions: &[Rendition]) -> Result<CopyKeys> {
        let scheme = copy.key_scheme().context("the clear copy has no keys")?;
        let mut systems = Vec::new();
        for system in self.systems_for(copy) {
            let s = openvod_drm::signaling_for(system, self.key.kid, scheme, "", None)
                .with_context(|| format!("{system} signalling"))?;
            systems.push(openvod_drm::packaging::system_signal(&s));
        }
        let renditions = renditions
            .iter()
            .map(|r| RenditionKeys {
                key: self.key.clone(),
                iv: match (self.iv, copy.sample_scheme()) {
                    (Some(iv), Some(_)) => iv,
                    _ => derived_iv(scheme, &self.key, r.name.as_str()),
                },
                systems: systems.clone(),
            })
            .collect();
        Ok(CopyKeys {
            copy,
            renditions,
            aes128_key_uri: (copy == Copy::Aes128).then(|| self.key_uri.clone()),
        })
    }
}

/// `KID:KEY`, 32 hex digits each (the KID may also be a UUID).
fn parse_raw_key(text: &str) -> Result<ContentKey> {
    let (kid, key) = text
        .split_once(':')
        .context("--key must be KID:KEY, each 32 hex digits")?;
    let kid = if kid.len() == 36 {
        openvod_drm::Kid::from_uuid(kid).map_err(|e| anyhow::anyhow!("--key: {e}"))?
    } else {
        openvod_drm::Kid(parse_hex16(kid).map_err(|why| anyhow::anyhow!("--key: the KID {why}"))?)
    };
    let key = parse_hex16(key).map_err(|why| anyhow::anyhow!("--key: the key {why}"))?;
    Ok(ContentKey { kid, key })
}

/// 32 hex digits to 16 bytes. The error says what is wrong without quoting the text,
/// which may be a key.
fn parse_hex16(text: &str) -> std::result::Result<[u8; 16], String> {
    let digits = text.as_bytes();
    if let Some(at) = digits.iter().position(|b| !b.is_ascii_hexdigit()) {
        return Err(format!(
            "must be 32 hex digits (16 bytes); character {} is not a hex digit",
            at + 1
        ));
    }
    if digits.len() != 32 {
        return Err(format!(
            "must be 32 hex digits (16 bytes), not {} digits",
            digits.len()
        ));
    }
    let mut out = [0u8; 16];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        let pair = std::str::from_utf8(pair).expect("ASCII hex digits");
        out[i] = u8::from_str_radix(pair, 16).expect("two hex digits");
    }
    Ok(out)
}

pub fn package(args: PackageArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let target = SegmentTarget {
        segment_seconds: args.segment,
        fragment_seconds: args.fragment,
    };
    target.validate()?;
    let encryption = Encryption::from_args(&args)?;
    let mut sources = Vec::new();
    for path in &args.inputs {
        let tracks = package::read_mp4(path)?;
        if tracks.is_empty() {
            bail!("{}: no video or audio track", path.display());
        }
        sources.push((path.clone(), tracks));
    }
    let (paths, renditions) = package::name_renditions(sources);

    // The copies: clear at the root unless only encrypted copies are asked for, then one
    // folder per copy.
    let mut copies = Vec::new();
    if encryption.is_none() || args.clear {
        copies.push(CopyKeys::clear());
    }
    if let Some(enc) = &encryption {
        if enc.iv.is_some() && enc.copies.contains(&Copy::Cenc) && renditions.len() > 1 {
            eprintln!(
                "warning: --iv with cenc: all {} tracks count their sample IVs up from the same IV under one key, so they reuse AES-CTR counter blocks; for testing only",
                renditions.len()
            );
        }
        if enc.write_key_file {
            if let Some(r) = renditions.iter().find(|r| r.name.as_str() == KEY_FILE) {
                bail!(
                    "rendition {:?} would be written where the AES-128 key file {KEY_FILE} goes: rename the input file",
                    r.name.as_str()
                );
            }
        }
        for &copy in &enc.copies {
            copies.push(enc.copy_keys(copy, &renditions)?);
        }
    }
    let packaging = Packaging {
        target,
        manifests: Manifests::default(),
        copies: copies.iter().map(|c| c.copy).collect(),
        clear_lead_seconds: encryption.as_ref().map_or(0.0, |e| e.clear_lead),
        // Found in the renditions by the packager.
        captioned: Vec::new(),
    };

    let staged = StagedDir::new(&args.out, args.overwrite)?;
    let summaries = package::package_copies(
        &paths,
        renditions,
        Vec::new(),
        &openvod_transcode::images::MadeImages::default(),
        &packaging,
        &copies,
        staged.path(),
    )?;
    let mut key_file = None;
    if let Some(enc) = encryption.as_ref().filter(|e| e.write_key_file) {
        let rel = Path::new(Copy::Aes128.folder()).join(KEY_FILE);
        let path = staged.path().join(&rel);
        std::fs::write(&path, enc.key.key).with_context(|| path.display().to_string())?;
        key_file = Some(rel);
    }
    let out = staged.commit()?;
    let input_bytes: u64 = paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let secs = started.elapsed().as_secs_f64();
    let files: usize =
        summaries.iter().map(|s| s.files).sum::<usize>() + usize::from(key_file.is_some());
    let bytes: u64 = summaries.iter().map(|s| s.bytes).sum();
    if args.json {
        let mut v = serde_json::to_value(&summaries[0])?;
        v["output"] = serde_json::json!(out);
        v["wall_seconds"] = serde_json::json!((secs * 1000.0).round() / 1000.0);
        v["input_bytes"] = serde_json::json!(input_bytes);
        if let Some(enc) = &encryption {
            v["files"] = serde_json::json!(files);
            v["bytes"] = serde_json::json!(bytes);
            let described: Vec<serde_json::Value> = summaries
                .iter()
                .zip(&copies)
                .map(|(summary, keys)| {
                    let copy = keys.copy;
                    let mut c = serde_json::to_value(summary).unwrap_or_default();
                    c["folder"] = serde_json::json!(copy.folder());
                    c["encryption"] = serde_json::json!(copy.name());
                    if copy.is_protected() {
                        let systems: Vec<&str> =
                            enc.systems_for(copy).iter().map(|s| s.name()).collect();
                        c["drm_systems"] = serde_json::json!(systems);
                        if copy == Copy::Aes128 {
                            c["key_uri"] = serde_json::json!(enc.key_uri);
                            c["key_file"] = serde_json::json!(key_file);
                        } else {
                            c["kid"] = serde_json::json!(enc.key.kid.to_uuid());
                            c["clear_lead_seconds"] = serde_json::json!(enc.clear_lead);
                        }
                    }
                    c
                })
                .collect();
            v["outputs"] = serde_json::json!(described);
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "{}: {} files, {:.1} MB in {:.2} s ({:.0} MB/s of input)",
            out.display(),
            files,
            bytes as f64 / 1e6,
            secs,
            input_bytes as f64 / 1e6 / secs.max(1e-6)
        );
        if let Some(enc) = &encryption {
            for (summary, keys) in summaries.iter().zip(&copies) {
                let copy = keys.copy;
                let folder = if copy.folder().is_empty() {
                    ".".to_string()
                } else {
                    format!("{}/", copy.folder())
                };
                let kid = match copy.sample_scheme() {
                    Some(_) => format!(", KID {}", enc.key.kid.to_uuid()),
                    None => String::new(),
                };
                println!(
                    " {folder} ({copy}{kid}): {} files, {:.1} MB",
                    summary.files,
                    summary.bytes as f64 / 1e6
                );
            }
            if let Some(rel) = &key_file {
                println!(
                    " {}: the AES-128 key (URI {} in the media playlists)",
                    rel.display(),
                    enc.key_uri
                );
            }
        }
        print_renditions(&summaries[0]);
    }
    Ok(())
}
