//! The bytes of one sample as the walks that place subsamples ask for them: a NAL walk
//! reads each unit's length field and header byte, an AV1 walk each OBU's header and
//! size, its frame header and its tile sizes. Neither reads the coded picture data, so a
//! sample in a [`ByteSource`] is read a window at a time where the walk asks, and the
//! bulk of its bytes never is.

use crate::bmff::ByteSource;
use crate::{Error, Result};

/// Random access to the bytes of one sample.
pub(crate) trait SampleBytes {
    fn len(&self) -> usize;
    /// The `n` bytes at `pos`; a request past the end of the sample is refused.
    fn get(&mut self, pos: usize, n: usize) -> Result<&[u8]>;
}

/// A sample in memory.
pub(crate) struct InMemory<'a>(pub(crate) &'a [u8]);

impl SampleBytes for InMemory<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn get(&mut self, pos: usize, n: usize) -> Result<&[u8]> {
        pos.checked_add(n)
            .and_then(|end| self.0.get(pos..end))
            .ok_or_else(|| past_the_end("read", pos, self.0.len()))
    }
}

/// Bytes read at once around a position a walk asks for: enough for the small units that
/// come in runs (NAL delimiters, parameter sets, SEI; AV1 OBU headers and frame headers)
/// to be read together.
pub(crate) const WINDOW: usize = 512;

/// A sample in a [`ByteSource`], read a window at a time where the walk asks.
pub(crate) struct SampleWindow<'a, S: ?Sized> {
    src: &'a S,
    offset: u64,
    len: usize,
    /// The bytes at `at..at + window.len()` of the sample.
    window: Vec<u8>,
    at: usize,
}

impl<'a, S: ByteSource + ?Sized> SampleWindow<'a, S> {
    /// The `len` bytes at `offset` of `src`, reading into `window` (a buffer reused from
    /// sample to sample: [`SampleWindow::into_buffer`] gives it back).
    pub(crate) fn new(src: &'a S, offset: u64, len: usize, mut window: Vec<u8>) -> Self {
        window.clear();
        SampleWindow {
            src,
            offset,
            len,
            window,
            at: 0,
        }
    }

    pub(crate) fn into_buffer(self) -> Vec<u8> {
        self.window
    }
}

impl<S: ByteSource + ?Sized> SampleBytes for SampleWindow<'_, S> {
    fn len(&self) -> usize {
        self.len
    }

    fn get(&mut self, pos: usize, n: usize) -> Result<&[u8]> {
        let end = pos
            .checked_add(n)
            .filter(|&end| end <= self.len)
            .ok_or_else(|| past_the_end("read", pos, self.len))?;
        let cached = pos >= self.at && end <= self.at + self.window.len();
        if !cached {
            let take = WINDOW.max(n).min(self.len - pos);
            self.window.resize(take, 0);
            let offset = self.offset + pos as u64;
            self.src
                .read_exact_at(offset, &mut self.window)
                .map_err(|source| Error::Read { offset, source })?;
            self.at = pos;
        }
        let from = pos - self.at;
        Ok(&self.window[from..from + n])
    }
}

/// A `what` at `pos` of a `len`-byte sample that runs past its end.
pub(crate) fn past_the_end(what: &str, pos: usize, len: usize) -> Error {
    Error::Malformed {
        kind: what.into(),
        offset: pos as u64,
        reason: format!("a {what} runs past the end of its {len}-byte sample"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_past_the_end_are_refused_in_memory_and_through_windows() {
        let bytes: Vec<u8> = (0..=255).collect();
        let mut mem = InMemory(&bytes[..100]);
        assert_eq!(mem.get(98, 2).unwrap(), &[98, 99]);
        assert!(mem.get(99, 2).is_err());
        assert!(mem.get(usize::MAX, 2).is_err());
        let mut window = SampleWindow::new(&bytes[..], 10, 100, Vec::new());
        assert_eq!(window.get(0, 3).unwrap(), &[10, 11, 12]);
        assert_eq!(window.get(97, 3).unwrap(), &[107, 108, 109]);
        assert!(window.get(98, 3).is_err());
        assert!(window.get(usize::MAX, 1).is_err());
    }
}
