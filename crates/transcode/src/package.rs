//! Writing a presentation into a folder: every object of every copy, as
//! `openvod_media::Presentation` makes them, or its stored form for packaging on request.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use openvod_media::cmaf::{Part, SegmentSink};
use openvod_media::presentation::TextRendition;
use openvod_media::stored::{StoredPresentation, StoredRendition, StoredText, STORED_VERSION};
use openvod_media::{
    read_tracks, ByteSource, Copy, CopyKeys, FileSource, Limits, Made, ObjectPath, Packaging,
    Presentation, ProtectionSettings, Rendition, RenditionName, SegmentLength, Track, TrackKind,
};
use serde::Serialize;

use crate::images::MadeImages;
use crate::{Error, Result};

/// Opens `path` as a [`FileSource`].
fn open_source(path: &Path) -> Result<FileSource> {
    File::open(path)
        .and_then(FileSource::new)
        .map_err(|e| Error::io(path, e))
}

/// Reads the video and audio tracks of an MP4 file.
pub fn read_mp4(path: &Path) -> Result<Vec<Track>> {
    let src = open_source(path)?;
    read_tracks(&src, &Limits::default()).map_err(|source| Error::Media {
        path: path.to_path_buf(),
        source,
    })
}

/// One packaged rendition, as reported to the user.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RenditionSummary {
    pub name: String,
    pub kind: String,
    pub codecs: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame_rate: Option<f64>,
    /// An audio rendition's language, as a BCP 47 tag ("es").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// An audio rendition's channel count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<u16>,
    /// Average bit rate over the whole rendition, bits per second.
    pub bitrate: u64,
    /// Peak segment bit rate (the HLS BANDWIDTH of this rendition alone).
    pub peak_bitrate: u64,
    pub segments: usize,
    /// Bytes of init and media segments.
    pub bytes: u64,
    /// The encode's CPU seconds apportioned to this rung (an estimate: see
    /// `job::run`); absent for audio and for renditions not encoded here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_seconds: Option<f64>,
    /// Quality against the source, when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<crate::quality::QualityScore>,
    /// Whether the video's picture carries CEA-608 captions (signalled in the manifests).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cea608: bool,
}

/// What a packaging run wrote.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct PackageSummary {
    pub duration: f64,
    pub renditions: Vec<RenditionSummary>,
    /// Progressive downloads, when the template makes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub downloads: Vec<crate::downloads::Download>,
    pub files: usize,
    pub bytes: u64,
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The summary of `copy` of a presentation, with `bytes[r]` written for rendition `r`.
fn summary(p: &Presentation, copy: Copy, bytes: &[u64], files: usize) -> PackageSummary {
    let renditions: Vec<RenditionSummary> = p
        .renditions()
        .iter()
        .enumerate()
        .map(|(r, rendition)| {
            let track = rendition.track();
            let video = track.kind == TrackKind::Video;
            let (peak, average) = p.bandwidth(copy, r).unwrap_or((0, 0));
            RenditionSummary {
                name: rendition.name().to_string(),
                kind: track.kind.as_str().to_string(),
                codecs: rendition.codec_string(),
                width: video.then_some(track.width),
                height: video.then_some(track.height),
                frame_rate: track.frame_rate().map(round3),
                language: (!video)
                    .then(|| openvod_media::presentation::language_tag(&track.language))
                    .flatten(),
                channels: (!video).then(|| track.codec.channels()).flatten(),
                bitrate: average,
                peak_bitrate: peak,
                segments: rendition.segments().len(),
                bytes: bytes.get(r).copied().unwrap_or(0),
                cpu_seconds: None,
                quality: None,
                cea608: p.packaging().captioned.contains(rendition.name()),
            }
        })
        .chain(p.texts().iter().enumerate().map(|(k, t)| RenditionSummary {
            name: t.name.to_string(),
            kind: match t.info.kind {
                openvod_media::text::TextKind::Subtitles => "subtitles".into(),
                openvod_media::text::TextKind::Captions => "captions".into(),
            },
            codecs: "wvtt".into(),
            width: None,
            height: None,
            frame_rate: None,
            language: t.info.language.map(|l| l.bcp47().to_string()),
            channels: None,
            bitrate: 0,
            peak_bitrate: 0,
            segments: p.text_segment_count(),
            bytes: p.text_bytes(k),
            cpu_seconds: None,
            quality: None,
            cea608: false,
        }))
        .collect();
    PackageSummary {
        duration: round3(p.duration_seconds()),
        bytes: renditions.iter().map(|r| r.bytes).sum(),
        renditions,
        downloads: Vec::new(),
        files,
    }
}

