//! Reading an MP4 file (ISO/IEC 14496-12) into [`Track`]s with complete sample tables.
//!
//! Both layouts are read: progressive files (sample tables in `moov/trak/mdia/minf/stbl`,
//! with `moov` before or after `mdat`) and fragmented files (`moof`/`traf`/`trun`, with
//! defaults from `trex` and `tfhd`). The box bodies are decoded with `mp4-atom`; the walk
//! over the file, the bounds, and the expansion of the tables into samples are ours.
//!
//! Timing is normalized on the way out, so that every track starts its presentation
//! together at time zero (or at its empty-edit delay):
//! - an edit list (8.6.6) gives the media time where presentation starts; without one,
//!   as in ffmpeg's `empty_moov` fragmented files, presentation starts at the earliest
//!   composition time, so that video with B-frames is not shifted against audio;
//! - video keeps its reordering as signed composition offsets (written as `trun` version
//!   1), and its decode times start at zero;
//! - audio (no composition offsets) drops the whole leading frames that the edit list
//!   skips, such as the AAC encoder priming frame.

use mp4_atom::{Decode, StszSamples};

use crate::bmff::{read_bounded, BoxHeader, ByteSource, FourCc};
use crate::codec::{av1_info_from_samples, codec_info};
use crate::{Error, Result, Sample, Track, TrackKind};

/// Bounds on what a file may make the reader allocate.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest `moov` box read into memory.
    pub max_moov_bytes: u64,
    /// Largest `moof` box read into memory.
    pub max_moof_bytes: u64,
    /// Most samples in one track (a 24-hour 60 fps video has 5.2 million).
    pub max_samples: u64,
    /// Most top-level boxes walked.
    pub max_top_level_boxes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_moov_bytes: 256 << 20,
            max_moof_bytes: 16 << 20,
            max_samples: 10_000_000,
            max_top_level_boxes: 10_000_000,
        }
    }
}

/// Box types an MP4 or QuickTime file starts with: `ftyp` (ISO/IEC 14496-12, 4.3) or,
/// in older QuickTime files, a movie, media data or padding atom.
const FIRST_BOX_TYPES: [[u8; 4]; 9] = [
    *b"ftyp", *b"styp", *b"moov", *b"mdat", *b"free", *b"skip", *b"wide", *b"pnot", *b"uuid",
];

/// `sample_is_non_sync_sample` in the sample flags (ISO/IEC 14496-12, 8.8.3.1).
const NON_SYNC_FLAG: u32 = 0x0001_0000;

/// Reads every video and audio track of an MP4 file. Other tracks (timecode, metadata,
/// subtitles) are skipped.
pub fn read_tracks<S: ByteSource + ?Sized>(src: &S, limits: &Limits) -> Result<Vec<Track>> {
    let len = src.len();
    if len == 0 {
        return Err(Error::NotMp4("the file is empty".into()));
    }
    let mut moov: Option<BoxHeader> = None;
    let mut moofs: Vec<BoxHeader> = Vec::new();
    let mut pos = 0;
    let mut count = 0u64;
    while pos < len {
        let header = match BoxHeader::read(src, pos, len) {
            Ok(h) => h,
            Err(e) if pos == 0 => return Err(not_mp4(src, e)),
            Err(e) => return Err(e),
        };
        if pos == 0 && !FIRST_BOX_TYPES.contains(&header.kind.0) {
            return Err(Error::NotMp4(
                "the file does not start with an ISO-BMFF box".into(),
            ));
        }
        count += 1;
        if count > limits.max_top_level_boxes {
            return Err(Error::Limit {
                what: "number of top-level boxes",
                value: count,
                limit: limits.max_top_level_boxes,
            });
        }
        match &header.kind.0 {
            b"moov" => {
                if moov.is_some() {
                    return Err(Error::Malformed {
                        kind: "moov".into(),
                        offset: header.offset,
                        reason: "a second moov box".into(),
                    });
                }
                moov = Some(header);
            }
            b"moof" => moofs.push(header),
            _ => {}
        }
        pos = header.end();
    }
    let moov = moov.ok_or_else(|| {
        Error::NotMp4("no 'moov' box: not an MP4 file, or the file is truncated".into())
    })?;
    let body = read_bounded(
        src,
        moov.body_offset(),
        moov.size - moov.header_len,
        "moov box size",
        limits.max_moov_bytes,
    )?;
    let mut tracks = read_moov(&body, moov.offset, len, limits)?;
    let trex = read_trex(&body, moov.offset)?;
    for header in &moofs {
        read_moof(src, header, &mut tracks, &trex, limits)?;
    }
    let mut out = Vec::new();
    for pending in tracks {
        if let Some(mut track) = pending.finish(len)? {
            if let Some(codec) = av1_info_from_samples(&track, src) {
                track.codec = codec;
            }
            out.push(track);
        }
    }
    Ok(out)
}

