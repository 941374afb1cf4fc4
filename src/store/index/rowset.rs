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
