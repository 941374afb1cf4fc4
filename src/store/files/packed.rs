//! String columns read where they lie in a mapped snapshot part, for a lookup that scans
//! a column rather than reading it (`Store::name_eq`, `Store::text_eq`): the rows are
//! tested in parallel, straight from the mapped bytes, and nothing but the matching
//! rows' numbers is kept. The layouts are the snapshot's (`snapshot`): each row's length
//! (u32 LE), the bytes' total (u64 LE), then the bytes; a text column's part holds the
//! rows that have a value first, its values in their order.

use rayon::prelude::*;
use roaring::RoaringBitmap;

use super::format::{SnapshotError, corrupt};
use super::snapshot::Bytes;

/// Rows tested together, in one task.
const PART: usize = 1 << 16;

/// The positions (`0..count`) of a string column's part whose bytes `test` accepts,
/// ascending. `test` refuses bytes a snapshot never holds (text that is not UTF-8).
pub fn strings_matching(
    part: &[u8],
    count: u32,
    test: &(impl Fn(&[u8]) -> Result<bool, SnapshotError> + Sync),
) -> Result<Vec<u32>, SnapshotError> {
    let mut bytes = Bytes(part);
    let lens = bytes.take((count as usize).saturating_mul(4))?;
    let total = bytes.u64()?;
    let arena = bytes.0;
    let lens: Vec<&[u8]> = lens.chunks(PART * 4).collect();
    let sums: Vec<u64> = lens.par_iter().map(|lens| sum(lens)).collect();
    if sums.iter().sum::<u64>() != total || total != arena.len() as u64 {
        return Err(corrupt("a text column does not add up"));
    }
    let starts = sums.iter().scan(0, |at, &len| {
        let start = *at;
        *at += len as usize;
        Some(start)
    });
    let starts: Vec<usize> = starts.collect();
    let found = (lens.par_iter().zip(starts).enumerate()).map(|(i, (lens, start))| {
        let mut found = Vec::new();
        let mut at = start;
        for (k, len) in lens.chunks_exact(4).enumerate() {
            let end = at + u32_of(len) as usize;
            let value = arena
                .get(at..end)
                .ok_or_else(|| corrupt("a part ends too early"))?;
            if test(value)? {
                found.push((i * PART + k) as u32);
            }
            at = end;
        }
        Ok(found)
    });
    let found: Vec<Vec<u32>> = found.collect::<Result<_, SnapshotError>>()?;
    Ok(found.concat())
}

/// The rows of an optional text column's part (of a store of `rows`) whose value `test`
/// accepts.
pub fn texts_matching(
    part: &[u8],
    rows: u32,
    test: &(impl Fn(&[u8]) -> Result<bool, SnapshotError> + Sync),
) -> Result<RoaringBitmap, SnapshotError> {
    let mut bytes = Bytes(part);
    let present = bytes.bitmap(rows)?;
    let ranks = strings_matching(bytes.0, present.len() as u32, test)?;
    Ok(rows_of(&present, &ranks))
}

/// The rows of an optional text column's part (of a store of `rows`) that have a value.
pub fn texts_present(part: &[u8], rows: u32) -> Result<RoaringBitmap, SnapshotError> {
    Bytes(part).bitmap(rows)
}

/// The stored values of `picked` rows (in row order) in a time column's part (of a store
/// of `rows`), read where they lie: the part is each row's value (u32 LE).
pub fn times_of(part: &[u8], rows: u32, picked: &[u32]) -> Result<Vec<u32>, SnapshotError> {
    if part.len() != rows as usize * 4 {
        return Err(corrupt("column lengths disagree"));
    }
    let value = |row: u32| {
        let at = row as usize * 4;
        let bytes = part
            .get(at..at + 4)
            .ok_or_else(|| corrupt("a row past the column"))?;
        Ok(u32_of(bytes))
    };
    picked.iter().map(|&row| value(row)).collect()
}

/// The rows of `present` at `ranks` (ascending).
fn rows_of(present: &RoaringBitmap, ranks: &[u32]) -> RoaringBitmap {
    let mut wanted = ranks.iter().peekable();
    let mut rows = Vec::with_capacity(ranks.len());
    for (rank, row) in present.iter().enumerate() {
        let Some(&&next) = wanted.peek() else { break };
        if next as usize == rank {
            rows.push(row);
            wanted.next();
        }
    }
    RoaringBitmap::from_sorted_iter(rows).unwrap_or_default()
}

/// The u32 (LE) of 4 bytes.
fn u32_of(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

fn sum(lens: &[u8]) -> u64 {
    lens.chunks_exact(4).map(|len| u64::from(u32_of(len))).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A string column's part, as a snapshot writes it.
    fn part(values: &[&str]) -> Vec<u8> {
        let mut part = Vec::new();
        values
            .iter()
            .for_each(|v| part.extend((v.len() as u32).to_le_bytes()));
        let total: usize = values.iter().map(|v| v.len()).sum();
        part.extend((total as u64).to_le_bytes());
        values.iter().for_each(|v| part.extend(v.as_bytes()));
        part
    }

    fn equal(key: &str) -> impl Fn(&[u8]) -> Result<bool, SnapshotError> + Sync + '_ {
        move |v| Ok(v == key.as_bytes())
    }

    #[test]
    fn matching_rows_are_found_in_place_across_parts() {
        let values: Vec<String> = (0..200_000).map(|i| format!("v{}", i % 70_001)).collect();
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        let found = strings_matching(&part(&values), 200_000, &equal("v7"));
        assert_eq!(found.expect("a sound part"), [7, 70_008, 140_009]);
        let mut present = RoaringBitmap::new();
        present.insert_range(10..200_010);
        let mut text = Vec::new();
        text.extend((present.serialized_size() as u32).to_le_bytes());
        present.serialize_into(&mut text).expect("to memory");
        text.extend(part(&values));
        let rows = texts_matching(&text, 300_000, &equal("v7")).expect("a sound part");
        assert_eq!(rows.iter().collect::<Vec<_>>(), [17, 70_018, 140_019]);
        assert_eq!(texts_present(&text, 300_000).expect("sound"), present);
        assert!(
            texts_present(&text, 200_000).is_err(),
            "rows past the store's"
        );
    }

    #[test]
    fn times_are_read_where_they_lie() {
        let part: Vec<u8> = (0..10u32).flat_map(|v| (v * 7).to_le_bytes()).collect();
        let picked = [1, 4, 9];
        assert_eq!(times_of(&part, 10, &picked).expect("sound"), [7, 28, 63]);
        assert!(times_of(&part, 11, &picked).is_err(), "a row short");
        assert!(
            times_of(&part[..40], 10, &[10]).is_err(),
            "a row past the end"
        );
    }

    #[test]
    fn a_part_that_does_not_add_up_is_refused() {
        let mut bad = part(&["ab", "c"]);
        bad[0] = 5;
        let err = strings_matching(&bad, 2, &equal("c")).expect_err("lengths past the bytes");
        assert_eq!(
            err.to_string(),
            "data file is damaged: a text column does not add up"
        );
        let short = part(&["ab"]);
        assert!(
            strings_matching(&short, 3, &equal("c")).is_err(),
            "rows missing"
        );
        let refused = |_: &[u8]| Err(corrupt("not UTF-8"));
        assert!(strings_matching(&part(&["ab"]), 1, &refused).is_err());
    }
}