/// A first box that cannot be read means the file is not MP4 at all, whatever the reason.
fn not_mp4<S: ByteSource + ?Sized>(src: &S, err: Error) -> Error {
    let mut head = [0u8; 8];
    let known = src.read_exact_at(0, &mut head).is_ok()
        && FIRST_BOX_TYPES.iter().any(|k| head[4..8] == k[..]);
    match err {
        Error::Truncated(_) | Error::Malformed { .. } if !known => {
            Error::NotMp4("the file does not start with an ISO-BMFF box".into())
        }
        other => other,
    }
}

/// A track while its sample table is being assembled.
struct PendingTrack {
    track: Track,
    /// Presentation start in media time, from the edit list (8.6.6).
    edit_media_time: Option<i64>,
    /// An initial empty edit, converted to the media timescale.
    edit_delay: u64,
    /// Decode time where the next fragment continues when it has no `tfdt`.
    next_dts: u64,
}

impl PendingTrack {
    fn finish(mut self, file_len: u64) -> Result<Option<Track>> {
        let t = &mut self.track;
        if t.samples.is_empty() {
            return Ok(None);
        }
        for (i, s) in t.samples.iter().enumerate() {
            if s.offset
                .checked_add(u64::from(s.size))
                .is_none_or(|end| end > file_len)
            {
                return Err(Error::Truncated(format!(
                    "sample {} of track {} lies at bytes {}..{} but the file ends at {file_len}",
                    i + 1,
                    t.track_id,
                    s.offset,
                    s.offset.saturating_add(u64::from(s.size)),
                )));
            }
        }
        normalize_timing(t, self.edit_media_time, self.edit_delay);
        Ok(Some(self.track))
    }
}

/// Applies the edit list and moves every track to start at its delay; see the module docs.
fn normalize_timing(t: &mut Track, edit_media_time: Option<i64>, delay: u64) {
    let first_dts = t.samples[0].dts;
    let earliest = t
        .samples
        .iter()
        .take(256)
        .map(Sample::pts)
        .min()
        .unwrap_or(0);
    let has_reordering = t.samples.iter().any(|s| s.cts != 0);
    let start = edit_media_time.unwrap_or(earliest);
    if has_reordering {
        // Never start after the first decoded frame is presented: that frame is a sync
        // sample and must keep a presentation time >= its decode time's origin.
        let start = start.min(t.samples[0].pts());
        let shift = start.saturating_sub(first_dts as i64);
        for s in &mut t.samples {
            s.dts = s.dts.saturating_sub(first_dts).saturating_add(delay);
            s.cts = i64::from(s.cts)
                .saturating_sub(shift)
                .clamp(i32::MIN.into(), i32::MAX.into()) as i32;
        }
    } else {
        // Drop whole samples that end at or before the presentation start.
        let skip = t
            .samples
            .iter()
            .take_while(|s| s.dts.saturating_add(u64::from(s.duration)) as i64 <= start)
            .count()
            .min(t.samples.len() - 1);
        t.samples.drain(..skip);
        let base = t.samples[0].dts;
        for s in &mut t.samples {
            s.dts = s.dts.saturating_sub(base).saturating_add(delay);
        }
    }
}