/// Measures the subsample counts of the video renditions when a copy encrypts samples
/// (see `openvod_media::crypt::subsample_counts`): the presentation needs them to size
/// its protected segments before writing any.
fn measure(
    renditions: &mut [Rendition],
    files: &[FileSource],
    sources: &[PathBuf],
    copies: &[Copy],
) -> Result<()> {
    if !copies.iter().any(|c| c.sample_scheme().is_some()) {
        return Ok(());
    }
    for r in renditions.iter_mut() {
        if r.track.kind == TrackKind::Video && r.track.subsamples.is_none() {
            let counts = openvod_media::crypt::subsample_counts(&r.track, &files[r.source])
                .map_err(|source| Error::Media {
                    path: sources[r.source].clone(),
                    source,
                })?;
            r.track.subsamples = Some(counts);
        }
    }
    Ok(())
}

/// The video renditions whose samples carry CEA-608 captions (passed through the encode
/// from the source's picture), for the manifests to signal.
fn captioned(
    renditions: &[Rendition],
    files: &[FileSource],
    sources: &[PathBuf],
) -> Result<Vec<openvod_media::path::RenditionName>> {
    let mut out = Vec::new();
    for r in renditions {
        if openvod_media::captions::carries_cea608(&r.track, &files[r.source])
            .map_err(|e| Error::io(&sources[r.source], e))?
        {
            out.push(r.name.clone());
        }
    }
    Ok(out)
}

fn open_all(sources: &[PathBuf]) -> Result<Vec<FileSource>> {
    sources.iter().map(|p| open_source(p)).collect()
}

/// Stores renditions for packaging on request: each encoded MP4 as it is (hard-linked
/// into `dir/media/NAME.mp4` when the file system allows, copied otherwise), its index
/// (`openvod_media::index`, with the subsample counts the protected copies need) as
/// `dir/media/NAME.idx`, and `dir/presentation.json`. The presentation is cut and sized
/// here, so that a rendition the origin could not package is refused now. Returns the
/// summary of the first copy.
pub fn store_renditions(
    sources: &[PathBuf],
    mut renditions: Vec<Rendition>,
    texts: Vec<TextRendition>,
    images: &MadeImages,
    packaging: &Packaging,
    protection: Option<&ProtectionSettings>,
    dir: &Path,
) -> Result<PackageSummary> {
    let files = open_all(sources)?;
    measure(&mut renditions, &files, sources, &packaging.copies)?;
    let mut packaging = packaging.clone();
    packaging.captioned = captioned(&renditions, &files, sources)?;
    let media_dir = dir.join("media");
    std::fs::create_dir_all(&media_dir).map_err(|e| Error::io(&media_dir, e))?;
    let mut stored = Vec::with_capacity(renditions.len());
    let mut bytes = Vec::with_capacity(renditions.len());
    for r in &renditions {
        let entry = StoredRendition {
            name: r.name.clone(),
        };
        let from = &sources[r.source];
        let to = dir.join(entry.media_key());
        if std::fs::hard_link(from, &to).is_err() {
            std::fs::copy(from, &to).map_err(|e| Error::io(&to, e))?;
        }
        let index = openvod_media::index::encode_track(&r.track);
        write_file(&dir.join(entry.index_key()), &index)?;
        bytes.push(files[r.source].len() + index.len() as u64);
        stored.push(entry);
    }
    let mut stored_texts = Vec::with_capacity(texts.len());
    for t in &texts {
        let entry = StoredText {
            name: t.name.clone(),
            info: t.info.clone(),
        };
        let vtt = openvod_media::text::write_segment(&t.cues, 0, u64::MAX, None);
        write_file(&dir.join(entry.media_key()), vtt.as_bytes())?;
        stored_texts.push(entry);
    }
    let storyboard = images.storyboard.as_ref().map(|s| s.storyboard.clone());
    if let Some(s) = &images.storyboard {
        write_file(
            &dir.join(openvod_media::stored::STORYBOARD_SPRITE_KEY),
            &s.sprite,
        )?;
    }
    let mut description = StoredPresentation {
        version: STORED_VERSION,
        renditions: stored,
        texts: stored_texts,
        storyboard,
        captioned: packaging.captioned.clone(),
        target: packaging.target,
        manifests: packaging.manifests,
        protection: protection.cloned(),
    };
    description.version = description.needed_version();
    write_file(
        &dir.join(openvod_media::stored::STORED_PRESENTATION),
        &description.to_json(),
    )?;
    let presentation = presentation(renditions, packaging.clone(), texts, images, dir)?;
    write_images(&presentation, images, dir)?;
    let first = packaging.copies.first().copied().unwrap_or(Copy::Clear);
    Ok(summary(
        &presentation,
        first,
        &bytes,
        1 + 2 * description.renditions.len(),
    ))
}

