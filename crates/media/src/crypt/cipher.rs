//! The AES-128 modes of CENC (ISO/IEC 23001-7, 9.4-9.6, 10.1, 10.4) and of HLS
//! whole-segment encryption (RFC 8216bis, 5.2).
//!
//! CTR and the block cipher come from RustCrypto's `ctr` and `aes` crates (AES-NI when
//! the CPU has it). CBC is written here: `cbcs` chains only the encrypted blocks of a
//! pattern and restarts the chain at every subsample, which no CBC crate models.

use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit, KeyIvInit, StreamCipher};
use aes::Aes128;

use super::{Scheme, Subsample};
use crate::{Error, Result};

type Ctr = ctr::Ctr64BE<Aes128>;

/// The protected byte ranges of a sample: every subsample's protected part, or the whole
/// sample when there are no subsamples.
fn protected_ranges(len: usize, subsamples: &[Subsample]) -> Result<Vec<(usize, usize)>> {
    if subsamples.is_empty() {
        return Ok(vec![(0, len)]);
    }
    let mut out = Vec::with_capacity(subsamples.len());
    let mut pos = 0usize;
    for s in subsamples {
        let start = pos + usize::from(s.clear);
        let end = start + s.protected as usize;
        if end > len {
            return Err(Error::Settings(format!(
                "subsamples cover {end} bytes of a {len}-byte sample"
            )));
        }
        if s.protected > 0 {
            out.push((start, end));
        }
        pos = end;
    }
    Ok(out)
}

/// Encrypts one sample in place. `iv` is the sample's IV (for `cenc` the first 8 bytes
/// count, the block counter starts at 0); `pattern` is `(crypt, skip)` blocks.
pub fn encrypt_sample(
    scheme: Scheme,
    key: &[u8; 16],
    iv: &[u8; 16],
    pattern: (u8, u8),
    data: &mut [u8],
    subsamples: &[Subsample],
) -> Result<()> {
    apply(scheme, key, iv, pattern, data, subsamples, true)
}

/// Decrypts one sample in place (the inverse of [`encrypt_sample`]).
pub fn decrypt_sample(
    scheme: Scheme,
    key: &[u8; 16],
    iv: &[u8; 16],
    pattern: (u8, u8),
    data: &mut [u8],
    subsamples: &[Subsample],
) -> Result<()> {
    apply(scheme, key, iv, pattern, data, subsamples, false)
}

fn apply(
    scheme: Scheme,
    key: &[u8; 16],
    iv: &[u8; 16],
    pattern: (u8, u8),
    data: &mut [u8],
    subsamples: &[Subsample],
    encrypt: bool,
) -> Result<()> {
    let ranges = protected_ranges(data.len(), subsamples)?;
    match scheme {
        // CTR is its own inverse.
        Scheme::Cenc => ctr_apply(key, iv, data, &ranges),
        // One encryption path for a sample and for many (cbcs_encrypt_ranges).
        Scheme::Cbcs if encrypt => {
            let ranges = CbcsRanges {
                ranges: ranges.into_iter().map(|(s, e)| (s, e, *iv)).collect(),
            };
            cbcs_encrypt_ranges(key, pattern, data, &ranges)?;
        }
        Scheme::Cbcs => {
            let aes = Aes128::new(key.into());
            for (start, end) in ranges {
                cbc_pattern_decrypt(&aes, iv, pattern, &mut data[start..end]);
            }
        }
    }
    Ok(())
}

/// A `cbcs` pattern (10.4.2) as `(period, crypt)`: the first `crypt` blocks of every
/// `period` are encrypted. A 0:0 pattern encrypts every whole block.
fn pattern_blocks(pattern: (u8, u8)) -> (usize, usize) {
    let (crypt, skip) = (usize::from(pattern.0), usize::from(pattern.1));
    if crypt == 0 && skip == 0 {
        (1, 1)
    } else {
        (crypt + skip, crypt.max(1))
    }
}