/// Decodes each `trak` of a `moov` body on its own, so that one odd track (a QuickTime
/// timecode track, say) does not keep the others from being read.
fn read_moov(
    body: &[u8],
    moov_offset: u64,
    file_len: u64,
    limits: &Limits,
) -> Result<Vec<PendingTrack>> {
    let malformed = |kind: &str, reason: String| Error::Malformed {
        kind: kind.into(),
        offset: moov_offset,
        reason,
    };
    let mut movie_timescale = 0;
    let mut tracks = Vec::new();
    for (kind, whole, inner) in crate::bmff::header::children(body)? {
        match &kind.0 {
            b"mvhd" => {
                let mvhd = mp4_atom::Mvhd::decode(&mut &whole[..])
                    .map_err(|e| malformed("mvhd", e.to_string()))?;
                movie_timescale = mvhd.timescale;
            }
            b"trak" => {
                if let Some(t) = read_trak(whole, inner, moov_offset, file_len, limits)? {
                    tracks.push(t);
                }
            }
            _ => {}
        }
    }
    for t in &mut tracks {
        // The empty edit's duration is in the movie timescale (8.6.6.3).
        if t.edit_delay > 0 && movie_timescale > 0 {
            t.edit_delay = rescale(t.edit_delay, t.track.timescale, movie_timescale);
        }
    }
    Ok(tracks)
}

/// `time` in units of `1 / from` seconds, in units of `1 / to` (rounded down; `from` is
/// not 0). The product is taken in 128 bits, as a 64-bit duration times a 32-bit
/// timescale can overflow 64; a result over `u64::MAX` saturates.
fn rescale(time: u64, to: u32, from: u32) -> u64 {
    let scaled = u128::from(time) * u128::from(to) / u128::from(from);
    u64::try_from(scaled).unwrap_or(u64::MAX)
}

fn read_trak(
    whole: &[u8],
    inner: &[u8],
    moov_offset: u64,
    file_len: u64,
    limits: &Limits,
) -> Result<Option<PendingTrack>> {
    let handler = find_path(inner, &[b"mdia", b"hdlr"])?
        .and_then(|hdlr| hdlr.get(8..12))
        .map(|h| [h[0], h[1], h[2], h[3]]);
    let kind = match handler.as_ref() {
        Some(b"vide") => TrackKind::Video,
        Some(b"soun") => TrackKind::Audio,
        _ => return Ok(None),
    };
    let trak = mp4_atom::Trak::decode(&mut &whole[..]).map_err(|e| Error::Malformed {
        kind: "trak".into(),
        offset: moov_offset,
        reason: e.to_string(),
    })?;
    let stsd_raw = find_box(inner, &[b"mdia", b"minf", b"stbl", b"stsd"])?.ok_or_else(|| {
        Error::Malformed {
            kind: "stbl".into(),
            offset: moov_offset,
            reason: "no stsd box".into(),
        }
    })?;
    let stbl = &trak.mdia.minf.stbl;
    if stbl.stsd.codecs.len() != 1 {
        return Err(Error::Unsupported(format!(
            "track {} has {} sample descriptions; one is supported",
            trak.tkhd.track_id,
            stbl.stsd.codecs.len()
        )));
    }
    let (codec, width, height) = codec_info(&stbl.stsd.codecs[0], trak.tkhd.track_id)?;
    let timescale = trak.mdia.mdhd.timescale;
    if timescale == 0 {
        return Err(Error::Malformed {
            kind: "mdhd".into(),
            offset: moov_offset,
            reason: format!("track {} has a timescale of 0", trak.tkhd.track_id),
        });
    }
    let (edit_media_time, edit_delay) = edit_list(&trak);
    let mut pending = PendingTrack {
        track: Track {
            track_id: trak.tkhd.track_id,
            kind,
            timescale,
            language: language_code(&trak.mdia.mdhd.language),
            sample_description: stsd_raw.to_vec(),
            codec,
            width,
            height,
            samples: Vec::new(),
            subsamples: None,
        },
        edit_media_time,
        edit_delay,
        next_dts: 0,
    };
    read_sample_table(stbl, &mut pending, file_len, limits)?;
    Ok(Some(pending))
}

