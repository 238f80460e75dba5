//! The walk over the OBUs of a sample (a temporal unit): AV1 spec 5.3.1
//! `open_bitstream_unit`, 5.9.1 `frame_header_obu`, 5.10 `frame_obu`, 5.11.1
//! `tile_group_obu`, with the decode frame wrapup of 7.4 saving each finished frame into
//! the reference slots (7.20), and a shown existing key frame loaded (7.21) and saved
//! into every slot.
//!
//! Every OBU is read, whatever its layer: the tiles of every layer are protected, and
//! operating point 0, which decoders choose by default (7.1), holds every layer of a
//! stream in practice. A sample entry's sequence header comes from the `av1C`
//! configOBUs; the samples' own sequence header OBUs replace it as they come.

use super::bits::{BitReader, Fault};
use super::frame_header::{uncompressed_header, CodedFrame, FrameHeader, HeaderContext};
use super::obu::{read_obu, Obu, ObuType, MAX_OBU_HEAD};
use super::refs::{FrameType, RefSlots};
use super::sequence::{sequence_header, SequenceHeader};
use super::tile_group::tile_group;
use super::{fault, malformed, TileSpan};
use crate::sample_bytes::{InMemory, SampleBytes, WINDOW};
use crate::Result;

/// The header state of an AV1 stream's decoding process, as far as placing tiles needs.
#[derive(Debug, Clone)]
pub struct Av1Stream {
    /// The sample entry's sequence header, where every restart begins.
    initial: Option<SequenceHeader>,
    /// The sequence header in force.
    seq: Option<SequenceHeader>,
    refs: RefSlots,
    /// The frame whose tile groups are being read (`SeenFrameHeader` is 1).
    frame: Option<CodedFrame>,
}

impl Av1Stream {
    /// A stream whose sample entry carries `config_obus` (the configOBUs of `av1C`,
    /// AV1-ISOBMFF 2.3.3; empty when there are none).
    pub fn new(config_obus: &[u8]) -> Result<Av1Stream> {
        let initial = sequence_header_in(config_obus)?;
        Ok(Av1Stream {
            initial,
            seq: initial,
            refs: RefSlots::default(),
            frame: None,
        })
    }

    /// Back to the state the sample entry gives, as at a random access point: the walk of
    /// any sample from a sync sample on depends only on the samples since then.
    pub fn restart(&mut self) {
        self.seq = self.initial;
        self.refs = RefSlots::default();
        self.frame = None;
    }

    /// The sequence header in force.
    pub fn sequence_header(&self) -> Option<&SequenceHeader> {
        self.seq.as_ref()
    }

    /// Reads the next sample of the stream (in decode order), putting the `decode_tile()`
    /// bytes of each of its tiles into `tiles` (cleared first), in order.
    pub fn tiles(&mut self, sample: &[u8], tiles: &mut Vec<TileSpan>) -> Result<()> {
        self.walk(&mut InMemory(sample), tiles)
    }

    /// [`Av1Stream::tiles`] of a sample read through `sample`.
    pub(crate) fn walk(
        &mut self,
        sample: &mut impl SampleBytes,
        tiles: &mut Vec<TileSpan>,
    ) -> Result<()> {
        tiles.clear();
        let len = sample.len();
        let mut pos = 0;
        while pos < len {
            let obu = obu_at(sample, pos)?;
            let at = pos + obu.payload_at;
            let size = obu.payload_len;
            match obu.kind {
                ObuType::SequenceHeader => {
                    self.seq = Some(read_sequence_header(sample, at, size)?);
                }
                // 5.6: a temporal unit starts with no frame header seen.
                ObuType::TemporalDelimiter => self.frame = None,
                // A header while a frame is in progress is a copy of its own
                // (frame_header_copy, 5.9.1): nothing new.
                ObuType::FrameHeader | ObuType::RedundantFrameHeader if self.frame.is_some() => {}
                ObuType::FrameHeader | ObuType::RedundantFrameHeader => {
                    let (header, _) = self.frame_header(sample, at, size, &obu)?;
                    self.start_frame(header, at)?;
                }
                ObuType::Frame => {
                    if self.frame.is_some() {
                        return Err(malformed(
                            "frame",
                            pos,
                            "a frame OBU before the last tile group of the frame in progress"
                                .into(),
                        ));
                    }
                    let (header, bits) = self.frame_header(sample, at, size, &obu)?;
                    let FrameHeader::Coded(frame) = header else {
                        return Err(malformed(
                            "frame header",
                            at,
                            "show_existing_frame in a frame OBU".into(),
                        ));
                    };
                    // byte_alignment() after the header (5.10).
                    let header_bytes = bits.div_ceil(8);
                    self.frame = Some(frame);
                    self.tile_group(sample, at + header_bytes, size - header_bytes, tiles)?;
                }
                ObuType::TileGroup => self.tile_group(sample, at, size, tiles)?,
                // Metadata, tile lists, padding and reserved OBUs place no tiles.
                ObuType::Metadata | ObuType::TileList | ObuType::Padding | ObuType::Reserved(_) => {
                }
            }
            pos = at + size;
        }
        Ok(())
    }