/// `cenc` (9.5.2.1): one keystream runs over the protected ranges of a sample as if they
/// were contiguous; with an 8-byte IV the low 64 bits of the counter block count blocks.
fn ctr_apply(key: &[u8; 16], iv: &[u8; 16], data: &mut [u8], ranges: &[(usize, usize)]) {
    // The VAES path starts each range on a block boundary of the keystream, which holds
    // when every range but the last is whole blocks (always so for video subsamples).
    #[cfg(target_arch = "x86_64")]
    if ranges
        .iter()
        .rev()
        .skip(1)
        .all(|(start, end)| (end - start) % 16 == 0)
        && super::ctr_vaes::available()
    {
        let keys = super::ctr_vaes::RoundKeys::new(key);
        let nonce: [u8; 8] = iv[..8].try_into().expect("8 bytes");
        let mut block = 0u64;
        for &(start, end) in ranges {
            super::ctr_vaes::apply_keystream(&keys, nonce, block, &mut data[start..end]);
            block = block.wrapping_add(((end - start) / 16) as u64);
        }
        return;
    }
    let mut counter = [0u8; 16];
    counter[..8].copy_from_slice(&iv[..8]);
    let mut c = Ctr::new(key.into(), &counter.into());
    for &(start, end) in ranges {
        c.apply_keystream(&mut data[start..end]);
    }
}

/// `cbcs` decryption (10.4.2) of one protected range: the encrypted blocks of the
/// pattern are chained to one another from the IV; skipped blocks and a final partial
/// block are clear.
fn cbc_pattern_decrypt(aes: &Aes128, iv: &[u8; 16], pattern: (u8, u8), data: &mut [u8]) {
    let (period, crypt) = pattern_blocks(pattern);
    let blocks = data.len() / 16;
    let mut prev = *iv;
    for first in (0..blocks).step_by(period) {
        for b in first..(first + crypt).min(blocks) {
            let block: &mut [u8; 16] = (&mut data[b * 16..b * 16 + 16])
                .try_into()
                .expect("16 bytes");
            let cipher = *block;
            aes.decrypt_block(block.into());
            xor(block, &prev);
            prev = cipher;
        }
    }
}

/// Protected ranges of a buffer of several samples, for [`cbcs_encrypt_ranges`].
#[derive(Debug, Default)]
pub struct CbcsRanges {
    /// `(start, end)` in the buffer, and the chain's IV.
    ranges: Vec<(usize, usize, [u8; 16])>,
}

impl CbcsRanges {
    pub fn clear(&mut self) {
        self.ranges.clear();
    }

    /// Adds the protected ranges of the sample at `at..at + len` of the buffer.
    pub fn add_sample(
        &mut self,
        at: usize,
        len: usize,
        iv: &[u8; 16],
        subsamples: &[Subsample],
    ) -> Result<()> {
        for (start, end) in protected_ranges(len, subsamples)? {
            self.ranges.push((at + start, at + end, *iv));
        }
        Ok(())
    }
}

/// Chains [`cbcs_encrypt_ranges`] keeps in flight: AES-NI pipelines eight blocks.
pub const LANES: usize = 8;

/// One chain being encrypted: its range, the next block (counted from the range's
/// start) and the last ciphertext block.
struct Lane {
    start: usize,
    blocks: usize,
    next: usize,
    prev: [u8; 16],
}

