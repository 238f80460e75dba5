//! Packaging MP4 renditions into a folder of CMAF segments with HLS and DASH manifests.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use openvod_media::cmaf::Part;
use openvod_media::package::{Presentation, Rendition};
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

/// Packages named tracks of `sources` into `dir` (which must exist and be empty).
pub fn package_into(
    sources: &[PathBuf],
    renditions: Vec<Rendition>,
    target: SegmentTarget,
    manifests: Manifests,
    dir: &Path,
) -> Result<PackageSummary> {
    let presentation = Presentation::new(renditions, target).map_err(|source| Error::Media {
        path: dir.to_path_buf(),
        source,
    })?;
    let files: Vec<FileSource> = sources
        .iter()
        .map(|p| FileSource::open(p))
        .collect::<Result<_>>()?;
    let mut count = 0usize;
    let mut total = 0u64;
    let mut summaries = Vec::new();
    for (r, rendition) in presentation.renditions.iter().enumerate() {
        let rdir = dir.join(&rendition.name);
        std::fs::create_dir(&rdir).map_err(|e| Error::io(&rdir, e))?;
        let init = presentation.init_segment(r);
        let mut bytes = init.len() as u64;
        write_file(&dir.join(presentation.init_path(r)), &init)?;
        let src = &files[rendition.source];
        for n in 0..rendition.segments.len() {
            let path = dir.join(presentation.segment_path(r, n));
            bytes += write_segment(
                &path,
                &presentation.media_segment(r, n).parts,
                src,
                &sources[rendition.source],
            )?;
        }
        count += 1 + rendition.segments.len();
        if manifests.hls {
            write_file(
                &rdir.join("index.m3u8"),
                presentation.hls_media_playlist(r).as_bytes(),
            )?;
            count += 1;
            if let Some(iframes) = presentation.hls_iframe_playlist(r) {
                write_file(&rdir.join("iframes.m3u8"), iframes.as_bytes())?;
                count += 1;
            }
        }
        total += bytes;
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
            bytes,
        });
    }
    if manifests.hls {
        write_file(
            &dir.join("master.m3u8"),
            presentation.hls_multivariant_playlist().as_bytes(),
        )?;
        count += 1;
    }
    if manifests.dash {
        write_file(
            &dir.join("manifest.mpd"),
            presentation.dash_mpd().as_bytes(),
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
fn write_segment(path: &Path, parts: &[Part], src: &FileSource, src_path: &Path) -> Result<u64> {
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let mut out = BufWriter::with_capacity(256 << 10, file);
    let mut input = &src.file;
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
                let copied = std::io::copy(&mut std::io::Read::take(input, *len), &mut out)
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
