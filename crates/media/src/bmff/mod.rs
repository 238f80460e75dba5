//! ISO/IEC 14496-12 (ISO base media file format) primitives: the byte source the reader
//! works through, box headers, and a small box writer.

mod file;
pub(crate) mod header;
mod writer;

pub use file::FileSource;
pub use header::{BoxHeader, FourCc};
pub use writer::{write_box, write_full_box, Put};

use std::io;

/// Random-access bytes: a file, an object in a store, or a slice in memory.
///
/// This is the only way the format code reads; it never opens files itself.
pub trait ByteSource {
    /// Total length in bytes.
    fn len(&self) -> u64;

    /// Whether the source holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fills `buf` with the bytes at `offset..offset + buf.len()`.
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;

    /// Appends the `len` bytes at `offset` to `out`. Sources held in memory copy their
    /// slice once; the default reads into zeroed space.
    fn append_at(&self, offset: u64, len: usize, out: &mut Vec<u8>) -> io::Result<()> {
        let at = out.len();
        out.resize(at + len, 0);
        self.read_exact_at(offset, &mut out[at..]).inspect_err(|_| {
            out.truncate(at);
        })
    }
}

impl ByteSource for [u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let end = start
            .checked_add(buf.len())
            .filter(|&end| end <= <[u8]>::len(self))
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(&self[start..end]);
        Ok(())
    }

    fn append_at(&self, offset: u64, len: usize, out: &mut Vec<u8>) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let end = start
            .checked_add(len)
            .filter(|&end| end <= <[u8]>::len(self))
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        out.extend_from_slice(&self[start..end]);
        Ok(())
    }
}

/// Reads `len` bytes at `offset` into a new buffer, after checking `len` against `limit`.
pub(crate) fn read_bounded<S: ByteSource + ?Sized>(
    src: &S,
    offset: u64,
    len: u64,
    what: &'static str,
    limit: u64,
) -> crate::Result<Vec<u8>> {
    if len > limit {
        return Err(crate::Error::Limit {
            what,
            value: len,
            limit,
        });
    }
    let mut buf = vec![0; len as usize];
    src.read_exact_at(offset, &mut buf)
        .map_err(|source| crate::Error::Read { offset, source })?;
    Ok(buf)
}
