//! The statistics line under an elided table: over the whole 2-D slice shown, not just its
//! shown cells. In the stepper a [`StatsCache`] gives them without a pass over the slice: the
//! square tensors (scores, masks, weights) carry a summary of each row made while the forward
//! wrote them, so a slice's statistics add up its rows' summaries; any other slice is passed
//! over once and remembered.

use std::cell::RefCell;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use ndarray::ArrayView2;

use crate::numeric::{RowSummary, Tensor, summarize};

/// Statistics over a whole 2-D slice, for the line under an elided table and the legend.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub count: usize,
    /// Over finite values; `None` when there are none.
    pub min: Option<f32>,
    pub max: Option<f32>,
    pub mean: Option<f64>,
    pub neg_inf: usize,
    pub nan: usize,
    /// Finite values at or below [`super::PAD_THRESHOLD`]: scores carrying the padding bias.
    pub pad: usize,
}

impl Stats {
    /// The statistics of the values the summaries cover.
    fn of(s: RowSummary) -> Stats {
        let any = s.finite > 0;
        Stats {
            count: s.len,
            min: any.then_some(s.min),
            max: any.then_some(s.max),
            mean: any.then(|| s.sum / s.finite as f64),
            neg_inf: s.neg_inf,
            nan: s.nan,
            pad: s.pad,
        }
    }
}

/// The statistics of `data`, row by row: the same numbers as adding up its rows' summaries.
pub fn stats(data: ArrayView2<f32>) -> Stats {
    let total = data
        .rows()
        .into_iter()
        .map(|row| match row.as_slice() {
            Some(r) => summarize(r),
            None => summarize(&row.to_vec()),
        })
        .fold(RowSummary::default(), RowSummary::merge);
    Stats::of(total)
}

/// Where a 2-D view starts and how it walks memory: with the buffer it points into, it names
/// the view's values.
type SliceKey = (usize, [usize; 2], [isize; 2]);

/// A trace tensor's buffer, by address range, with its row summaries if it has them.
struct Pinned {
    start: usize,
    end: usize,
    /// Length of the rows the summaries are of (the tensor's last axis).
    row_len: usize,
    rows: Option<Arc<[RowSummary]>>,
}

impl Pinned {
    /// The statistics of `data` from the row summaries, when `data` is whole rows of the
    /// buffer taken in order.
    fn stats_by_rows(&self, data: &ArrayView2<f32>) -> Option<Stats> {
        let rows = self.rows.as_ref()?;
        let (nrows, ncols) = data.dim();
        let offset = (data.as_ptr() as usize - self.start) / size_of::<f32>();
        let whole_rows = ncols == self.row_len
            && (nrows <= 1 || data.strides()[0] == self.row_len as isize)
            && (ncols <= 1 || data.strides()[1] == 1)
            && offset.is_multiple_of(self.row_len.max(1));
        let first = offset / self.row_len.max(1);
        let these = rows.get(first..first + nrows).filter(|_| whole_rows)?;
        Some(Stats::of(
            these
                .iter()
                .copied()
                .fold(RowSummary::default(), RowSummary::merge),
        ))
    }
}

#[derive(Default)]
struct StatsMemo {
    pinned: Vec<Pinned>,
    known: HashMap<SliceKey, Stats>,
}

thread_local! {
    /// The cache of the [`StatsCache::scope`] running on this thread, if any.
    static ACTIVE: RefCell<Option<StatsMemo>> = const { RefCell::new(None) };
}

/// Gives the [`stats`] of slices of tensors that stay put and unchanged for `'a` (a trace's),
/// from their row summaries or else from one pass remembered, so drawing a stage costs what
/// its shown cells cost, even the first time. Views into anything else (a table computed for
/// one drawing) are passed over every time and never remembered.
#[derive(Default)]
pub struct StatsCache<'a> {
    memo: StatsMemo,
    tensors: PhantomData<&'a Tensor>,
}

