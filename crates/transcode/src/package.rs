//! Packaging MP4 renditions into a folder of CMAF segments with HLS and DASH manifests.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use openvod_media::cmaf::Part;
use openvod_media::package::{Method, Presentation, Protection, Rendition};
use openvod_media::segment::SegmentTarget;
use openvod_media::{read_tracks, ByteSource, Limits, Track, TrackKind};
use serde::Serialize;

use crate::{Error, Result};

/// A file read through [`ByteSource`] with positioned reads.
pub struct FileSource {
    file: File,
    len: u64,
}

impl FileSource {
    pub fn open(path: &Path) -> Result<FileSource> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        Ok(FileSource { file, len })
    }
}

impl ByteSource for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }
}

/// Reads the video and audio tracks of an MP4 file.
pub fn read_mp4(path: &Path) -> Result<Vec<Track>> {
    let src = FileSource::open(path)?;
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
    /// Average bit rate over the whole rendition, bits per second.
    pub bitrate: u64,
    /// Peak segment bit rate (the HLS BANDWIDTH of this rendition alone).
    pub peak_bitrate: u64,
    pub segments: usize,
    /// Bytes of init and media segments.
    pub bytes: u64,
}

/// What a packaging run wrote.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct PackageSummary {
    pub duration: f64,
    pub renditions: Vec<RenditionSummary>,
    pub files: usize,
    pub bytes: u64,
}

/// Which manifests to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Manifests {
    pub hls: bool,
    pub dash: bool,
}

/// The files of a rendition stored for packaging on request, relative to the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFiles {
    pub name: String,
    pub media: String,
    pub index: String,
}

/// Stores renditions for packaging on request: each encoded MP4 as it is (hard-linked
/// into `dir/media/NAME.mp4` when the file system allows, copied otherwise) and its
/// index (`openvod_media::index`) as `dir/media/NAME.idx`. The presentation is cut once
/// here, so that a rendition the origin could not package is refused now. Returns the
/// summary of the clear presentation and the (name, media, index) paths relative to
/// `dir`.
pub fn store_renditions(
    sources: &[PathBuf],
    renditions: Vec<Rendition>,
    target: SegmentTarget,
    dir: &Path,
) -> Result<(PackageSummary, Vec<StoredFiles>)> {
    let media_dir = dir.join("media");
    std::fs::create_dir_all(&media_dir).map_err(|e| Error::io(&media_dir, e))?;
    let mut stored = Vec::with_capacity(renditions.len());
    for r in &renditions {
        let media = format!("media/{}.mp4", r.name);
        let index = format!("media/{}.idx", r.name);
        let from = &sources[r.source];
        let to = dir.join(&media);
        if std::fs::hard_link(from, &to).is_err() {
            std::fs::copy(from, &to).map_err(|e| Error::io(&to, e))?;
        }
        write_file(
            &dir.join(&index),
            &openvod_media::index::encode_track(&r.track),
        )?;
        stored.push(StoredFiles {
            name: r.name.clone(),
            media,
            index,
        });
    }
    let presentation = Presentation::new(renditions, target).map_err(|source| Error::Media {
        path: dir.to_path_buf(),
        source,
    })?;
    let summaries = presentation
        .renditions
        .iter()
        .map(|r| {
            let video = r.track.kind == TrackKind::Video;
            RenditionSummary {
                name: r.name.clone(),
                kind: r.track.kind.as_str().to_string(),
                codecs: r.codec_string(),
                width: video.then_some(r.track.width),
                height: video.then_some(r.track.height),
                frame_rate: r.track.frame_rate().map(|f| (f * 1000.0).round() / 1000.0),
                bitrate: r.average_bandwidth,
                peak_bitrate: r.peak_bandwidth,
                segments: r.segments.len(),
                bytes: r.segment_sizes.iter().sum(),
            }
        })
        .collect::<Vec<_>>();
    let bytes = summaries.iter().map(|s| s.bytes).sum();
    Ok((
        PackageSummary {
            duration: (presentation.duration_seconds() * 1000.0).round() / 1000.0,
            renditions: summaries,
            files: 2 * stored.len(),
            bytes,
        },
        stored,
    ))
}