/// Packages named tracks of `sources` into `dir` (which must exist and be empty): every
/// object of every copy in `copies`, each copy in its folder. Returns a summary per copy.
pub fn package_copies(
    sources: &[PathBuf],
    mut renditions: Vec<Rendition>,
    texts: Vec<TextRendition>,
    images: &MadeImages,
    packaging: &Packaging,
    copies: &[CopyKeys],
    dir: &Path,
) -> Result<Vec<PackageSummary>> {
    let files = open_all(sources)?;
    let mut packaging = packaging.clone();
    packaging.copies = copies.iter().map(|c| c.copy).collect();
    measure(&mut renditions, &files, sources, &packaging.copies)?;
    packaging.captioned = captioned(&renditions, &files, sources)?;
    let presentation = presentation(renditions, packaging, texts, images, dir)?;
    write_images(&presentation, images, dir)?;
    copies
        .iter()
        .map(|keys| write_copy(&presentation, keys, sources, dir))
        .collect()
}

/// The presentation of `renditions` with its text tracks and storyboard.
fn presentation(
    renditions: Vec<Rendition>,
    packaging: Packaging,
    texts: Vec<TextRendition>,
    images: &MadeImages,
    dir: &Path,
) -> Result<Presentation> {
    let p = Presentation::new(renditions, packaging, SegmentLength::Template)
        .and_then(|p| p.with_text(texts))
        .map_err(|source| Error::Media {
            path: dir.to_path_buf(),
            source,
        })?;
    Ok(match &images.storyboard {
        Some(s) => p.with_storyboard(s.clone()),
        None => p,
    })
}

/// Writes the poster (`poster.jpg`) and the image index (`images.json`) at the root of
/// `dir`, when there are pictures. The index names the video renditions thumbnails can be made from when the
/// presentation has a clear copy: a protected title's frames are not given away as
/// pictures.
fn write_images(p: &Presentation, images: &MadeImages, dir: &Path) -> Result<()> {
    use openvod_media::images::{ImageIndex, ThumbnailSource, VideoSize, IMAGE_INDEX, POSTER};
    if images.poster.is_none() && images.storyboard.is_none() {
        return Ok(());
    }
    if let Some((_, jpeg)) = &images.poster {
        write_file(&dir.join(POSTER), jpeg)?;
    }
    let mut renditions: Vec<VideoSize> = p
        .renditions()
        .iter()
        .filter(|r| r.track().kind == TrackKind::Video)
        .map(|r| VideoSize {
            name: r.name().clone(),
            width: r.track().width,
            height: r.track().height,
        })
        .collect();
    renditions.sort_by_key(|r| u64::from(r.width) * u64::from(r.height));
    let clear = p.copies().any(|c| c == Copy::Clear);
    let index = ImageIndex {
        poster: images.poster.as_ref().map(|(frame, _)| frame.clone()),
        storyboard: images.storyboard.as_ref().map(|s| s.storyboard.clone()),
        thumbnails: (clear && !renditions.is_empty()).then(|| ThumbnailSource {
            spans_ms: p.segment_spans_ms().to_vec(),
            renditions,
        }),
    };
    write_file(&dir.join(IMAGE_INDEX), &index.to_json())
}

