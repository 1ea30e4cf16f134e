//! The inner loops: matrix products split into row blocks for rayon (skipping a causal
//! product's zero columns), and softmax over one contiguous row with an `exp` that vectorises.

use ndarray::{ArrayView1, ArrayView2, ArrayViewD, ArrayViewMut2};
use rayon::prelude::*;

use super::buffers::*;

/// Fewest rows of a product per task, so that sgemm's packing never dominates.
pub(super) const MIN_ROWS: usize = 32;
/// Rows per task to aim for in a long product: short blocks let a causal product skip more of
/// its zeros (see [`live_columns`]).
pub(super) const BLOCK_ROWS: usize = 256;

/// Fills the row-major `[m, n]` matrix `out` in row blocks, in parallel: `f(first_row, block)`
/// writes rows `first_row ..` into `block`. Different blocks give the same numbers as one
/// product would, since each element's sum runs over k in the same order.
pub(super) fn products(
    out: &mut [f32],
    m: usize,
    n: usize,
    f: impl Fn(usize, &mut ArrayViewMut2<f32>) + Sync,
) {
    if m == 0 || n == 0 {
        return;
    }
    let blocks = (2 * threads())
        .max(m / BLOCK_ROWS)
        .min(m.div_ceil(MIN_ROWS))
        .max(1);
    let rows = m.div_ceil(blocks);
    out.par_chunks_mut(rows * n)
        .enumerate()
        .for_each(|(i, block)| {
            let mut c = ArrayViewMut2::from_shape((block.len() / n, n), block)
                .expect("a block of whole rows");
            f(i * rows, &mut c);
        });
}

/// How many leading columns of `a` (and rows of `b`) a product `a · b` needs: past the last
/// non-zero element of any row of `a`, every term is `0 · b[j, ..]`, which adds exactly nothing
/// when `b`'s rows there are finite (see [`finite_rows_from`]; as each output element's sum
/// runs over k in order, the result is the same to the bit). Causal attention weights are zero
/// right of the diagonal, so this halves the weighted sum. `None` when `a` is all zeros.
pub(super) fn live_columns(a: &ArrayView2<f32>) -> Option<usize> {
    let k = a.ncols();
    let mut live = None;
    for row in a.rows() {
        let last = match row.as_slice() {
            Some(r) => r.iter().rposition(|&v| v != 0.0),
            None => row.iter().rposition(|&v| v != 0.0),
        };
        live = live.max(last.map(|j| j + 1));
        if live == Some(k) {
            break;
        }
    }
    live
}

/// The first row of `b` from which every row is finite: a product may leave out `0 · b[j, ..]`
/// only there, since `0 · ±inf` and `0 · NaN` are NaN.
pub(super) fn finite_rows_from(b: &ArrayView2<f32>) -> usize {
    b.rows()
        .into_iter()
        .rposition(|row| !row.iter().all(|v| v.is_finite()))
        .map_or(0, |j| j + 1)
}

/// Row `r` (row-major over all but the last axis) of `a`, as a 1-D view.
pub(super) fn row_at<'a>(a: &ArrayViewD<'a, f32>, r: usize) -> ArrayView1<'a, f32> {
    fix_leading(a, r, 1)
        .into_dimensionality()
        .expect("one axis is left")
}

/// `F.softmax(v, dim=-1)` of one row into `out`, which must hold zeros: `exp(v - max) / sum`.
/// A causal row ends in -inf, whose weights are exactly 0, what `out` already holds: that tail
/// is left untouched, so its memory is never written (a row of nothing but -inf is computed
/// whole and gives NaN, as in PyTorch). Compiled for each SIMD level (AVX-512, AVX2, …) and
/// picked at run time; the code has no fused multiply-adds, so every level gives the same bits.
/// Returns how many leading elements it wrote: the rest of `out` holds the zeros it had.
#[multiversion::multiversion(targets = "simd")]
pub(super) fn softmax_row(v: &[f32], out: &mut [f32]) -> usize {
    let live = v
        .iter()
        .rposition(|&x| x != f32::NEG_INFINITY)
        .map_or(v.len(), |j| j + 1);
    let (v, out) = (&v[..live], &mut out[..live]);
    let max = max_of(v);
    for (o, &x) in out.iter_mut().zip(v) {
        *o = exp(x - max);
    }
    let sum = sum_of(out);
    for o in out.iter_mut() {
        *o /= sum;
    }
    live
}

/// The largest element (NaN elements are skipped; their exp stays NaN), -inf for none.
#[inline(always)]
pub(super) fn max_of(v: &[f32]) -> f32 {
    // Eight independent maxima so the loop vectorises.
    let mut acc = [f32::NEG_INFINITY; 8];
    let chunks = v.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = if x > *a { x } else { *a };
        }
    }
    tail.iter()
        .chain(acc.iter())
        .fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m })
}

/// The sum of `v` over eight running sums (the order ndarray's `sum` also uses).
#[inline(always)]
pub(super) fn sum_of(v: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = v.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    let mut sum = (acc[0] + acc[4]) + (acc[1] + acc[5]) + (acc[2] + acc[6]) + (acc[3] + acc[7]);
    for &x in tail {
        sum += x;
    }
    sum
}

/// `e^x` in f32 without a library call, so a row of them vectorises: Cody–Waite reduction
/// `x = n·ln 2 + r` with `n = round(x / ln 2)`, a degree-6 polynomial for `e^r` on
/// `|r| ≤ ln 2 / 2` (Cephes' `expf` coefficients), and `2^n` built in the exponent bits.
/// Within 2 ulp of the exact value for `-87.3 ≤ x ≤ 88.3`; `e^x` below f32's smallest normal
/// (x < -87.336, including -inf) is 0, and NaN stays NaN. Softmax only calls it with x ≤ 0.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4; // 0.693359375: few bits, so n·LN2_HI is exact
    const LN2_LO: f32 = -2.121_944_4e-4;
    const ROUND: f32 = 12_582_912.0; // 1.5·2^23: adding it rounds to an integer
    const MIN: f32 = -87.336_55; // ln(f32::MIN_POSITIVE)
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND; // round(x·log2 e), as a float
    // `shifted` is 1.5·2^23 + n, so its bits are ROUND's bits plus n.
    let n_int = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let r2 = r * r;
    let p = ((((1.987_569_1e-4 * r + 1.398_2e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let e_r = p * r2 + r + 1.0;
    let two_n = f32::from_bits(n_int.wrapping_add(127) << 23);
    if x < MIN { 0.0 } else { e_r * two_n }
}

/// Sizes the thread pool the numeric backend computes on (the CLI's `--threads`). `0` keeps
/// rayon's default: `RAYON_NUM_THREADS` if set, else one thread per core. Call it once, before
/// the first numeric run: the pool is global and starts on first use, after which this fails.
pub fn set_threads(threads: usize) -> Result<(), rayon::ThreadPoolBuildError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
}

/// How many threads the numeric backend computes on.
pub fn threads() -> usize {
    rayon::current_num_threads()
}
