//! The descriptors of AV1 syntax elements (AV1 Bitstream & Decoding Process
//! Specification, 4.10): `f(n)`, `su(n)`, `ns(n)`, `le(n)` and `uvlc()`, read most
//! significant bit first from a byte slice (4.10.1, 8.1).
//!
//! Written here rather than taken from a bit-reader crate: `ns`, `su`, `le` and `uvlc`
//! are AV1's own and would be written on top of any crate anyway, the core that remains
//! is a few lines, and every failure must say at which bit it happened, which the walk
//! turns into a byte offset in the sample.

/// Why reading a syntax structure stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The structure runs past the bytes it was given.
    Truncated,
    /// A value the specification forbids, or a reference to state that is not there.
    Invalid(String),
}

pub(crate) type Parsed<T> = std::result::Result<T, Fault>;

/// A `Fault::Invalid` with its reason.
pub(crate) fn invalid<T>(reason: impl Into<String>) -> Parsed<T> {
    Err(Fault::Invalid(reason.into()))
}

/// Reads bits from a byte slice, keeping its position in bits.
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    /// Bits read so far (`get_position()`, 4.8).
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// `f(n)`: an unsigned `n`-bit number, `n` at most 32 (4.10.2).
    pub(crate) fn f(&mut self, n: u32) -> Parsed<u32> {
        debug_assert!(n <= 32, "f({n})");
        let end = self.pos + n as usize;
        if end > self.data.len() * 8 {
            return Err(Fault::Truncated);
        }
        let mut value = 0u64;
        while self.pos < end {
            let byte = self.data[self.pos >> 3];
            let bit = (byte >> (7 - (self.pos & 7))) & 1;
            value = (value << 1) | u64::from(bit);
            self.pos += 1;
        }
        Ok(value as u32)
    }

    /// A one-bit flag.
    pub(crate) fn flag(&mut self) -> Parsed<bool> {
        Ok(self.f(1)? == 1)
    }

    /// Skips `n` bits.
    pub(crate) fn skip(&mut self, n: usize) -> Parsed<()> {
        let end = self.pos + n;
        if end > self.data.len() * 8 {
            return Err(Fault::Truncated);
        }
        self.pos = end;
        Ok(())
    }

    /// `su(n)`: a signed integer of `n` bits, two's complement (4.10.6).
    pub(crate) fn su(&mut self, n: u32) -> Parsed<i32> {
        let value = i64::from(self.f(n)?);
        let sign = 1i64 << (n - 1);
        Ok(if value & sign != 0 {
            value - 2 * sign
        } else {
            value
        } as i32)
    }

    /// `ns(n)`: an unsigned number in `0..n`, with the shorter code for the lower values
    /// (4.10.7).
    pub(crate) fn ns(&mut self, n: u32) -> Parsed<u32> {
        if n == 0 {
            return invalid("ns(0) has no values");
        }
        let w = floor_log2(n) + 1;
        let m = (1u32 << w) - n;
        let v = self.f(w - 1)?;
        if v < m {
            return Ok(v);
        }
        let extra = self.f(1)?;
        Ok((v << 1) - m + extra)
    }

    /// `le(n)`: an unsigned little-endian number of `n` bytes, `n` at most 4 (4.10.4).
    pub(crate) fn le(&mut self, n: u32) -> Parsed<u32> {
        let mut t = 0u32;
        for i in 0..n {
            t |= self.f(8)? << (8 * i);
        }
        Ok(t)
    }

    /// `uvlc()`: an Exp-Golomb-like variable length number (4.10.3).
    pub(crate) fn uvlc(&mut self) -> Parsed<u32> {
        let mut leading_zeros = 0u32;
        while !self.flag()? {
            leading_zeros += 1;
        }
        if leading_zeros >= 32 {
            return Ok(u32::MAX);
        }
        let value = self.f(leading_zeros)?;
        Ok(value + ((1u32 << leading_zeros) - 1))
    }

    /// `byte_alignment()` (5.3.5): on to the next byte boundary. The padding bits are
    /// zero in a conforming stream; they place nothing, so they are not checked.
    pub(crate) fn byte_alignment(&mut self) -> Parsed<()> {
        let aligned = self.pos.next_multiple_of(8);
        self.skip(aligned - self.pos)
    }
}

/// `FloorLog2(x)` (4.7), for `x` > 0.
pub(crate) fn floor_log2(x: u32) -> u32 {
    31 - x.leading_zeros()
}

/// `tile_log2(blkSize, target)` (5.9.16): the smallest `k` with `blkSize << k >= target`.
pub(crate) fn tile_log2(blk_size: u32, target: u32) -> u32 {
    let mut k = 0;
    while (u64::from(blk_size) << k) < u64::from(target) {
        k += 1;
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_and_signed_fields_read_msb_first() {
        let mut r = BitReader::new(&[0b1011_0011, 0xff, 0x80]);
        assert_eq!(r.f(1), Ok(1));
        assert_eq!(r.f(3), Ok(0b011));
        assert_eq!(r.su(4), Ok(3));
        assert_eq!(r.su(7), Ok(-1));
        assert_eq!(r.position(), 15);
        assert_eq!(r.f(9), Ok(0b1_1000_0000));
        assert_eq!(r.f(1), Err(Fault::Truncated));
        assert_eq!(BitReader::new(&[0xff; 4]).f(32), Ok(u32::MAX));
    }

    #[test]
    fn ns_le_and_uvlc() {
        // ns(5): w = 3, m = 3; 0..2 take two bits, 3 and 4 take three.
        let mut r = BitReader::new(&[0b1011_1000]);
        assert_eq!(r.ns(5), Ok(2));
        assert_eq!(r.ns(5), Ok(4));
        assert_eq!(BitReader::new(&[]).ns(1), Ok(0));
        assert!(BitReader::new(&[0]).ns(0).is_err());
        assert_eq!(BitReader::new(&[0x34, 0x12]).le(2), Ok(0x1234));
        // uvlc: 1 -> 0; 010 -> 1; 00111 -> 6.
        let mut r = BitReader::new(&[0b1010_0011, 0b1000_0000]);
        assert_eq!(r.uvlc(), Ok(0));
        assert_eq!(r.uvlc(), Ok(1));
        assert_eq!(r.uvlc(), Ok(6));
        // Zeros to the end never terminate: truncated, not a loop.
        assert_eq!(BitReader::new(&[0; 8]).uvlc(), Err(Fault::Truncated));
    }

    #[test]
    fn alignment_and_tile_log2() {
        let mut r = BitReader::new(&[0xff, 0xff]);
        r.f(3).unwrap();
        r.byte_alignment().unwrap();
        assert_eq!(r.position(), 8);
        r.byte_alignment().unwrap();
        assert_eq!(r.position(), 8);
        assert_eq!(tile_log2(1, 1), 0);
        assert_eq!(tile_log2(1, 5), 3);
        assert_eq!(tile_log2(64, 20), 0);
        assert_eq!(floor_log2(1), 0);
        assert_eq!(floor_log2(1024), 10);
    }
}