/// Writes every object of one copy. Objects are written in parallel, a thread per core,
/// a rendition's objects at a time: a protected segment is read, encrypted and written
/// from memory, which is CPU and copy bound.
fn write_copy(
    p: &Presentation,
    keys: &CopyKeys,
    sources: &[PathBuf],
    dir: &Path,
) -> Result<PackageSummary> {
    let objects = p.objects(keys.copy);
    // Work units: the objects of no rendition (manifests), then each rendition's.
    let mut units: Vec<Vec<&ObjectPath>> = vec![Vec::new(); p.renditions().len() + 1];
    for o in &objects {
        let unit = o
            .object
            .rendition()
            .and_then(|n| p.rendition_index(n))
            .map_or(0, |r| r + 1);
        units[unit].push(o);
    }
    let mut folders: HashSet<PathBuf> = HashSet::new();
    for o in &objects {
        if let Some(parent) = dir.join(o.to_string()).parent() {
            if folders.insert(parent.to_path_buf()) {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
        }
    }
    let workers = std::thread::available_parallelism()
        .map_or(1, |c| c.get())
        .min(units.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let written: Mutex<Vec<Option<Result<u64>>>> = Mutex::new(units.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut buffer = Vec::new();
                loop {
                    let u = next.fetch_add(1, Ordering::Relaxed);
                    if u >= units.len() {
                        break;
                    }
                    let result = units[u]
                        .iter()
                        .map(|o| write_object(p, keys, o, sources, dir, &mut buffer))
                        .sum::<Result<u64>>();
                    let failed = result.is_err();
                    if let Ok(mut all) = written.lock() {
                        all[u] = Some(result);
                    }
                    if failed {
                        // The others stop at their next unit; the run fails anyway.
                        next.store(units.len(), Ordering::Relaxed);
                        break;
                    }
                }
            });
        }
    });
    let written = written
        .into_inner()
        .map_err(|_| Error::Output("a packaging thread panicked".into()))?;
    let mut bytes = Vec::with_capacity(units.len());
    for w in written {
        bytes.push(w.ok_or_else(|| Error::Output("an object was not packaged".into()))??);
    }
    // Manifests (unit 0) are not counted in a rendition's bytes.
    Ok(summary(p, keys.copy, &bytes[1..], objects.len()))
}

/// Writes one object; returns its size, or 0 for a manifest (rendition bytes count
/// segments only).
fn write_object(
    p: &Presentation,
    keys: &CopyKeys,
    object: &ObjectPath,
    sources: &[PathBuf],
    dir: &Path,
    buffer: &mut Vec<u8>,
) -> Result<u64> {
    let path = dir.join(object.to_string());
    let media_error = |source| Error::Media {
        path: path.clone(),
        source,
    };
    let counted = !object.object.is_manifest();
    match p.make(keys, object).map_err(media_error)? {
        Made::Bytes(bytes) => {
            write_file(&path, &bytes)?;
            Ok(if counted { bytes.len() as u64 } else { 0 })
        }
        Made::Segment(segment) => {
            let source = segment.source();
            match segment.layout() {
                // Clear samples: the kernel copies them file to file.
                Some(layout) => {
                    let layout = layout.map_err(media_error)?;
                    // A handle of its own: clear segments copy from the file's position,
                    // which threads must not share.
                    let src_path = &sources[source];
                    let mut input = File::open(src_path).map_err(|e| Error::io(src_path, e))?;
                    write_segment(&path, &layout.parts, &mut input, src_path)
                }
                None => {
                    let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
                    buffer.clear();
                    let mut sink = FileSink {
                        file,
                        buffer: std::mem::take(buffer),
                        written: 0,
                    };
                    // A source of its own: a FileSource's reads move the file's cursor.
                    let made = segment.write_to(&open_source(&sources[source])?, &mut sink);
                    *buffer = sink.buffer;
                    made.map_err(media_error)?;
                    Ok(sink.written)
                }
            }
        }
    }
}

