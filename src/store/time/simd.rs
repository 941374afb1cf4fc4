//! 64 compares of `u16` halves to one bit each: AVX2 where the build enables it (the
//! project's `.cargo/config.toml` does), portable code elsewhere; the two agree (tested).

/// Bit `i` set where `first <= codes[i] < first + count` (wrapping).
#[inline]
pub fn in_range(codes: &[u16; 64], first: u16, count: u16) -> u64 {
    if count == 0 {
        return 0;
    }
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    // SAFETY: this line is compiled only when the build enables AVX2 for every
    // function, so the CPU the binary was built for has it.
    return unsafe { avx2::in_range(codes, first, count - 1) };
    #[allow(unreachable_code)]
    portable::in_range(codes, first, count)
}

/// Bit `i` set where `codes[i]` is `a` or `b`.
#[inline]
pub fn equal(codes: &[u16; 64], a: u16, b: u16) -> u64 {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    // SAFETY: as in `in_range`.
    return unsafe { avx2::equal(codes, a, b) };
    #[allow(unreachable_code)]
    portable::equal(codes, a, b)
}

pub mod portable {
    pub fn in_range(codes: &[u16; 64], first: u16, count: u16) -> u64 {
        bits(codes, |c| c.wrapping_sub(first) < count)
    }

    pub fn equal(codes: &[u16; 64], a: u16, b: u16) -> u64 {
        bits(codes, |c| c == a || c == b)
    }

    /// The compares fill a byte per row, and each 8 bytes of 0/1 become 8 bits with
    /// one multiply.
    fn bits(codes: &[u16; 64], test: impl Fn(u16) -> bool) -> u64 {
        const GATHER: u64 = 0x0102_0408_1020_4080;
        let mut hits = [0u8; 64];
        for (hit, &c) in hits.iter_mut().zip(codes) {
            *hit = u8::from(test(c));
        }
        let (eights, _) = hits.as_chunks::<8>();
        let mut out = 0u64;
        for (i, eight) in eights.iter().enumerate() {
            out |= (u64::from_le_bytes(*eight).wrapping_mul(GATHER) >> 56) << (8 * i);
        }
        out
    }
}

#[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
mod avx2 {
    use std::arch::x86_64::*;

    /// `last = count - 1`: `c - first <= last` unsigned, as `min(x, last) == x`.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub fn in_range(codes: &[u16; 64], first: u16, last: u16) -> u64 {
        let first = _mm256_set1_epi16(first as i16);
        let last = _mm256_set1_epi16(last as i16);
        bits(codes, |v| {
            let x = _mm256_sub_epi16(v, first);
            _mm256_cmpeq_epi16(_mm256_min_epu16(x, last), x)
        })
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    pub fn equal(codes: &[u16; 64], a: u16, b: u16) -> u64 {
        let (a, b) = (_mm256_set1_epi16(a as i16), _mm256_set1_epi16(b as i16));
        bits(codes, |v| {
            _mm256_or_si256(_mm256_cmpeq_epi16(v, a), _mm256_cmpeq_epi16(v, b))
        })
    }

    /// Four vectors of 16 lanes, each lane all ones or zeros after `test`, to 64 bits:
    /// pairs of vectors saturate to bytes (in 128-bit lanes, put back in order).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn bits(codes: &[u16; 64], test: impl Fn(__m256i) -> __m256i) -> u64 {
        let v: [__m256i; 4] = bytemuck::cast(*codes);
        let half = |a: __m256i, b: __m256i| {
            let bytes = _mm256_packs_epi16(test(a), test(b));
            let ordered = _mm256_permute4x64_epi64::<0b11_01_10_00>(bytes);
            u64::from(_mm256_movemask_epi8(ordered) as u32)
        };
        half(v[0], v[1]) | half(v[2], v[3]) << 32
    }
}
