//! Set operations between the rows a change names (often one) and an index bitmap of
//! millions: membership tests and single inserts when the change's rows are few, roaring
//! algebra otherwise (which, for one row, would copy whole containers); and bitmaps built
//! from bit words.

use roaring::RoaringBitmap;

/// Up to this many rows count as few.
const FEW: u64 = 64;

/// `rows ∩ index`.
pub fn and(rows: &RoaringBitmap, index: &RoaringBitmap) -> RoaringBitmap {
    if rows.len() <= FEW {
        rows.iter().filter(|&r| index.contains(r)).collect()
    } else {
        rows & index
    }
}

/// `rows − index`.
pub fn minus(rows: &RoaringBitmap, index: &RoaringBitmap) -> RoaringBitmap {
    if rows.len() <= FEW {
        rows.iter().filter(|&r| !index.contains(r)).collect()
    } else {
        rows - index
    }
}

/// `index ∪= rows`.
pub fn add(index: &mut RoaringBitmap, rows: &RoaringBitmap) {
    if rows.len() <= FEW {
        rows.iter().for_each(|r| _ = index.insert(r));
    } else {
        *index |= rows;
    }
}

/// `index −= rows`.
pub fn remove(index: &mut RoaringBitmap, rows: &RoaringBitmap) {
    if rows.len() <= FEW {
        rows.iter().for_each(|r| _ = index.remove(r));
    } else {
        *index -= rows;
    }
}

/// The rows `base + i` for every bit `i` set in `words` (whole containers at once:
/// cheaper than inserting rows one by one).
pub fn from_words(base: usize, mut words: Vec<u64>) -> RoaringBitmap {
    for word in &mut words {
        *word = word.to_le();
    }
    RoaringBitmap::from_lsb0_bytes(base as u32, bytemuck::cast_slice(&words))
}

/// The union of disjoint per-chunk results, given in chunk order.
pub fn union_in_order(parts: Vec<RoaringBitmap>) -> RoaringBitmap {
    let mut out = RoaringBitmap::new();
    for part in parts {
        out |= part;
    }
    out
}

/// Adds `base + r` for each of `rows` (ascending, all past the bitmap's last row: the
/// rows of a batch being appended).
pub fn push_rows(bitmap: &mut RoaringBitmap, base: u32, rows: &[u32]) {
    let shifted = rows.iter().map(|&r| base + r);
    if bitmap.append(shifted.clone()).is_err() {
        bitmap.extend(shifted);
    }
}

/// Maps the rows of a sorted set to their positions in it.
pub enum RowPositions {
    Dense { base: u32, positions: Vec<u32> },
    Sparse(hashbrown::HashMap<u32, u32>),
}

impl RowPositions {
    pub fn new(rows: &RoaringBitmap) -> RowPositions {
        let (Some(min), Some(max)) = (rows.min(), rows.max()) else {
            return RowPositions::Sparse(Default::default());
        };
        let span = (max - min) as usize + 1;
        if span <= (rows.len() as usize * 8).max(1 << 16) {
            let mut positions = vec![0; span];
            for (i, row) in rows.iter().enumerate() {
                positions[(row - min) as usize] = i as u32;
            }
            RowPositions::Dense {
                base: min,
                positions,
            }
        } else {
            RowPositions::Sparse(
                rows.iter()
                    .enumerate()
                    .map(|(i, r)| (r, i as u32))
                    .collect(),
            )
        }
    }

    pub fn of(&self, row: u32) -> usize {
        match self {
            RowPositions::Dense { base, positions } => positions[(row - base) as usize] as usize,
            RowPositions::Sparse(map) => map.get(&row).copied().unwrap_or(0) as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_large_sets_give_the_same_answers() {
        let index: RoaringBitmap = (0..100_000).filter(|r| r % 3 == 0).collect();
        for rows in [
            RoaringBitmap::from_iter([3, 4, 99_999]),
            (0..5_000).filter(|r| r % 7 == 0).collect::<RoaringBitmap>(),
        ] {
            assert_eq!(and(&rows, &index), &rows & &index);
            assert_eq!(minus(&rows, &index), &rows - &index);
            let (mut a, mut b) = (index.clone(), index.clone());
            add(&mut a, &rows);
            b |= &rows;
            assert_eq!(a, b);
            remove(&mut a, &rows);
            b -= &rows;
            assert_eq!(a, b);
        }
    }
}