/// One packaged copy of a presentation: a folder under the output (`""` for the root)
/// and how it is protected.
#[derive(Debug, Clone)]
pub struct Output {
    pub folder: String,
    pub protection: Option<Protection>,
}

/// Packages named tracks of `sources` into `dir` (which must exist and be empty).
pub fn package_into(
    sources: &[PathBuf],
    renditions: Vec<Rendition>,
    target: SegmentTarget,
    manifests: Manifests,
    dir: &Path,
) -> Result<PackageSummary> {
    let clear = Output {
        folder: String::new(),
        protection: None,
    };
    package_outputs(sources, renditions, target, manifests, &[clear], dir).map(|mut v| v.remove(0))
}

/// Packages named tracks of `sources` once per output into `dir` (which must exist and be
/// empty): the same cuts and sample data, clear or protected. AES-128 outputs get HLS
/// only (DASH has no whole-segment encryption).
pub fn package_outputs(
    sources: &[PathBuf],
    renditions: Vec<Rendition>,
    target: SegmentTarget,
    manifests: Manifests,
    outputs: &[Output],
    dir: &Path,
) -> Result<Vec<PackageSummary>> {
    let presentation = Presentation::new(renditions, target).map_err(|source| Error::Media {
        path: dir.to_path_buf(),
        source,
    })?;
    let files: Vec<FileSource> = sources
        .iter()
        .map(|p| FileSource::open(p))
        .collect::<Result<_>>()?;
    let mut summaries = Vec::with_capacity(outputs.len());
    for output in outputs {
        let out_dir = dir.join(&output.folder);
        if !output.folder.is_empty() {
            std::fs::create_dir_all(&out_dir).map_err(|e| Error::io(&out_dir, e))?;
        }
        let manifests = match output.protection.as_ref().map(|p| p.method) {
            Some(Method::Aes128) => Manifests {
                hls: manifests.hls,
                dash: false,
            },
            _ => manifests,
        };
        summaries.push(write_presentation(
            presentation.clone(),
            &files,
            sources,
            manifests,
            output.protection.as_ref(),
            &out_dir,
        )?);
    }
    Ok(summaries)
}

/// What writing one rendition's files gave.
struct WrittenRendition {
    bytes: u64,
    /// Size and fragments of each protected segment (empty for a clear copy).
    protected: Vec<(u64, Vec<openvod_media::cmaf::FragmentPlace>)>,
}

/// Writes the init segment and media segments of rendition `r`.
fn write_rendition(
    presentation: &Presentation,
    r: usize,
    files: &[FileSource],
    sources: &[PathBuf],
    protection: Option<&Protection>,
    dir: &Path,
) -> Result<WrittenRendition> {
    let media_error = |source| Error::Media {
        path: dir.to_path_buf(),
        source,
    };
    let rendition = &presentation.renditions[r];
    let rdir = dir.join(&rendition.name);
    std::fs::create_dir(&rdir).map_err(|e| Error::io(&rdir, e))?;
    let init = match protection {
        Some(p) => presentation
            .protected_init_segment(r, p)
            .map_err(media_error)?,
        None => presentation.init_segment(r),
    };
    let mut bytes = init.len() as u64;
    write_file(&dir.join(presentation.init_path(r)), &init)?;
    let source = rendition.source;
    let src = &files[source];
    let src_path = &sources[source];
    // A handle of its own: clear segments copy from the file's position, which threads
    // must not share.
    let mut input = File::open(src_path).map_err(|e| Error::io(src_path, e))?;
    let mut protected = Vec::new();
    for n in 0..rendition.segments.len() {
        let path = dir.join(presentation.segment_path(r, n));
        let layout = match protection {
            Some(p) => {
                let layout = presentation
                    .protected_media_segment(r, n, p, src)
                    .map_err(media_error)?;
                protected.push((layout.len(), layout.fragments.clone()));
                layout
            }
            None => presentation.media_segment(r, n),
        };
        bytes += write_segment(&path, &layout.parts, &mut input, src_path)?;
    }
    Ok(WrittenRendition { bytes, protected })
}