/// A segment file written part by part as the segment is made (`openvod_media::cmaf::
/// SegmentSink`): each part is written at its offset and dropped from the buffer, so the
/// buffer stays small and every byte is written while it is still in cache.
struct FileSink {
    file: File,
    buffer: Vec<u8>,
    /// Bytes written.
    written: u64,
}

impl SegmentSink for FileSink {
    fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buffer
    }

    fn ready(&mut self, at: usize, offset: u64) -> openvod_media::Result<()> {
        let part = &self.buffer[at..];
        self.file
            .write_all_at(part, offset)
            .map_err(|source| openvod_media::Error::Write { offset, source })?;
        self.written += part.len() as u64;
        self.buffer.truncate(at);
        Ok(())
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// Writes one segment, copying sample data straight from the source file (the kernel
/// copies file to file where it can).
fn write_segment(path: &Path, parts: &[Part], input: &mut File, src_path: &Path) -> Result<u64> {
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let mut out = BufWriter::with_capacity(256 << 10, file);
    let mut written = 0u64;
    for part in parts {
        match part {
            Part::Bytes(b) => {
                out.write_all(b).map_err(|e| Error::io(path, e))?;
                written += b.len() as u64;
            }
            Part::Source { offset, len } => {
                input
                    .seek(SeekFrom::Start(*offset))
                    .map_err(|e| Error::io(src_path, e))?;
                let copied = std::io::copy(&mut std::io::Read::take(&mut *input, *len), &mut out)
                    .map_err(|e| Error::io(path, e))?;
                if copied != *len {
                    return Err(Error::Output(format!(
                        "{}: the file shrank while it was read ({} of {len} bytes at {offset})",
                        src_path.display(),
                        copied
                    )));
                }
                written += copied;
            }
        }
    }
    out.flush().map_err(|e| Error::io(path, e))?;
    Ok(written)
}

/// Names renditions for `openvod package`: a file's video track takes the file's stem, its
/// audio track `STEM_audio` (or the stem when the file has no video). Audio tracks that
/// are byte-identical encodes of one another (the same audio muxed into each rendition)
/// are kept once.
pub fn name_renditions(sources: Vec<(PathBuf, Vec<Track>)>) -> (Vec<PathBuf>, Vec<Rendition>) {
    let mut out: Vec<Rendition> = Vec::new();
    let mut paths = Vec::with_capacity(sources.len());
    for (i, (path, tracks)) in sources.into_iter().enumerate() {
        let stem: String = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| format!("input{}", i + 1))
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .take(48)
            .collect();
        let has_video = tracks.iter().any(|t| t.kind == TrackKind::Video);
        let mut per_kind = [0usize; 2];
        for t in tracks {
            if t.kind == TrackKind::Audio
                && out.iter().any(|o| {
                    o.track.kind == TrackKind::Audio
                        && o.track.codec == t.codec
                        && o.track.samples.len() == t.samples.len()
                        && o.track.media_bytes() == t.media_bytes()
                })
            {
                continue;
            }
            let k = usize::from(t.kind == TrackKind::Audio);
            per_kind[k] += 1;
            let mut name = match (t.kind, has_video) {
                (TrackKind::Audio, true) => format!("{stem}_audio"),
                _ => stem.clone(),
            };
            if per_kind[k] > 1 {
                name = format!("{name}{}", per_kind[k]);
            }
            // A name another rendition has, or one a path reserves (a copy's folder,
            // `keys`, `sN`), gets a number until it is free.
            let name = (0u32..)
                .map(|k| match k {
                    0 => name.clone(),
                    k => format!("{name:.40}_{k}"),
                })
                .find_map(|candidate| {
                    RenditionName::new(&candidate)
                        .ok()
                        .filter(|n| !out.iter().any(|o| &o.name == n))
                })
                .unwrap_or_else(|| unreachable!("finitely many names are taken"));
            out.push(Rendition {
                name,
                source: i,
                track: t,
            });
        }
        paths.push(path);
    }
    (paths, out)
}
