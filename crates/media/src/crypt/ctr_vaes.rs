//! The `cenc` keystream (AES-128 CTR with a 64-bit big-endian block counter, ISO/IEC
//! 23001-7, 9.5.2.1) on x86-64 CPUs with VAES and AVX-512: four blocks per instruction,
//! sixteen in flight.
//!
//! Written here because RustCrypto's `aes` 0.8 encrypts at most one block per AES-NI
//! instruction: on `openvod package --encrypt cenc` its CTR was the whole of the
//! user-space time and about a quarter of the run. Other CPUs use the `ctr` crate, and the
//! tests hold this path to it byte for byte.

use std::arch::x86_64::*;

/// Whether this CPU runs [`apply_keystream`].
pub(super) fn available() -> bool {
    std::is_x86_feature_detected!("aes")
        && std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("vaes")
}

/// The eleven round keys of AES-128 (FIPS 197, 5.2).
pub(super) struct RoundKeys([__m128i; 11]);

impl RoundKeys {
    /// Expands `key`. The caller has checked [`available`].
    pub(super) fn new(key: &[u8; 16]) -> RoundKeys {
        // SAFETY: `available()` was true, so the CPU has AES-NI.
        unsafe { expand(key) }
    }
}

#[target_feature(enable = "aes")]
fn expand(key: &[u8; 16]) -> RoundKeys {
    // One step of the schedule: the previous key's words folded left, xored with the
    // substituted, rotated last word and the round constant (FIPS 197, 5.2).
    #[target_feature(enable = "aes")]
    fn step(k: __m128i, assist: __m128i) -> __m128i {
        let t = _mm_shuffle_epi32::<0xff>(assist);
        let k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
        let k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
        let k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
        _mm_xor_si128(k, t)
    }
    // SAFETY: `key` is 16 readable bytes; the load is unaligned.
    let mut rk = [unsafe { _mm_loadu_si128(key.as_ptr().cast()) }; 11];
    rk[1] = step(rk[0], _mm_aeskeygenassist_si128::<0x01>(rk[0]));
    rk[2] = step(rk[1], _mm_aeskeygenassist_si128::<0x02>(rk[1]));
    rk[3] = step(rk[2], _mm_aeskeygenassist_si128::<0x04>(rk[2]));
    rk[4] = step(rk[3], _mm_aeskeygenassist_si128::<0x08>(rk[3]));
    rk[5] = step(rk[4], _mm_aeskeygenassist_si128::<0x10>(rk[4]));
    rk[6] = step(rk[5], _mm_aeskeygenassist_si128::<0x20>(rk[5]));
    rk[7] = step(rk[6], _mm_aeskeygenassist_si128::<0x40>(rk[6]));
    rk[8] = step(rk[7], _mm_aeskeygenassist_si128::<0x80>(rk[7]));
    rk[9] = step(rk[8], _mm_aeskeygenassist_si128::<0x1b>(rk[8]));
    rk[10] = step(rk[9], _mm_aeskeygenassist_si128::<0x36>(rk[9]));
    RoundKeys(rk)
}

/// Bytes of keystream made per round of the loop: 16 blocks in four 512-bit registers.
const CHUNK: usize = 256;

/// XORs `data` with the keystream of counter blocks `nonce || block`, `nonce || block +
/// 1`, ... (the low 64 bits count and wrap, as `ctr::Ctr64BE`). `data` starts on a block
/// boundary; a final partial block uses the first bytes of its keystream block.
pub(super) fn apply_keystream(keys: &RoundKeys, nonce: [u8; 8], block: u64, data: &mut [u8]) {
    // SAFETY: `RoundKeys` exist only where `available()` was true.
    unsafe { apply_vaes(keys, nonce, block, data) }
}

#[target_feature(enable = "aes,avx512f,vaes")]
fn apply_vaes(keys: &RoundKeys, nonce: [u8; 8], mut block: u64, data: &mut [u8]) {
    let rk: [__m512i; 11] = keys.0.map(|k| _mm512_broadcast_i32x4(k));
    let mut counters = [0u8; CHUNK];
    for c in counters.chunks_exact_mut(16) {
        c[..8].copy_from_slice(&nonce);
    }
    let mut chunks = data.chunks_exact_mut(CHUNK);
    for chunk in &mut chunks {
        let ks = keystream(&rk, &mut counters, &mut block);
        for (i, lane) in ks.iter().enumerate() {
            let at = chunk[i * 64..].as_mut_ptr();
            // SAFETY: `chunk` has CHUNK = 4 * 64 bytes; the loads and stores are unaligned.
            unsafe {
                let d = _mm512_loadu_si512(at.cast());
                _mm512_storeu_si512(at.cast(), _mm512_xor_si512(d, *lane));
            }
        }
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        let ks = keystream(&rk, &mut counters, &mut block);
        let mut bytes = [0u8; CHUNK];
        for (i, lane) in ks.iter().enumerate() {
            // SAFETY: `bytes` has CHUNK = 4 * 64 bytes.
            unsafe { _mm512_storeu_si512(bytes[i * 64..].as_mut_ptr().cast(), *lane) };
        }
        for (d, k) in tail.iter_mut().zip(bytes) {
            *d ^= k;
        }
    }
}