/// `cbcs` encryption of many protected ranges of `buf` at once, as [`encrypt_sample`]
/// does one sample. A CBC chain is serial: one block waits for the one before. Each
/// protected range is a chain of its own (10.4.2), so up to eight chains advance side by
/// side and each step encrypts one block of each in one call, which keeps the AES unit
/// busy where one chain would leave it waiting.
pub fn cbcs_encrypt_ranges(
    key: &[u8; 16],
    pattern: (u8, u8),
    buf: &mut [u8],
    ranges: &CbcsRanges,
) -> Result<()> {
    let aes = Aes128::new(key.into());
    let (period, crypt) = pattern_blocks(pattern);
    let mut waiting = ranges
        .ranges
        .iter()
        .filter(|(start, end, _)| end - start >= 16);
    let mut lanes: Vec<Lane> = Vec::with_capacity(LANES);
    let mut blocks = [aes::Block::default(); LANES];
    loop {
        while lanes.len() < LANES {
            let Some(&(start, end, iv)) = waiting.next() else {
                break;
            };
            if end > buf.len() {
                return Err(Error::Internal(format!(
                    "a protected range ends at {end}, past the {}-byte buffer",
                    buf.len()
                )));
            }
            lanes.push(Lane {
                start,
                blocks: (end - start) / 16,
                next: 0,
                prev: iv,
            });
        }
        if lanes.is_empty() {
            return Ok(());
        }
        for (lane, block) in lanes.iter().zip(&mut blocks) {
            let at = lane.start + 16 * lane.next;
            let plain: [u8; 16] = buf[at..at + 16].try_into().expect("16 bytes");
            let mixed = u128::from_ne_bytes(plain) ^ u128::from_ne_bytes(lane.prev);
            block.copy_from_slice(&mixed.to_ne_bytes());
        }
        aes.encrypt_blocks(&mut blocks[..lanes.len()]);
        for (lane, block) in lanes.iter_mut().zip(&blocks) {
            let at = lane.start + 16 * lane.next;
            buf[at..at + 16].copy_from_slice(block);
            lane.prev.copy_from_slice(block);
            lane.next += 1;
            if lane.next % period == crypt % period {
                // Past this period's encrypted blocks: on to the next period.
                lane.next += period - crypt;
            }
        }
        lanes.retain(|lane| lane.next < lane.blocks);
    }
}

fn xor(a: &mut [u8; 16], b: &[u8; 16]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= y;
    }
}

/// Size of a whole segment of `clear_len` bytes under HLS AES-128: PKCS#7 always adds
/// 1 to 16 bytes (RFC 5652, 6.3).
pub fn aes128_sealed_len(clear_len: u64) -> u64 {
    clear_len / 16 * 16 + 16
}