impl<'a> StatsCache<'a> {
    /// A cache for slices of `tensors`, which the borrow keeps alive and unchanged.
    pub fn new(tensors: impl IntoIterator<Item = &'a Tensor>) -> StatsCache<'a> {
        let pinned = tensors
            .into_iter()
            .filter_map(|t| {
                let r = t.data.as_slice_memory_order()?.as_ptr_range();
                Some(Pinned {
                    start: r.start as usize,
                    end: r.end as usize,
                    row_len: t.data.shape().last().copied().unwrap_or(1),
                    // Summaries are of rows in memory order, which is the tensor's own order
                    // only in standard layout.
                    rows: t.rows.clone().filter(|_| t.data.is_standard_layout()),
                })
            })
            .collect();
        StatsCache {
            memo: StatsMemo {
                pinned,
                known: HashMap::new(),
            },
            tensors: PhantomData,
        }
    }

    /// Runs `f` (which renders) with this cache consulted for every stats line on this thread.
    pub fn scope<R>(&mut self, f: impl FnOnce() -> R) -> R {
        /// Puts the memo back even if `f` panics.
        struct Back<'c, 'a>(&'c mut StatsCache<'a>);
        impl Drop for Back<'_, '_> {
            fn drop(&mut self) {
                if let Some(m) = ACTIVE.with(|a| a.borrow_mut().take()) {
                    self.0.memo = m;
                }
            }
        }
        let memo = std::mem::take(&mut self.memo);
        ACTIVE.with(|a| *a.borrow_mut() = Some(memo));
        let _back = Back(self);
        f()
    }
}

/// [`stats`], from the active [`StatsCache`] when the slice lies in one of its tensors.
pub(super) fn cached_stats(data: ArrayView2<f32>) -> Stats {
    ACTIVE.with(|a| {
        let mut active = a.borrow_mut();
        let Some(memo) = active.as_mut() else {
            return stats(data);
        };
        let at = data.as_ptr() as usize;
        let Some(pinned) = memo
            .pinned
            .iter()
            .find(|p| !data.is_empty() && p.start <= at && at < p.end)
        else {
            return stats(data);
        };
        if let Some(s) = pinned.stats_by_rows(&data) {
            return s;
        }
        let strides = data.strides();
        let key = (at, [data.nrows(), data.ncols()], [strides[0], strides[1]]);
        *memo.known.entry(key).or_insert_with(|| stats(data))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Backend;
    use crate::numeric::Numeric;
    use ndarray::{ArrayD, IxDyn, s};

    fn tensor(rows: usize, cols: usize, v: Vec<f32>) -> Tensor {
        Tensor::new(
            crate::shape![(SeqLen, rows), (KvLen, cols)],
            ArrayD::from_shape_vec(IxDyn(&[rows, cols]), v).unwrap(),
        )
    }

    #[test]
    fn the_stats_cache_remembers_pinned_slices_only() {
        let pinned = tensor(2, 2, vec![1.0, 2.0, 3.0, 4.0]);
        let mut cache = StatsCache::new([&pinned]);
        let m = pinned
            .data
            .view()
            .into_dimensionality::<ndarray::Ix2>()
            .unwrap();
        cache.scope(|| {
            assert_eq!(cached_stats(m.view()).mean, Some(2.5));
            // A table built for one drawing, at whatever address: computed, not remembered.
            let temp = ndarray::arr2(&[[10.0f32, 20.0]]);
            assert_eq!(cached_stats(temp.view()).mean, Some(15.0));
            // A column of the pinned array is another slice with its own stats.
            let col = m.column(1).insert_axis(ndarray::Axis(1));
            assert_eq!(cached_stats(col).mean, Some(3.0));
        });
        assert_eq!(cache.memo.known.len(), 2);
        assert!(ACTIVE.with(|a| a.borrow().is_none()), "scope ends");
        // Outside a scope nothing is cached.
        assert_eq!(cached_stats(m.view()).max, Some(4.0));
    }

    #[test]
    fn slices_of_summarised_tensors_add_up_their_rows_without_a_pass() {
        // Masked scores of two heads: a causal mask and one padded key over the scores.
        let b = Numeric::new(0);
        let mut numeric = Numeric::new(0);
        let scores = Tensor::new(
            crate::shape![(Bsz, 1), (NHeads, 2), (SeqLen, 3), (KvLen, 3)],
            ArrayD::from_shape_fn(IxDyn(&[1, 2, 3, 3]), |i| {
                (i[1] * 9 + i[2] * 3 + i[3]) as f32 - 8.0
            }),
        );
        let mask = numeric.causal_mask(3, 3, 0, true);
        let masked = b.add(&scores, &mask);
        let pad = tensor(1, 3, vec![0.0, 0.0, -1e9]);
        let padded = b.add(&masked, &pad);
        let weights = b.softmax(&padded);
        assert!(padded.rows.is_some() && weights.rows.is_some());
        let mut cache = StatsCache::new([&padded, &weights]);
        for t in [&padded, &weights] {
            let head1 = t.data.slice(s![0, 1, .., ..]);
            let direct = stats(head1);
            cache.scope(|| assert_eq!(cached_stats(head1), direct));
            assert!(
                cache.memo.known.is_empty(),
                "answered from the row summaries"
            );
        }
        // Head 1 of the padded scores by hand: rows 1 2 3 / 4 5 6 / 7 8 9; the causal mask
        // blocks (0, 1), (0, 2), (1, 2); key 2 gets -1e9 added, so 9 becomes 9 - 1e9, which
        // rounds to -1e9 in f32; the largest real score left is 8.
        let head1 = stats(padded.data.slice(s![0, 1, .., ..]));
        assert_eq!((head1.neg_inf, head1.pad, head1.count), (3, 1, 9));
        assert_eq!(head1.min, Some(-1e9));
        assert_eq!(head1.max, Some(8.0));
        assert_eq!(head1.mean, Some((1.0 + 4.0 + 5.0 + 7.0 + 8.0 - 1e9) / 6.0));
    }
}