/// The keystream of the 16 blocks from `block`, which it advances.
#[inline]
#[target_feature(enable = "aes,avx512f,vaes")]
fn keystream(rk: &[__m512i; 11], counters: &mut [u8; CHUNK], block: &mut u64) -> [__m512i; 4] {
    for (j, c) in counters.chunks_exact_mut(16).enumerate() {
        c[8..].copy_from_slice(&block.wrapping_add(j as u64).to_be_bytes());
    }
    *block = block.wrapping_add(16);
    // SAFETY: `counters` has CHUNK = 4 * 64 bytes; the loads are unaligned.
    let mut x: [__m512i; 4] = std::array::from_fn(|i| unsafe {
        _mm512_xor_si512(
            _mm512_loadu_si512(counters[i * 64..].as_ptr().cast()),
            rk[0],
        )
    });
    for k in &rk[1..10] {
        for v in &mut x {
            *v = _mm512_aesenc_epi128(*v, *k);
        }
    }
    for v in &mut x {
        *v = _mm512_aesenclast_epi128(*v, rk[10]);
    }
    x
}

#[cfg(test)]
mod tests {
    use aes::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
    use proptest::prelude::*;

    use super::*;

    type Reference = ctr::Ctr64BE<aes::Aes128>;

    fn reference(key: &[u8; 16], nonce: [u8; 8], block: u64, data: &mut [u8]) {
        let mut counter = [0u8; 16];
        counter[..8].copy_from_slice(&nonce);
        counter[8..].copy_from_slice(&block.to_be_bytes());
        Reference::new(key.into(), &counter.into()).apply_keystream(data);
    }

    proptest! {
        #[test]
        fn matches_the_ctr_crate(
            key in any::<[u8; 16]>(),
            nonce in any::<[u8; 8]>(),
            // Near the wrap of the 64-bit counter as well as anywhere.
            block in prop_oneof![any::<u64>(), (u64::MAX - 40)..=u64::MAX],
            data in proptest::collection::vec(any::<u8>(), 0..1200),
        ) {
            if !available() {
                return Ok(());
            }
            let mut ours = data.clone();
            apply_keystream(&RoundKeys::new(&key), nonce, block, &mut ours);
            let mut theirs = data;
            reference(&key, nonce, block, &mut theirs);
            prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn matches_the_fips_197_key_schedule_and_a_long_stream() {
        if !available() {
            eprintln!("this CPU has no VAES: the ctr crate's path is used and tested instead");
            return;
        }
        // FIPS 197, appendix A.1: the last round key of 2b7e1516 28aed2a6 abf71588 09cf4f3c.
        let key = [
            0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf,
            0x4f, 0x3c,
        ];
        let keys = RoundKeys::new(&key);
        let mut last = [0u8; 16];
        // SAFETY: `last` is 16 writable bytes.
        unsafe { _mm_storeu_si128(last.as_mut_ptr().cast(), keys.0[10]) };
        assert_eq!(
            last,
            [
                0xd0, 0x14, 0xf9, 0xa8, 0xc9, 0xee, 0x25, 0x89, 0xe1, 0x3f, 0x0c, 0xc8, 0xb6, 0x63,
                0x0c, 0xa6
            ]
        );
        // A stream long enough to take many rounds of the loop, and a seek of the
        // reference to a block in the middle.
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        let mut ours = data.clone();
        apply_keystream(&keys, [9; 8], 5, &mut ours);
        let mut counter = [9u8; 16];
        counter[8..].copy_from_slice(&5u64.to_be_bytes());
        let mut reference = Reference::new((&key).into(), &counter.into());
        let mut theirs = data.clone();
        reference.apply_keystream(&mut theirs);
        assert_eq!(ours, theirs);
        reference.seek(16 * 1000u64);
        let mut middle = data[16_000..16_100].to_vec();
        reference.apply_keystream(&mut middle);
        assert_eq!(middle, ours[16_000..16_100]);
    }
}