/// HLS `METHOD=AES-128` (RFC 8216bis, 5.2): encrypts `buf[start..]` in place, the whole
/// segment in AES-128 CBC with PKCS#7 padding appended. With no `IV` attribute the IV is
/// the segment's media sequence number as a 128-bit big-endian integer.
pub fn aes128_seal(key: &[u8; 16], sequence: u64, buf: &mut Vec<u8>, start: usize) {
    let aes = Aes128::new(key.into());
    let mut prev = [0u8; 16];
    prev[8..].copy_from_slice(&sequence.to_be_bytes());
    let clear = buf.len().saturating_sub(start);
    let pad = 16 - clear % 16;
    buf.resize(buf.len() + pad, pad as u8);
    for block in buf[start..].chunks_exact_mut(16) {
        let block: &mut [u8; 16] = block.try_into().expect("chunks of 16");
        xor(block, &prev);
        aes.encrypt_block(block.into());
        prev = *block;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 16] = *b"0123456789abcdef";

    #[test]
    fn aes128_segment_matches_a_known_answer() {
        // Sequence 1: the IV is 00..01, and an empty segment is one block of padding
        // bytes 0x10, so the output is AES(0x10.. XOR IV). What precedes `start` stays.
        let mut out = vec![9u8; 3];
        aes128_seal(&KEY, 1, &mut out, 3);
        assert_eq!(out[..3], [9, 9, 9]);
        let out = out[3..].to_vec();
        assert_eq!(out.len() as u64, aes128_sealed_len(0));
        let aes = Aes128::new((&KEY).into());
        let mut block = [16u8; 16];
        block[15] ^= 1;
        aes.encrypt_block((&mut block).into());
        assert_eq!(out, block);
    }

    #[test]
    fn cenc_keystream_runs_across_subsamples() {
        let data: Vec<u8> = (0..100u8).collect();
        let subs = [
            Subsample {
                clear: 5,
                protected: 32,
            },
            Subsample {
                clear: 3,
                protected: 48,
            },
        ];
        let iv = [7u8; 16];
        let mut enc = data.clone();
        encrypt_sample(Scheme::Cenc, &KEY, &iv, (0, 0), &mut enc, &subs).unwrap();
        assert_eq!(enc[..5], data[..5]);
        assert_eq!(enc[37..40], data[37..40]);
        assert_eq!(enc[88..], data[88..]);
        // The second range continues the keystream of the first.
        let mut joined: Vec<u8> = data[5..37].iter().chain(&data[40..88]).copied().collect();
        encrypt_sample(Scheme::Cenc, &KEY, &iv, (0, 0), &mut joined, &[]).unwrap();
        let got: Vec<u8> = enc[5..37].iter().chain(&enc[40..88]).copied().collect();
        assert_eq!(got, joined);
        decrypt_sample(Scheme::Cenc, &KEY, &iv, (0, 0), &mut enc, &subs).unwrap();
        assert_eq!(enc, data);
    }

    #[test]
    fn cbcs_encrypts_one_block_in_ten_and_restarts_per_subsample() {
        let data: Vec<u8> = (0..=255u8).cycle().take(2 * 176 + 10).collect();
        let subs = [
            Subsample {
                clear: 10,
                protected: 176,
            },
            Subsample {
                clear: 0,
                protected: 176,
            },
        ];
        let iv = [3u8; 16];
        let mut enc = data.clone();
        encrypt_sample(Scheme::Cbcs, &KEY, &iv, (1, 9), &mut enc, &subs).unwrap();
        for (start, blocks) in [(10usize, 11usize), (186, 11)] {
            for b in 0..blocks {
                let r = start + 16 * b..start + 16 * (b + 1);
                assert_eq!(enc[r.clone()] == data[r], b % 10 != 0, "block {b}");
            }
        }
        // Both subsamples start their chain from the IV: identical plaintext blocks at
        // the start of each give identical ciphertext.
        let mut one = data[10..26].to_vec();
        encrypt_sample(Scheme::Cbcs, &KEY, &iv, (1, 9), &mut one, &[]).unwrap();
        assert_eq!(enc[10..26], one[..]);
        decrypt_sample(Scheme::Cbcs, &KEY, &iv, (1, 9), &mut enc, &subs).unwrap();
        assert_eq!(enc, data);
    }

    #[test]
    fn cbcs_ranges_side_by_side_decrypt_one_chain_at_a_time() {
        // Samples of several sizes and subsample shapes, more chains than lanes, and the
        // audio (whole-block, 0:0) pattern as well as the video one.
        let mut seed = 0x2545_f491_u32;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for pattern in [(1u8, 9u8), (0, 0), (2, 3)] {
            let mut buf = Vec::new();
            let mut samples = Vec::new();
            for i in 0..23 {
                let len = (next() % 3000) as usize;
                let at = buf.len();
                buf.extend((0..len).map(|_| next() as u8));
                let mut subs = Vec::new();
                let mut used = 0usize;
                while used + 40 < len && subs.len() < 3 {
                    let clear = (next() % 30) as usize;
                    let protected = ((next() as usize) % (len - used - clear)) & !15;
                    subs.push(Subsample {
                        clear: clear as u16,
                        protected: protected as u32,
                    });
                    used += clear + protected;
                }
                let iv = [i as u8; 16];
                samples.push((at, len, iv, subs));
            }
            let mut ranges = CbcsRanges::default();
            for (at, len, iv, subs) in &samples {
                ranges.add_sample(*at, *len, iv, subs).unwrap();
            }
            let mut together = buf.clone();
            cbcs_encrypt_ranges(&KEY, pattern, &mut together, &ranges).unwrap();
            assert_ne!(together, buf);
            // The serial decrypter, one chain at a time, gives every sample back.
            let mut back = together.clone();
            for (at, len, iv, subs) in &samples {
                let sample = &mut back[*at..at + len];
                decrypt_sample(Scheme::Cbcs, &KEY, iv, pattern, sample, subs).unwrap();
            }
            assert_eq!(back, buf, "pattern {pattern:?}");
        }
    }

    #[test]
    fn subsamples_past_the_sample_are_refused() {
        let mut data = vec![0u8; 10];
        let subs = [Subsample {
            clear: 4,
            protected: 16,
        }];
        assert!(encrypt_sample(Scheme::Cenc, &KEY, &[0; 16], (0, 0), &mut data, &subs).is_err());
    }
}