    /// Reads the uncompressed header at `at`; returns it and the bits it took. The header
    /// has no length of its own: a window of the OBU is read first, all of it only when
    /// the header runs past the window.
    fn frame_header(
        &self,
        sample: &mut impl SampleBytes,
        at: usize,
        size: usize,
        obu: &Obu,
    ) -> Result<(FrameHeader, usize)> {
        let seq = self.seq.as_ref().ok_or_else(|| {
            malformed(
                "frame header",
                at,
                "a frame header before any sequence header (none in av1C or the sample)".into(),
            )
        })?;
        let cx = HeaderContext {
            seq,
            refs: &self.refs,
            temporal_id: obu.temporal_id,
            spatial_id: obu.spatial_id,
        };
        let mut window = size.min(WINDOW);
        loop {
            let mut r = BitReader::new(sample.get(at, window)?);
            match uncompressed_header(&mut r, &cx) {
                Ok(header) => return Ok((header, r.position())),
                Err(Fault::Truncated) if window < size => window = size,
                Err(f) => return Err(fault("frame header", at, r.position(), f)),
            }
        }
    }

    /// 5.9.1 after `uncompressed_header()`: a frame to be shown again is done at once
    /// (7.4: a key frame is loaded, 7.21, and saved into every slot, 7.20); any other
    /// waits for its tile groups.
    fn start_frame(&mut self, header: FrameHeader, at: usize) -> Result<()> {
        match header {
            FrameHeader::ShowExisting { slot } => {
                let shown = *self
                    .refs
                    .get(slot)
                    .map_err(|f| fault("frame header", at, 0, f))?;
                if shown.frame_type == FrameType::Key {
                    self.refs.refresh(0xff, &shown);
                }
            }
            FrameHeader::Coded(frame) => self.frame = Some(frame),
        }
        Ok(())
    }

    /// 5.11.1 for the frame in progress; the frame is saved (7.20) after its last tile.
    fn tile_group(
        &mut self,
        sample: &mut impl SampleBytes,
        at: usize,
        size: usize,
        tiles: &mut Vec<TileSpan>,
    ) -> Result<()> {
        let Some(frame) = self.frame else {
            return Err(malformed(
                "tile group",
                at,
                "a tile group without a frame header before it".into(),
            ));
        };
        let end = tile_group(sample, at, size, &frame.tiles, tiles)?;
        if end + 1 == frame.tiles.count() {
            self.refs.refresh(frame.refresh_frame_flags, &frame.saved);
            self.frame = None;
        }
        Ok(())
    }
}

/// The header and size of the OBU at `pos` of the sample.
fn obu_at(sample: &mut impl SampleBytes, pos: usize) -> Result<Obu> {
    let remaining = sample.len() - pos;
    let head = sample.get(pos, remaining.min(MAX_OBU_HEAD))?;
    read_obu(head, remaining).map_err(|f| fault("OBU header", pos, 0, f))
}

fn read_sequence_header(
    sample: &mut impl SampleBytes,
    at: usize,
    size: usize,
) -> Result<SequenceHeader> {
    let mut r = BitReader::new(sample.get(at, size)?);
    sequence_header(&mut r).map_err(|f| fault("sequence header", at, r.position(), f))
}

/// The first sequence header among `obus` (the configOBUs of `av1C`, or a sample's
/// OBUs), if any.
pub fn sequence_header_in(obus: &[u8]) -> Result<Option<SequenceHeader>> {
    first_sequence_header(&mut InMemory(obus))
}

/// [`sequence_header_in`] of a sample read through `sample`: only OBU headers are read
/// up to the sequence header.
pub(crate) fn first_sequence_header(
    sample: &mut impl SampleBytes,
) -> Result<Option<SequenceHeader>> {
    let mut pos = 0;
    while pos < sample.len() {
        let obu = obu_at(sample, pos)?;
        let at = pos + obu.payload_at;
        if obu.kind == ObuType::SequenceHeader {
            return read_sequence_header(sample, at, obu.payload_len).map(Some);
        }
        pos = at + obu.payload_len;
    }
    Ok(None)
}
