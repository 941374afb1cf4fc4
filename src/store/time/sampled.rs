//! `Samples`: the rows a column's estimates sample, copied out once and kept beside the
//! column, so that a query's estimates read a few KiB in order rather than thousands of
//! lone rows of a 20 MB column, each a cache miss (3% of a server's time at 10M).
//!
//! A sample is about `samples` rows in evenly spaced runs of `run` consecutive rows, as
//! [`Samples::layout`] places them: the same rows, so the same hits, as reading the column.
//! A write to a sampled row writes its copy too; a write that grows the column moves
//! every run, so it drops the copies (the next estimate copies them again).

use std::sync::{Arc, OnceLock};

/// The sampled rows' halves, for each kind of sample a column takes.
#[derive(Clone, Debug, Default)]
pub(super) struct Samples {
    kinds: [OnceLock<Arc<Sampled>>; KINDS],
}

/// How many kinds of sample a column takes (`cost::ORDER_SAMPLES` and
/// `cost::ESTIMATE_SAMPLES`).
const KINDS: usize = 2;

/// One kind of sample: its rows' `(high, low)` halves, runs of `run` from every
/// `stride`th row.
#[derive(Clone, Debug)]
pub(super) struct Sampled {
    stride: usize,
    run: usize,
    pub(super) values: Vec<(u16, u16)>,
}

impl Samples {
    /// Where a sample of about `samples` rows in runs of `run` lies among `rows`: a run
    /// from every `stride`th row.
    pub(super) fn layout(rows: usize, samples: usize, run: usize) -> usize {
        (rows / samples.div_ceil(run)).max(run)
    }

    /// Sample `kind` (`< KINDS`) of a column of halves `high` and `low`, copied now if
    /// not yet.
    pub(super) fn get(
        &self,
        kind: usize,
        (samples, run): (usize, usize),
        high: &[u16],
        low: &[u16],
    ) -> &Sampled {
        self.kinds[kind].get_or_init(|| {
            let rows = high.len();
            let stride = Samples::layout(rows, samples, run);
            let runs = (0..rows).step_by(stride);
            let row = runs.flat_map(|start| start..(start + run).min(rows));
            let values = row.map(|r| (high[r], low[r])).collect();
            Arc::new(Sampled {
                stride,
                run,
                values,
            })
        })
    }

    /// Row `row` (of a column that keeps its length) now holds halves `value`.
    pub(super) fn write(&mut self, row: usize, value: (u16, u16)) {
        for kind in &mut self.kinds {
            let Some(sampled) = kind.get_mut() else {
                continue;
            };
            let (k, at) = (row / sampled.stride, row % sampled.stride);
            let index = k * sampled.run + at;
            if at < sampled.run && index < sampled.values.len() {
                Arc::make_mut(sampled).values[index] = value;
            }
        }
    }

    /// Forgets every copy (the column grew: every run moves).
    pub(super) fn clear(&mut self) {
        self.kinds = Default::default();
    }
}
