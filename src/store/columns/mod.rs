//! The per-row columns and the maps over them: strings packed in one arena (`strings`),
//! optional texts with their equality index (`text`), names with a bitmap each (accounts
//! and tags: `registry`), the identity map (`identity`), and big zeroed arrays
//! (`memory`).

pub(super) mod identity;
pub(super) mod memory;
pub(super) mod registry;
pub(super) mod strings;
pub(super) mod text;

/// The values of the rows of `runs`, one copy per run (`missing` past the end).
pub(super) fn gather<T: Copy>(values: &[T], runs: &[std::ops::Range<u32>], missing: T) -> Vec<T> {
    let mut out = Vec::with_capacity(runs.iter().map(|r| r.len()).sum());
    for run in runs {
        match values.get(run.start as usize..run.end as usize) {
            Some(slice) => out.extend_from_slice(slice),
            None => out.extend(
                run.clone()
                    .map(|r| values.get(r as usize).copied().unwrap_or(missing)),
            ),
        }
    }
    out
}
