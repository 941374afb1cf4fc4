//! A roaring bitmap's containers, read from its serialized form (roaring 0.12 does not
//! lend them): to copy a dense container's 1,024 words at once instead of setting its
//! rows one by one. The layout is roaring's portable format (the cookie, each container's
//! key and cardinality, offsets, then the containers: sorted `u16` values, 1,024 words or
//! runs); anything else reads as `None`, and the caller goes row by row.

use roaring::RoaringBitmap;

/// A bitmap serialized, to read its containers from.
pub struct Serialized(Vec<u8>);

/// One container: its key (the high 16 bits of its rows) and its low 16 bits.
#[derive(Clone, Copy, Debug)]
pub struct Container<'a> {
    pub key: u16,
    kind: Kind<'a>,
}

#[derive(Clone, Copy, Debug)]
enum Kind<'a> {
    /// Sorted values, 2 bytes each.
    Array(&'a [u8]),
    /// 1,024 words, 8 bytes each.
    Bitmap(&'a [u8]),
    /// Runs: start and length less one, 2 bytes each.
    Run(&'a [u8]),
}

const NO_RUNS: u32 = 12346;
const WITH_RUNS: u16 = 12347;
/// Containers holding more values than this are bitmaps (when not runs).
const ARRAY_LIMIT: usize = 4096;

impl Serialized {
    pub fn of(bitmap: &RoaringBitmap) -> Serialized {
        let mut bytes = Vec::with_capacity(bitmap.serialized_size());
        // Writing to a Vec cannot fail.
        let _ = bitmap.serialize_into(&mut bytes);
        Serialized(bytes)
    }

    /// The containers in key order, or `None` if the bytes are not the format read here.
    pub fn containers(&self) -> Option<Vec<Container<'_>>> {
        let mut at = Reader(&self.0);
        let cookie = at.u32()?;
        let (size, runs, offsets) = if cookie == NO_RUNS {
            (at.u32()? as usize, None, true)
        } else if cookie as u16 == WITH_RUNS {
            let size = (cookie >> 16) as usize + 1;
            (size, Some(at.take(size.div_ceil(8))?), size >= 4)
        } else {
            return None;
        };
        let descriptions = at.take(size * 4)?;
        if offsets {
            at.take(size * 4)?;
        }
        let mut containers = Vec::with_capacity(size);
        for (i, description) in descriptions.chunks_exact(4).enumerate() {
            let key = u16::from_le_bytes([description[0], description[1]]);
            let count = usize::from(u16::from_le_bytes([description[2], description[3]])) + 1;
            let kind = match runs.is_some_and(|r| r[i / 8] >> (i % 8) & 1 == 1) {
                true => {
                    let n = usize::from(at.u16()?);
                    Kind::Run(at.take(n * 4)?)
                }
                false if count <= ARRAY_LIMIT => Kind::Array(at.take(count * 2)?),
                false => Kind::Bitmap(at.take(1024 * 8)?),
            };
            containers.push(Container { key, kind });
        }
        Some(containers)
    }
}

impl Container<'_> {
    /// Sets in `words` (the container's, or its first ones) the bits of its rows, as far
    /// as the words reach.
    pub fn set(&self, words: &mut [u64]) {
        let bits = words.len() * 64;
        let mut set = |low: usize| {
            if low < bits {
                words[low / 64] |= 1 << (low % 64);
            }
        };
        match self.kind {
            Kind::Array(values) => values.chunks_exact(2).for_each(|v| set(low(v))),
            Kind::Bitmap(bytes) => {
                for (word, bytes) in words.iter_mut().zip(bytes.chunks_exact(8)) {
                    *word |= u64::from_le_bytes(bytes.try_into().unwrap_or_default());
                }
            }
            Kind::Run(runs) => {
                for run in runs.chunks_exact(4) {
                    let start = low(&run[..2]);
                    (start..=start + low(&run[2..])).for_each(&mut set);
                }
            }
        }
    }
}

/// A little-endian `u16` as a row's low bits.
fn low(bytes: &[u8]) -> usize {
    usize::from(u16::from_le_bytes([bytes[0], bytes[1]]))
}

/// Reads the format front to back.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (taken, rest) = (self.0.len() >= n).then(|| self.0.split_at(n))?;
        self.0 = rest;
        Some(taken)
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each container's rows, as `set` gives them over whole words.
    fn rows_of(bitmap: &RoaringBitmap) -> Vec<u32> {
        let serialized = Serialized::of(bitmap);
        let containers = serialized.containers().expect("roaring's own format");
        let mut rows = Vec::new();
        for container in containers {
            let mut words = vec![0u64; 1024];
            container.set(&mut words);
            for (w, word) in words.iter().enumerate() {
                (0..64).filter(|b| word >> b & 1 == 1).for_each(|b| {
                    rows.push(u32::from(container.key) << 16 | (w * 64 + b) as u32);
                });
            }
        }
        rows
    }

    #[test]
    fn array_bitmap_and_run_containers_give_their_rows() {
        let mut bitmap: RoaringBitmap = (0..65_536u32).filter(|r| r % 3 == 0).collect();
        bitmap.extend((70_000..70_100u32).map(|r| r * 2));
        bitmap.insert_range(200_000..260_000);
        bitmap.insert(u32::MAX);
        assert_eq!(rows_of(&bitmap), bitmap.iter().collect::<Vec<_>>());
        bitmap.optimize();
        assert_eq!(rows_of(&bitmap), bitmap.iter().collect::<Vec<_>>());
        let mut few_runs: RoaringBitmap = (0..3u32)
            .flat_map(|k| (k << 16) + 5..(k << 16) + 900)
            .collect();
        few_runs.optimize();
        assert_eq!(rows_of(&few_runs), few_runs.iter().collect::<Vec<_>>());
        assert!(rows_of(&RoaringBitmap::new()).is_empty());
    }

    #[test]
    fn words_past_the_given_ones_are_not_written() {
        let bitmap: RoaringBitmap = (0..65_536u32).collect();
        let containers = Serialized::of(&bitmap);
        let mut words = vec![0u64; 3];
        containers.containers().expect("format")[0].set(&mut words);
        assert_eq!(words, [u64::MAX; 3]);
    }

    #[test]
    fn other_bytes_read_as_none() {
        assert!(Serialized(vec![1, 2, 3]).containers().is_none());
        let mut bytes = Vec::new();
        let bitmap: RoaringBitmap = (0..10_000u32).collect();
        bitmap.serialize_into(&mut bytes).expect("a Vec");
        bytes.truncate(bytes.len() - 1);
        assert!(Serialized(bytes).containers().is_none());
    }
}