/// The `mdhd` language as an ISO 639-2/T code (ISO/IEC 14496-12, 8.4.2.3): three
/// lower-case letters, or "und" for an unset or malformed field (a zero field decodes
/// to backquotes, other values to punctuation).
fn language_code(packed: &str) -> String {
    if packed.len() == 3 && packed.bytes().all(|b| b.is_ascii_lowercase()) {
        packed.to_string()
    } else {
        "und".to_string()
    }
}

/// The presentation start from the edit list: the media time of the first non-empty edit,
/// and the duration of a leading empty edit (in the movie timescale).
fn edit_list(trak: &mp4_atom::Trak) -> (Option<i64>, u64) {
    let Some(elst) = trak.edts.as_ref().and_then(|e| e.elst.as_ref()) else {
        return (None, 0);
    };
    let mut delay = 0u64;
    for entry in &elst.entries {
        match entry.media_time {
            None => delay = delay.saturating_add(entry.segment_duration),
            Some(t) => return (i64::try_from(t).ok(), delay),
        }
    }
    (None, delay)
}

/// Expands `stts`, `ctts`, `stss`, `stsz`, `stsc` and `stco`/`co64` (ISO/IEC 14496-12,
/// 8.6.1, 8.7.3-8.7.5, 8.6.2) into samples.
fn read_sample_table(
    stbl: &mp4_atom::Stbl,
    pending: &mut PendingTrack,
    file_len: u64,
    limits: &Limits,
) -> Result<()> {
    let track_id = pending.track.track_id;
    let bad = |reason: String| Error::Malformed {
        kind: "stbl".into(),
        offset: 0,
        reason: format!("track {track_id}: {reason}"),
    };
    let count = match &stbl.stsz.samples {
        StszSamples::Identical { count, .. } => u64::from(*count),
        StszSamples::Different { sizes } => sizes.len() as u64,
    };
    if count == 0 {
        return Ok(());
    }
    if count > limits.max_samples {
        return Err(Error::Limit {
            what: "number of samples in a track",
            value: count,
            limit: limits.max_samples,
        });
    }
    // Every sample takes at least one byte of the file.
    if count > file_len {
        return Err(bad(format!(
            "{count} samples in a file of {file_len} bytes"
        )));
    }
    let count = count as usize;
    let size_of = |i: usize| match &stbl.stsz.samples {
        StszSamples::Identical { size, .. } => *size,
        StszSamples::Different { sizes } => sizes[i],
    };
    let chunk_offsets: Vec<u64> = match (&stbl.stco, &stbl.co64) {
        (Some(stco), _) => stco.entries.iter().map(|&o| u64::from(o)).collect(),
        (None, Some(co64)) => co64.entries.clone(),
        (None, None) => return Err(bad("no chunk offsets (stco or co64)".into())),
    };
    let mut samples = Vec::with_capacity(count);
    // Chunks: samples_per_chunk from stsc runs until the next entry's first_chunk.
    let stsc = &stbl.stsc.entries;
    let mut sample = 0usize;
    'chunks: for (i, entry) in stsc.iter().enumerate() {
        let first = entry.first_chunk as usize;
        let last = match stsc.get(i + 1) {
            Some(n) => (n.first_chunk as usize).saturating_sub(1),
            None => chunk_offsets.len(),
        };
        if first == 0 || last > chunk_offsets.len() {
            return Err(bad(format!(
                "stsc entry {} points outside the chunk table",
                i + 1
            )));
        }
        // Each entry starts a run of chunks after the previous one's (8.7.4.3): runs that
        // went back would walk the chunk table once per entry, quadratic in the box size.
        if stsc
            .get(i + 1)
            .is_some_and(|n| n.first_chunk <= entry.first_chunk)
        {
            return Err(bad(format!(
                "stsc entry {} does not start after entry {}",
                i + 2,
                i + 1
            )));
        }
        for chunk in first..=last {
            let mut offset = chunk_offsets[chunk - 1];
            for _ in 0..entry.samples_per_chunk {
                if sample == count {
                    break 'chunks;
                }
                let size = size_of(sample);
                samples.push(Sample {
                    offset,
                    size,
                    duration: 0,
                    dts: 0,
                    cts: 0,
                    sync: true,
                });
                offset = offset.saturating_add(u64::from(size));
                if offset > file_len {
                    return Err(Error::Truncated(format!(
                        "sample {} of track {track_id} ends at byte {offset} but the file ends at {file_len}",
                        sample + 1
                    )));
                }
                sample += 1;
            }
        }
    }
    if samples.len() != count {
        return Err(bad(format!(
            "stsc/stco describe {} samples but stsz has {count}",
            samples.len()
        )));
    }
    let mut dts = 0u64;
    let mut it = samples.iter_mut();
    for e in &stbl.stts.entries {
        for _ in 0..e.sample_count {
            let Some(s) = it.next() else { break };
            s.dts = dts;
            s.duration = e.sample_delta;
            dts += u64::from(e.sample_delta);
        }
    }
    if it.next().is_some() {
        return Err(bad("stts covers fewer samples than stsz".into()));
    }
    if let Some(ctts) = &stbl.ctts {
        let mut it = samples.iter_mut();
        'ctts: for e in &ctts.entries {
            let offset = i32::try_from(e.sample_offset).map_err(|_| {
                bad(format!(
                    "composition offset {} out of range",
                    e.sample_offset
                ))
            })?;
            for _ in 0..e.sample_count {
                let Some(s) = it.next() else { break 'ctts };
                s.cts = offset;
            }
        }
    }
    if let Some(stss) = &stbl.stss {
        for s in &mut samples {
            s.sync = false;
        }
        for &n in &stss.entries {
            if let Some(s) = (n as usize).checked_sub(1).and_then(|i| samples.get_mut(i)) {
                s.sync = true;
            }
        }
    }
    pending.next_dts = dts;
    pending.track.samples = samples;
    Ok(())
}

