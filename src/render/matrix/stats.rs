//! The statistics line under an elided table, with a cache so redrawing a stage does not pass
//! over a whole slice again.

use std::cell::RefCell;
use std::collections::HashMap;
use std::marker::PhantomData;

use ndarray::ArrayView2;

use super::PAD_THRESHOLD;

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
    /// Finite values at or below [`PAD_THRESHOLD`]: scores carrying the padding bias.
    pub pad: usize,
}

pub fn stats(data: ArrayView2<f32>) -> Stats {
    let (mut min, mut max, mut sum, mut finite) = (f32::INFINITY, f32::NEG_INFINITY, 0f64, 0);
    let (mut neg_inf, mut nan, mut pad) = (0, 0, 0);
    for &v in data.iter() {
        if v.is_finite() {
            min = min.min(v);
            max = max.max(v);
            sum += f64::from(v);
            finite += 1;
            if v <= PAD_THRESHOLD {
                pad += 1;
            }
        } else if v.is_nan() {
            nan += 1;
        } else if v == f32::NEG_INFINITY {
            neg_inf += 1;
        }
    }
    Stats {
        count: data.len(),
        min: (finite > 0).then_some(min),
        max: (finite > 0).then_some(max),
        mean: (finite > 0).then(|| sum / finite as f64),
        neg_inf,
        nan,
        pad,
    }
}

/// Where a 2-D view starts and how it walks memory: with the buffer it points into, it names
/// the view's values.
type SliceKey = (usize, [usize; 2], [isize; 2]);

#[derive(Default)]
struct StatsMemo {
    /// Address ranges (start, end) of the buffers whose slices may be remembered.
    pinned: Vec<(usize, usize)>,
    known: HashMap<SliceKey, Stats>,
}

thread_local! {
    /// The cache of the [`StatsCache::scope`] running on this thread, if any.
    static ACTIVE: RefCell<Option<StatsMemo>> = const { RefCell::new(None) };
}

/// Remembers the [`stats`] of slices of buffers that stay put and unchanged for `'a` (a trace's
/// tensors), so drawing the same stage again does not pass over a whole 4096×4096 slice again.
/// Views into anything else (a table computed for one drawing) are never remembered.
#[derive(Default)]
pub struct StatsCache<'a> {
    memo: StatsMemo,
    buffers: PhantomData<&'a [f32]>,
}

impl<'a> StatsCache<'a> {
    /// A cache for slices of `buffers`, which the borrow keeps alive and unchanged.
    pub fn new(buffers: impl IntoIterator<Item = &'a [f32]>) -> StatsCache<'a> {
        let pinned = buffers
            .into_iter()
            .map(|b| {
                let r = b.as_ptr_range();
                (r.start as usize, r.end as usize)
            })
            .collect();
        StatsCache {
            memo: StatsMemo {
                pinned,
                known: HashMap::new(),
            },
            buffers: PhantomData,
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

/// [`stats`], from the active [`StatsCache`] when the slice lies in one of its buffers.
pub(super) fn cached_stats(data: ArrayView2<f32>) -> Stats {
    ACTIVE.with(|a| {
        let mut active = a.borrow_mut();
        let Some(memo) = active.as_mut() else {
            return stats(data);
        };
        let at = data.as_ptr() as usize;
        if data.is_empty() || !memo.pinned.iter().any(|&(s, e)| s <= at && at < e) {
            return stats(data);
        }
        let strides = data.strides();
        let key = (at, [data.nrows(), data.ncols()], [strides[0], strides[1]]);
        *memo.known.entry(key).or_insert_with(|| stats(data))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stats_cache_remembers_pinned_slices_only() {
        let pinned = ndarray::arr2(&[[1.0f32, 2.0], [3.0, 4.0]]);
        let mut cache = StatsCache::new([pinned.as_slice().unwrap()]);
        cache.scope(|| {
            assert_eq!(cached_stats(pinned.view()).mean, Some(2.5));
            // A table built for one drawing, at whatever address: computed, not remembered.
            let temp = ndarray::arr2(&[[10.0f32, 20.0]]);
            assert_eq!(cached_stats(temp.view()).mean, Some(15.0));
            // A column of the pinned array is another slice with its own stats.
            let col = pinned.column(1).insert_axis(ndarray::Axis(1));
            assert_eq!(cached_stats(col).mean, Some(3.0));
        });
        assert_eq!(cache.memo.known.len(), 2);
        assert!(ACTIVE.with(|a| a.borrow().is_none()), "scope ends");
        // Outside a scope nothing is cached.
        assert_eq!(cached_stats(pinned.view()).max, Some(4.0));
    }
}