fn write_presentation(
    mut presentation: Presentation,
    files: &[FileSource],
    sources: &[PathBuf],
    manifests: Manifests,
    protection: Option<&Protection>,
    dir: &Path,
) -> Result<PackageSummary> {
    // Renditions are written in parallel, a thread per core: a protected segment is
    // read, encrypted and written from memory, which is CPU and copy bound.
    let n = presentation.renditions.len();
    let workers = std::thread::available_parallelism()
        .map_or(1, |c| c.get())
        .min(n)
        .max(1);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<WrittenRendition>>>> =
        Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let r = next.fetch_add(1, Ordering::Relaxed);
                if r >= n {
                    break;
                }
                let written = write_rendition(&presentation, r, files, sources, protection, dir);
                let failed = written.is_err();
                if let Ok(mut all) = results.lock() {
                    all[r] = Some(written);
                }
                if failed {
                    // The others stop at their next rendition; the run fails anyway.
                    next.store(n, Ordering::Relaxed);
                    break;
                }
            });
        }
    });
    let results = results
        .into_inner()
        .map_err(|_| Error::Output("a packaging thread panicked".into()))?;
    let mut count = 0usize;
    let mut total = 0u64;
    let mut summaries = Vec::new();
    for (r, written) in results.into_iter().enumerate() {
        let written =
            written.ok_or_else(|| Error::Output("a rendition was not packaged".into()))??;
        if !written.protected.is_empty() {
            presentation.record_segments(r, written.protected);
        }
        let rendition = &presentation.renditions[r];
        count += 1 + rendition.segments.len();
        total += written.bytes;
        let video = rendition.track.kind == TrackKind::Video;
        summaries.push(RenditionSummary {
            name: rendition.name.clone(),
            kind: rendition.track.kind.as_str().to_string(),
            codecs: rendition.codec_string(),
            width: video.then_some(rendition.track.width),
            height: video.then_some(rendition.track.height),
            frame_rate: rendition
                .track
                .frame_rate()
                .map(|f| (f * 1000.0).round() / 1000.0),
            bitrate: rendition.average_bandwidth,
            peak_bitrate: rendition.peak_bandwidth,
            segments: rendition.segments.len(),
            bytes: written.bytes,
        });
    }
    // Playlists last: protected segments change sizes, bit rates and I-frame ranges.
    for r in 0..presentation.renditions.len() {
        if !manifests.hls {
            break;
        }
        let rdir = dir.join(&presentation.renditions[r].name);
        write_file(
            &rdir.join("index.m3u8"),
            presentation
                .protected_hls_media_playlist(r, protection)
                .as_bytes(),
        )?;
        count += 1;
        if let Some(iframes) = presentation.protected_hls_iframe_playlist(r, protection) {
            write_file(&rdir.join("iframes.m3u8"), iframes.as_bytes())?;
            count += 1;
        }
    }
    if manifests.hls {
        write_file(
            &dir.join("master.m3u8"),
            presentation
                .protected_hls_multivariant_playlist(protection)
                .as_bytes(),
        )?;
        count += 1;
    }
    if manifests.dash {
        write_file(
            &dir.join("manifest.mpd"),
            presentation.protected_dash_mpd(protection).as_bytes(),
        )?;
        count += 1;
    }
    Ok(PackageSummary {
        duration: (presentation.duration_seconds() * 1000.0).round() / 1000.0,
        renditions: summaries,
        files: count,
        bytes: total,
    })
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
            while out.iter().any(|o| o.name == name) {
                name.push('_');
            }
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
