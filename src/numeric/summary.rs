//! Row summaries: min, max, sum and counts of the special values of one row, taken while an
//! operation writes it, so a viewer can state a whole slice's statistics without a pass.

/// Values at or below this are the padding bias (-1e9 plus a score), not a real score.
pub const PADDED: f32 = -1e8;

/// What a row of numbers holds, in one pass: the count, smallest, largest and sum of its
/// finite values, and how many are -inf, NaN, or finite at or below [`PADDED`]. Summaries of
/// consecutive rows [`add up`](RowSummary::merge) to the summary of the slice they make.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RowSummary {
    pub len: usize,
    pub finite: usize,
    /// Over finite values: +inf and -inf when there are none.
    pub min: f32,
    pub max: f32,
    /// Of the finite values, in f64.
    pub sum: f64,
    pub neg_inf: usize,
    pub nan: usize,
    pub pad: usize,
}

impl Default for RowSummary {
    fn default() -> Self {
        RowSummary {
            len: 0,
            finite: 0,
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            sum: 0.0,
            neg_inf: 0,
            nan: 0,
            pad: 0,
        }
    }
}

impl RowSummary {
    /// The summary of this one's values followed by `other`'s.
    pub fn merge(self, other: RowSummary) -> RowSummary {
        RowSummary {
            len: self.len + other.len,
            finite: self.finite + other.finite,
            min: self.min.min(other.min),
            max: self.max.max(other.max),
            sum: self.sum + other.sum,
            neg_inf: self.neg_inf + other.neg_inf,
            nan: self.nan + other.nan,
            pad: self.pad + other.pad,
        }
    }

    /// The summary of `n` zeros.
    pub(super) fn zeros(n: usize) -> RowSummary {
        if n == 0 {
            return RowSummary::default();
        }
        RowSummary {
            len: n,
            finite: n,
            min: 0.0,
            max: 0.0,
            ..RowSummary::default()
        }
    }
}

/// The [`RowSummary`] of `v`. Branch-free over sixteen lanes so it vectorises: a row just
/// written is summed up from cache for a small fraction of what writing it cost. The sum runs
/// in f32 per lane (a row is at most a context long) and is added up in f64. Compiled for each
/// SIMD level and picked at run time; every level adds in the same order, so gives the same sum.
#[multiversion::multiversion(targets = "simd")]
pub fn summarize(v: &[f32]) -> RowSummary {
    const W: usize = 16;
    let mut min = [f32::INFINITY; W];
    let mut max = [f32::NEG_INFINITY; W];
    let mut sum = [0f32; W];
    // Per lane: finite values, -inf, NaN, padded; u32 is enough for any row (< 2^32 values).
    let mut counts = [[0u32; W]; 4];
    let chunks = v.chunks_exact(W);
    let tail = chunks.remainder();
    // One value into lane `l`; inlined into both loops, so the chunk loop still vectorises.
    let mut add = |l: usize, x: f32| {
        let fin = x.abs() < f32::INFINITY; // false for ±inf and NaN
        let f = if fin { x } else { 0.0 };
        min[l] = if fin { min[l].min(f) } else { min[l] };
        max[l] = if fin { max[l].max(f) } else { max[l] };
        sum[l] += f;
        counts[0][l] += u32::from(fin);
        counts[1][l] += u32::from(x == f32::NEG_INFINITY);
        counts[2][l] += u32::from(x.is_nan());
        counts[3][l] += u32::from(f <= PADDED);
    };
    for c in chunks {
        let c: &[f32; W] = c.try_into().expect("a chunk of W");
        for (l, &x) in c.iter().enumerate() {
            add(l, x);
        }
    }
    for (l, &x) in tail.iter().enumerate() {
        add(l, x);
    }
    let total = |c: &[u32; W]| c.iter().map(|&n| n as usize).sum::<usize>();
    RowSummary {
        len: v.len(),
        finite: total(&counts[0]),
        min: min.iter().copied().fold(f32::INFINITY, f32::min),
        max: max.iter().copied().fold(f32::NEG_INFINITY, f32::max),
        sum: sum.iter().map(|&s| f64::from(s)).sum(),
        neg_inf: total(&counts[1]),
        nan: total(&counts[2]),
        pad: total(&counts[3]),
    }
}