fn read_trex(moov_body: &[u8], moov_offset: u64) -> Result<Vec<mp4_atom::Trex>> {
    let Some(mvex) = find_box(moov_body, &[b"mvex"])? else {
        return Ok(Vec::new());
    };
    let mvex = mp4_atom::Mvex::decode(&mut &mvex[..]).map_err(|e| Error::Malformed {
        kind: "mvex".into(),
        offset: moov_offset,
        reason: e.to_string(),
    })?;
    Ok(mvex.trex)
}

/// Appends the samples of one movie fragment (ISO/IEC 14496-12, 8.8).
fn read_moof<S: ByteSource + ?Sized>(
    src: &S,
    header: &BoxHeader,
    tracks: &mut [PendingTrack],
    trex: &[mp4_atom::Trex],
    limits: &Limits,
) -> Result<()> {
    let bytes = read_bounded(
        src,
        header.offset,
        header.size,
        "moof box size",
        limits.max_moof_bytes,
    )?;
    let moof = mp4_atom::Moof::decode(&mut &bytes[..]).map_err(|e| Error::Malformed {
        kind: "moof".into(),
        offset: header.offset,
        reason: e.to_string(),
    })?;
    let malformed = |reason: String| Error::Malformed {
        kind: "traf".into(),
        offset: header.offset,
        reason,
    };
    for traf in &moof.traf {
        let tfhd = &traf.tfhd;
        let Some(pending) = tracks
            .iter_mut()
            .find(|t| t.track.track_id == tfhd.track_id)
        else {
            continue;
        };
        let defaults = trex.iter().find(|t| t.track_id == tfhd.track_id);
        if tfhd.sample_description_index.unwrap_or(1) != 1 {
            return Err(Error::Unsupported(format!(
                "track {} switches sample description in a fragment",
                tfhd.track_id
            )));
        }
        // Without an explicit base, the moof's first byte is the base when
        // default-base-is-moof is set, and also, for the first traf, when it is not
        // (8.8.7.1); ffmpeg and every CMAF writer use one of these two forms.
        let base = tfhd.base_data_offset.unwrap_or(header.offset);
        let default_duration = tfhd
            .default_sample_duration
            .or(defaults.map(|d| d.default_sample_duration))
            .unwrap_or(0);
        let default_size = tfhd
            .default_sample_size
            .or(defaults.map(|d| d.default_sample_size))
            .unwrap_or(0);
        let default_flags = tfhd
            .default_sample_flags
            .or(defaults.map(|d| d.default_sample_flags))
            .unwrap_or(0);
        let mut dts = traf
            .tfdt
            .as_ref()
            .map_or(pending.next_dts, |t| t.base_media_decode_time);
        let mut data = base;
        for trun in &traf.trun {
            if let Some(off) = trun.data_offset {
                data = base.checked_add_signed(i64::from(off)).ok_or_else(|| {
                    malformed(format!("data offset {off} points before the file"))
                })?;
            }
            let n = trun.samples.len() as u64;
            // Every sample takes at least one byte of the file.
            if n > src.len() {
                return Err(malformed(format!(
                    "a run of {n} samples in a file of {} bytes",
                    src.len()
                )));
            }
            if pending.track.samples.len() as u64 + n > limits.max_samples {
                return Err(Error::Limit {
                    what: "number of samples in a track",
                    value: pending.track.samples.len() as u64 + n,
                    limit: limits.max_samples,
                });
            }
            for entry in trun.samples.iter() {
                let size = entry.size.unwrap_or(default_size);
                let duration = entry.duration.unwrap_or(default_duration);
                let flags = entry.flags.unwrap_or(default_flags);
                let cts = entry.cts.unwrap_or(0);
                let cts = i32::try_from(cts)
                    .map_err(|_| malformed(format!("composition offset {cts} out of range")))?;
                pending.track.samples.push(Sample {
                    offset: data,
                    size,
                    duration,
                    dts,
                    cts,
                    sync: flags & NON_SYNC_FLAG == 0,
                });
                data = data.saturating_add(u64::from(size));
                dts = dts.saturating_add(u64::from(duration));
            }
        }
        pending.next_dts = dts;
    }
    Ok(())
}

/// The body of the box at `path` below a box body held in memory.
fn find_path<'a>(body: &'a [u8], path: &[&[u8; 4]]) -> Result<Option<&'a [u8]>> {
    Ok(find(body, path)?.map(|(_, inner)| inner))
}

/// The whole box (header included) at `path` below a box body held in memory.
fn find_box<'a>(body: &'a [u8], path: &[&[u8; 4]]) -> Result<Option<&'a [u8]>> {
    Ok(find(body, path)?.map(|(whole, _)| whole))
}

fn find<'a>(body: &'a [u8], path: &[&[u8; 4]]) -> Result<Option<(&'a [u8], &'a [u8])>> {
    let Some((first, rest)) = path.split_first() else {
        return Ok(None);
    };
    for (kind, whole, inner) in crate::bmff::header::children(body)? {
        if kind == FourCc(**first) {
            return if rest.is_empty() {
                Ok(Some((whole, inner)))
            } else {
                find(inner, rest)
            };
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::CodecInfo;

    #[test]
    fn empty_and_text_files_are_not_mp4() {
        let limits = Limits::default();
        let err = read_tracks(&[][..], &limits).unwrap_err();
        assert!(matches!(err, Error::NotMp4(_)), "{err}");
        let text = b"this is plain text, not a video file at all\n";
        let err = read_tracks(&text[..], &limits).unwrap_err();
        assert!(matches!(err, Error::NotMp4(_)), "{err}");
    }

    #[test]
    fn a_file_of_boxes_without_moov_is_reported() {
        let data = [
            0, 0, 0, 16, b'f', b't', b'y', b'p', b'i', b's', b'o', b'm', 0, 0, 0, 0,
        ];
        let err = read_tracks(&data[..], &Limits::default()).unwrap_err();
        assert!(err.to_string().contains("no 'moov' box"), "{err}");
    }

    #[test]
    fn audio_priming_frame_is_dropped_by_the_edit_list() {
        let mut t = test_track(TrackKind::Audio, (0..5).map(|i| (i * 1024, 1024, 0, true)));
        normalize_timing(&mut t, Some(1024), 0);
        assert_eq!(t.samples.len(), 4);
        assert_eq!(t.samples[0].dts, 0);
        assert_eq!(t.samples[0].offset, 1024);
    }

    #[test]
    fn video_without_edit_list_starts_at_its_first_presented_frame() {
        // I P B B as ffmpeg writes them with empty_moov: the I frame is presented two
        // frames after its decode time and no edit list says so.
        let frames = [
            (0, 512, 1024, true),
            (512, 512, 2560, false),
            (1024, 512, 1024, false),
            (1536, 512, 0, false),
        ];
        let mut t = test_track(TrackKind::Video, frames.into_iter());
        normalize_timing(&mut t, None, 0);
        let pts: Vec<i64> = t.samples.iter().map(Sample::pts).collect();
        assert_eq!(pts, vec![0, 2048, 1024, 512]);
    }

    #[test]
    fn an_empty_edit_is_rescaled_without_overflow() {
        assert_eq!(rescale(1000, 48_000, 1000), 48_000);
        assert_eq!(rescale(u64::MAX, u32::MAX, u32::MAX), u64::MAX);
        assert_eq!(rescale(u64::MAX, u32::MAX, 1), u64::MAX);
        assert_eq!(rescale(u64::MAX / 2, 2, 4), u64::MAX / 4);
    }

    #[test]
    fn stsc_runs_that_go_back_are_refused() {
        // Entry 3 goes back to chunk 1: accepted, each such entry would walk the chunk
        // table again, so a moov of repeated entries took time quadratic in its size.
        let entry = |first_chunk, samples_per_chunk| mp4_atom::StscEntry {
            first_chunk,
            samples_per_chunk,
            sample_description_index: 1,
        };
        let stbl = mp4_atom::Stbl {
            stsc: mp4_atom::Stsc {
                entries: vec![entry(1, 0), entry(3, 0), entry(1, 1)],
            },
            stsz: mp4_atom::Stsz {
                samples: StszSamples::Identical { count: 1, size: 1 },
            },
            stco: Some(mp4_atom::Stco {
                entries: vec![0; 4],
            }),
            ..Default::default()
        };
        let mut pending = PendingTrack {
            track: test_track(TrackKind::Video, std::iter::empty()),
            edit_media_time: None,
            edit_delay: 0,
            next_dts: 0,
        };
        let err = read_sample_table(&stbl, &mut pending, 100, &Limits::default()).unwrap_err();
        assert!(
            err.to_string()
                .contains("stsc entry 3 does not start after entry 2"),
            "{err}"
        );
    }

    fn test_track(kind: TrackKind, samples: impl Iterator<Item = (u64, u32, i32, bool)>) -> Track {
        Track {
            track_id: 1,
            kind,
            timescale: 48000,
            language: "und".into(),
            sample_description: Vec::new(),
            codec: CodecInfo::Av1 {
                profile: 0,
                level_idx: 0,
                tier: false,
                bit_depth: 8,
            },
            width: 0,
            height: 0,
            samples: samples
                .map(|(dts, duration, cts, sync)| Sample {
                    offset: dts,
                    size: 1,
                    duration,
                    dts,
                    cts,
                    sync,
                })
                .collect(),
            subsamples: None,
        }
    }
}
