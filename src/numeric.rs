//! The numeric backend: every operation of [`Backend`] computed in f32 with ndarray, the way
//! PyTorch computes MiniMind's attention on the CPU.
//!
//! Tensors share their buffers: [`Tensor::data`] is an [`ArcArray`], so recording a tensor into
//! the trace or keeping it as the KV cache bumps a reference count, `transpose` is a strided view
//! of the same buffer, and `view` of contiguous data only changes the shape. Every operation that
//! makes new numbers writes them straight into one fresh output buffer, row by contiguous row;
//! products go through `general_mat_mul` (matrixmultiply's sgemm) into slices of that output.
//! Work is spread over rayon's thread pool (batch × head × row blocks for products, rows for the
//! rest); [`set_threads`] sizes it, and `RAYON_NUM_THREADS` is honoured as rayon documents.

use ndarray::{
    ArcArray, Array2, ArrayD, ArrayView1, ArrayView2, ArrayViewD, ArrayViewMut2, Axis, Ix2, IxDyn,
    Zip, linalg::general_mat_mul, s,
};
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::backend::{Backend, HasShape, rules};
use crate::dims::Shape;

/// The numbers of a tensor: a reference-counted n-dimensional f32 array, so cloning shares.
pub type Data = ArcArray<f32, IxDyn>;

/// A tensor of f32 numbers with named axes.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub shape: Shape,
    pub data: Data,
    /// A [`RowSummary`] of each row of the last axis, in row-major order, when the operation
    /// that made the tensor wrote its rows in order and summed them up while they were still
    /// in cache (the square score and weight tensors). Lets a viewer state the statistics of a
    /// whole `[seq_len, kv_len]` slice without a pass over it.
    pub rows: Option<Arc<[RowSummary]>>,
}

/// Tensors are equal when their shapes and numbers are; the row summaries follow from those.
impl PartialEq for Tensor {
    fn eq(&self, other: &Tensor) -> bool {
        self.shape == other.shape && self.data == other.data
    }
}

impl Tensor {
    /// Pairs data (an owned `ArrayD` or a shared [`Data`]) with its named shape; the sizes must
    /// agree.
    pub fn new(shape: Shape, data: impl Into<Data>) -> Self {
        let data = data.into();
        assert_eq!(
            shape.sizes(),
            data.shape(),
            "named shape {shape} does not match the data"
        );
        Tensor {
            shape,
            data,
            rows: None,
        }
    }

    /// With the summary of each row of its standard-layout data.
    fn with_rows(mut self, rows: Vec<RowSummary>) -> Self {
        debug_assert!(self.data.is_standard_layout());
        debug_assert_eq!(rows.len() * self.shape.last().size, self.data.len());
        self.rows = Some(rows.into());
        self
    }

    /// The data as a flat row-major vector.
    pub fn to_flat(&self) -> Vec<f32> {
        self.data.iter().copied().collect()
    }
}

impl HasShape for Tensor {
    fn shape(&self) -> Shape {
        self.shape.clone()
    }
    fn value_at(&self, index: &[usize]) -> Option<f32> {
        self.data.get(index).copied()
    }
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

/// Computes with numbers. Random tensors come from a Xoshiro256++ stream seeded with the
/// config's seed: portable, so a seed gives the same numbers on every machine and release.
pub struct Numeric {
    rng: Xoshiro256PlusPlus,
}

impl Numeric {
    pub fn new(seed: u64) -> Self {
        Numeric {
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
        }
    }
}

/// Elements per parallel task for elementwise work: enough that scheduling costs nothing.
const GRAIN: usize = 1 << 14;

/// Whether large outputs ask for transparent huge pages; see [`set_huge_pages`].
static HUGE_PAGES: AtomicBool = AtomicBool::new(false);

/// Asks for transparent huge pages (Linux `MADV_HUGEPAGE`) for the whole 2 MiB blocks of every
/// large output, or stops asking. Off by default.
///
/// Fresh memory costs its first touch, a page fault and the kernel clearing the page, and at
/// long contexts that is most of a run. Huge pages take one fault per 2 MiB instead of 512.
/// Measured on the 2-core VM this was tuned on (MiniMind2, L = 2048): back-to-back runs take
/// 0.45 s with huge pages against 1.1 s without, but a run after a few idle seconds takes 2–3 s
/// with them against 1.1 s without, because the hypervisor takes back idle 2 MiB blocks and must
/// back them again on first touch. Single runs are the usual case, so this is off unless a
/// caller (a benchmark loop, a machine without that hypervisor) turns it on.
pub fn set_huge_pages(on: bool) {
    HUGE_PAGES.store(on, Ordering::Relaxed);
}

/// A fresh zero-filled output buffer of `len` floats, derefs to the `[f32]` an operation writes
/// its result into, then becomes the result's [`Data`] without a copy.
///
/// Zeroed allocation of a large buffer maps fresh pages without writing them, so the first touch
/// is the only cost, and pages an operation never writes (a causal row's zero tail) cost
/// nothing. With [`set_huge_pages`] on, the data starts on a 2 MiB boundary inside a slightly
/// larger allocation (the untouched head costs address space, not memory) and its whole 2 MiB
/// blocks are advised to use huge pages; a partial last block keeps small pages, so the
/// resident size stays the tensor's own.
struct Out {
    buf: Vec<f32>,
    start: usize,
    len: usize,
}

/// Transparent huge page size on x86-64 and aarch64 Linux.
const HUGE: usize = 2 << 20;

impl Out {
    fn zeroed(len: usize) -> Out {
        let huge =
            cfg!(target_os = "linux") && len * 4 >= HUGE && HUGE_PAGES.load(Ordering::Relaxed);
        let pad = if huge { HUGE / 4 } else { 0 };
        let buf = vec![0.0f32; len + pad];
        let start = if huge {
            let addr = buf.as_ptr() as usize;
            (addr.next_multiple_of(HUGE) - addr) / 4
        } else {
            0
        };
        let out = Out { buf, start, len };
        if huge {
            advise_huge_pages(&out);
        }
        out
    }

    /// The result as shared data of `sizes` (which hold `len` elements).
    fn into_data(self, sizes: &[usize]) -> Data {
        let Out { buf, start, len } = self;
        ndarray::Array1::from_vec(buf)
            .slice_move(s![start..start + len])
            .into_shape_with_order(IxDyn(sizes))
            .expect("the buffer holds exactly the elements of the shape")
            .into_shared()
    }
}

impl std::ops::Deref for Out {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.buf[self.start..self.start + self.len]
    }
}

impl std::ops::DerefMut for Out {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.buf[self.start..self.start + self.len]
    }
}

/// Advises the whole 2 MiB blocks of `v` (which starts on a block boundary) to use huge pages.
#[cfg(target_os = "linux")]
fn advise_huge_pages(v: &[f32]) {
    let blocks = std::mem::size_of_val(v) / HUGE;
    if blocks == 0 {
        return;
    }
    // SAFETY: the range lies inside `v`'s allocation and starts page-aligned; MADV_HUGEPAGE only
    // changes how the kernel backs those pages, never their contents. A refusal (THP disabled)
    // is harmless, so the result is ignored.
    unsafe {
        libc::madvise(
            v.as_ptr() as *mut libc::c_void,
            blocks * HUGE,
            libc::MADV_HUGEPAGE,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_v: &[f32]) {}

/// Wraps a row-major vector as shared data of `sizes`.
fn shared(buf: Vec<f32>, sizes: &[usize]) -> Data {
    ArrayD::from_shape_vec(IxDyn(sizes), buf)
        .expect("the vector holds exactly the elements of the shape")
        .into_shared()
}

/// The elements of `a` in row-major order, copied once into a fresh buffer (used only when `a`
/// is not already standard layout). Copies whole last-axis lanes, in parallel.
fn to_standard(a: &ArrayViewD<f32>) -> Out {
    let mut buf = Out::zeroed(a.len());
    if a.ndim() == 0 || a.is_empty() {
        buf.iter_mut().zip(a.iter()).for_each(|(o, v)| *o = *v);
        return buf;
    }
    let last = Axis(a.ndim() - 1);
    let mut out = ndarray::ArrayViewMutD::from_shape(a.raw_dim(), &mut buf)
        .expect("the buffer holds the elements");
    Zip::from(out.lanes_mut(last))
        .and(a.lanes(last))
        .par_for_each(|mut o, i| o.assign(&i));
    buf
}

/// `x` as a row-major slice: borrowed when it already is one, else copied once.
fn contiguous(x: &Data) -> Rows<'_> {
    match x.as_slice() {
        Some(s) => Rows::Borrowed(s),
        None => Rows::Copied(to_standard(&x.view())),
    }
}

/// The elements of a tensor in row-major order, see [`contiguous`].
enum Rows<'a> {
    Borrowed(&'a [f32]),
    Copied(Out),
}

impl std::ops::Deref for Rows<'_> {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        match self {
            Rows::Borrowed(s) => s,
            Rows::Copied(out) => out,
        }
    }
}

/// `a` with its leading axes fixed at the row-major multi-index of `flat`, keeping the last
/// `keep` axes: a view, no copy.
fn fix_leading<'a>(a: &ArrayViewD<'a, f32>, flat: usize, keep: usize) -> ArrayViewD<'a, f32> {
    let lead = &a.shape()[..a.ndim() - keep];
    let mut index = vec![0; lead.len()];
    let mut rest = flat;
    for (i, &size) in index.iter_mut().zip(lead).rev() {
        *i = rest % size;
        rest /= size;
    }
    let mut v = a.clone();
    for i in index {
        v = v.index_axis_move(Axis(0), i);
    }
    v
}

/// Matrix `index` (row-major over the leading axes) of `a`, rank ≥ 2.
fn matrix_at<'a>(a: &ArrayViewD<'a, f32>, index: usize) -> ArrayView2<'a, f32> {
    fix_leading(a, index, 2)
        .into_dimensionality::<Ix2>()
        .expect("two axes are left")
}

impl Backend for Numeric {
    type T = Tensor;

    fn uniform(&mut self, shape: Shape, bound: f32) -> Tensor {
        let data = ArrayD::from_shape_simple_fn(IxDyn(&shape.sizes()), || {
            self.rng.random_range(-bound..bound)
        });
        Tensor::new(shape, data)
    }

    fn normal(&mut self, shape: Shape) -> Tensor {
        let data = ArrayD::from_shape_simple_fn(IxDyn(&shape.sizes()), || {
            self.rng.sample::<f32, _>(StandardNormal)
        });
        Tensor::new(shape, data)
    }

    fn ones(&mut self, shape: Shape) -> Tensor {
        let data = ArrayD::ones(IxDyn(&shape.sizes()));
        Tensor::new(shape, data)
    }

    fn linear(&self, x: &Tensor, w: &Tensor) -> Tensor {
        let shape = rules::linear(&x.shape, &w.shape);
        let w2 = w
            .data
            .view()
            .into_dimensionality::<Ix2>()
            .expect("weights are [out, in]"); // [out, in]
        let (n, k) = w2.dim();
        let xs = contiguous(&x.data);
        let rows = xs.len().checked_div(k).unwrap_or(0);
        let x2 = ArrayView2::from_shape((rows, k), &xs[..]).expect("[tokens, in]");
        let mut out = Out::zeroed(rows * n);
        products(&mut out, rows, n, |r0, c| {
            let a = x2.slice(s![r0..r0 + c.nrows(), ..]);
            general_mat_mul(1.0, &a, &w2.t(), 0.0, c); // [rows, in] · [in, out]
        });
        Tensor::new(shape.clone(), out.into_data(&shape.sizes()))
    }

    fn view(&self, x: &Tensor, shape: Shape) -> Tensor {
        let sizes = shape.sizes();
        let data = if x.data.is_standard_layout() {
            x.data.clone()
        } else {
            to_standard(&x.data.view()).into_data(x.data.shape())
        };
        let data = data
            .into_shape_with_order(IxDyn(&sizes))
            .expect("the view keeps the element count");
        Tensor::new(shape, data)
    }

    fn rms_norm(&self, x: &Tensor, w: &Tensor, eps: f64) -> Tensor {
        let src = contiguous(&x.data);
        let last = x.shape.last().size.max(1);
        let g = contiguous(&w.data);
        let eps = eps as f32;
        let mut out = Out::zeroed(src.len());
        out.par_chunks_mut(last)
            .zip(src.par_chunks(last))
            .with_min_len(GRAIN / last)
            .for_each(|(o, v)| {
                let mean_sq = v.iter().map(|v| v * v).sum::<f32>() / last as f32;
                let r = 1.0 / (mean_sq + eps).sqrt();
                for ((o, v), g) in o.iter_mut().zip(v).zip(g.iter()) {
                    *o = g * (v * r);
                }
            });
        Tensor::new(x.shape.clone(), out.into_data(&x.shape.sizes()))
    }

    fn rope_tables(
        &mut self,
        start_pos: usize,
        seq_len: usize,
        head_dim: usize,
        theta: f64,
    ) -> (Tensor, Tensor) {
        let shape = rules::rope_table(seq_len, head_dim);
        let (cos, sin) = crate::rope::tables(start_pos, seq_len, head_dim, theta);
        (
            Tensor::new(shape.clone(), cos.into_dyn()),
            Tensor::new(shape, sin.into_dyn()),
        )
    }

    fn apply_rope(&self, x: &Tensor, cos: &Tensor, sin: &Tensor) -> Tensor {
        let sizes = x.shape.sizes(); // [bsz, seq_len, heads, head_dim]
        let (seq_len, heads, d) = (sizes[1], sizes[2], sizes[3]);
        let src = contiguous(&x.data);
        let (cos, sin) = (contiguous(&cos.data), contiguous(&sin.data)); // [seq_len, head_dim]
        let mut out = Out::zeroed(src.len());
        let token = (heads * d).max(1);
        out.par_chunks_mut(token)
            .zip(src.par_chunks(token))
            .enumerate()
            .with_min_len(GRAIN / token)
            .for_each(|(t, (o, v))| {
                let s = t % seq_len;
                let (c, sn) = (&cos[s * d..(s + 1) * d], &sin[s * d..(s + 1) * d]);
                for (o, v) in o.chunks_exact_mut(d).zip(v.chunks_exact(d)) {
                    crate::rope::rotate(v, c, sn, o);
                }
            });
        Tensor::new(x.shape.clone(), out.into_data(&sizes))
    }

    fn cat_seq(&self, past: Option<&Tensor>, new: &Tensor) -> Tensor {
        let shape = rules::cat_seq(past.map(|p| &p.shape), &new.shape);
        let data = match past {
            None => new.data.clone(),
            Some(p) => ndarray::concatenate(Axis(1), &[p.data.view(), new.data.view()])
                .expect("cache and new keys agree on every axis but 1")
                .into_shared(),
        };
        Tensor::new(shape, data)
    }

    fn expand_kv(&self, x: &Tensor, n_rep: usize) -> Tensor {
        let expanded = rules::repeat_kv_expanded(&x.shape, n_rep);
        let d = x.shape.last().size.max(1);
        let src = contiguous(&x.data);
        let mut out = Out::zeroed(src.len() * n_rep);
        if n_rep > 0 {
            // Each head_dim vector of x, written n_rep times in a row.
            out.par_chunks_mut(d * n_rep)
                .zip(src.par_chunks(d))
                .with_min_len(GRAIN / (d * n_rep))
                .for_each(|(o, v)| o.chunks_exact_mut(d).for_each(|o| o.copy_from_slice(v)));
        }
        Tensor::new(expanded.clone(), out.into_data(&expanded.sizes()))
    }

    fn transpose(&self, x: &Tensor, a: isize, b: isize) -> Tensor {
        let shape = rules::transpose(&x.shape, a, b);
        let mut data = x.data.clone();
        data.swap_axes(rules::axis(&x.shape, a), rules::axis(&x.shape, b));
        Tensor::new(shape, data)
    }

    fn div(&self, x: Tensor, divisor: f64) -> Tensor {
        let d = divisor as f32;
        let Tensor {
            shape, mut data, ..
        } = x;
        let last = shape.last().size.max(1);
        // In place when `x` is not shared (a fresh product); a shared one is copied first.
        let rows = data.as_slice_mut().map(|buf| {
            buf.par_chunks_mut(last)
                .with_min_len(GRAIN / last)
                .map(|row| {
                    row.iter_mut().for_each(|v| *v /= d);
                    summarize(row)
                })
                .collect::<Vec<_>>()
        });
        match rows {
            Some(rows) => Tensor::new(shape, data).with_rows(rows),
            None => {
                data.par_mapv_inplace(|v| v / d);
                Tensor::new(shape, data)
            }
        }
    }

    fn causal_mask(&mut self, seq_len: usize, kv_len: usize, from: usize, causal: bool) -> Tensor {
        let shape = rules::causal_mask(seq_len, kv_len);
        let mut out = Out::zeroed(seq_len * kv_len);
        let end = (from + seq_len).min(kv_len);
        let mut rows = vec![RowSummary::zeros(kv_len); seq_len];
        if causal && kv_len > 0 {
            // Row i: -inf over keys from + i + 1 .. from + seq_len (the buffer is already 0).
            out.par_chunks_mut(kv_len)
                .zip(rows.par_iter_mut())
                .enumerate()
                .with_min_len(GRAIN / kv_len)
                .for_each(|(i, (row, summary))| {
                    let start = (from + i + 1).min(end);
                    row[start..end].fill(f32::NEG_INFINITY);
                    let blocked = end - start;
                    *summary = RowSummary::zeros(kv_len - blocked).merge(RowSummary {
                        len: blocked,
                        neg_inf: blocked,
                        ..RowSummary::default()
                    });
                });
        }
        Tensor::new(shape, out.into_data(&[seq_len, kv_len])).with_rows(rows)
    }

    fn attention_mask(&mut self, rows: &[Vec<u8>], kv_len: usize) -> Tensor {
        let shape = rules::attention_mask(rows.len(), kv_len);
        let data = Array2::from_shape_fn((rows.len(), kv_len), |(b, j)| f32::from(rows[b][j]));
        Tensor::new(shape, data.into_dyn())
    }

    fn padding_bias(&self, mask: &Tensor, fill: f32) -> Tensor {
        let shape = rules::padding_bias(&mask.shape);
        let data: Vec<f32> = contiguous(&mask.data)
            .iter()
            .map(|&m| if m == 0.0 { fill } else { 0.0 })
            .collect();
        Tensor::new(shape.clone(), shared(data, &shape.sizes()))
    }

    fn add(&self, a: &Tensor, b: &Tensor) -> Tensor {
        // b broadcasts against a's trailing axes; the sum is written row by row of a's last axis.
        let src = contiguous(&a.data);
        let sizes = a.shape.sizes();
        let last = sizes.last().copied().unwrap_or(1).max(1);
        let bb = b
            .data
            .broadcast(IxDyn(&sizes))
            .expect("b broadcasts against a");
        let mut out = Out::zeroed(src.len());
        let rows = out
            .par_chunks_mut(last)
            .zip(src.par_chunks(last))
            .enumerate()
            .with_min_len(GRAIN / last)
            .map(|(r, (o, v))| {
                let brow = row_at(&bb, r);
                match brow.as_slice() {
                    // The usual case (a mask row): a plain slice, so the loop vectorises.
                    Some(w) => o
                        .iter_mut()
                        .zip(v.iter().zip(w))
                        .for_each(|(o, (v, w))| *o = v + w),
                    None => o
                        .iter_mut()
                        .zip(v.iter().zip(brow.iter()))
                        .for_each(|(o, (v, w))| *o = v + w),
                }
                summarize(o)
            })
            .collect();
        Tensor::new(a.shape.clone(), out.into_data(&sizes)).with_rows(rows)
    }

    fn softmax(&self, x: &Tensor) -> Tensor {
        let src = contiguous(&x.data);
        let last = x.shape.last().size.max(1);
        let mut out = Out::zeroed(src.len());
        let rows = out
            .par_chunks_mut(last)
            .zip(src.par_chunks(last))
            .with_min_len(GRAIN / last)
            .map(|(o, v)| {
                // The zero tail is summed up without reading it: it was never written.
                let live = softmax_row(v, o);
                summarize(&o[..live]).merge(RowSummary::zeros(last - live))
            })
            .collect();
        Tensor::new(x.shape.clone(), out.into_data(&x.shape.sizes())).with_rows(rows)
    }

    fn matmul(&self, a: &Tensor, b: &Tensor) -> Tensor {
        let shape = rules::matmul(&a.shape, &b.shape);
        let sizes = shape.sizes();
        let r = sizes.len();
        let (m, n) = (sizes[r - 2], sizes[r - 1]);
        // Leading axes of size 1 broadcast, as in PyTorch's batched matmul.
        let lead = &sizes[..r - 2];
        let full = |t: &Tensor| {
            let d = t.data.shape();
            let mut want = lead.to_vec();
            want.extend_from_slice(&d[d.len() - 2..]);
            want
        };
        let (wa, wb) = (full(a), full(b));
        let av = a
            .data
            .broadcast(IxDyn(&wa))
            .expect("a broadcasts over the leading axes");
        let bv = b
            .data
            .broadcast(IxDyn(&wb))
            .expect("b broadcasts over the leading axes");
        let mut out = Out::zeroed(sizes.iter().product());
        if m > 0 && n > 0 {
            // One [m, n] output matrix per leading index: [seq_len, kv_len] · [kv_len, head_dim]
            out.par_chunks_mut(m * n).enumerate().for_each(|(i, om)| {
                let (a2, b2) = (matrix_at(&av, i), matrix_at(&bv, i));
                products(om, m, n, |r0, c| {
                    let a = a2.slice(s![r0..r0 + c.nrows(), ..]);
                    // Causal attention weights end in exact zeros: leave them out of the sum.
                    let k = live_columns(&a, &b2);
                    general_mat_mul(1.0, &a.slice(s![.., ..k]), &b2.slice(s![..k, ..]), 0.0, c);
                });
            });
        }
        Tensor::new(shape, out.into_data(&sizes))
    }
}

/// Fewest rows of a product per task, so that sgemm's packing never dominates.
const MIN_ROWS: usize = 32;
/// Rows per task to aim for in a long product: short blocks let a causal product skip more of
/// its zeros (see [`live_columns`]).
const BLOCK_ROWS: usize = 256;

/// Fills the row-major `[m, n]` matrix `out` in row blocks, in parallel: `f(first_row, block)`
/// writes rows `first_row ..` into `block`. Different blocks give the same numbers as one
/// product would, since each element's sum runs over k in the same order.
fn products(
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
/// when `b`'s rows there are finite (as each output element's sum runs over k in order, the
/// result is the same to the bit). Causal attention weights are zero right of the diagonal, so
/// this halves the weighted sum.
fn live_columns(a: &ArrayView2<f32>, b: &ArrayView2<f32>) -> usize {
    let k = a.ncols();
    let mut live = 0;
    for row in a.rows() {
        let last = match row.as_slice() {
            Some(r) => r.iter().rposition(|&v| v != 0.0),
            None => row.iter().rposition(|&v| v != 0.0),
        };
        live = live.max(last.map_or(0, |j| j + 1));
        if live == k {
            return k;
        }
    }
    if b.slice(s![live.., ..]).iter().all(|v| v.is_finite()) {
        live
    } else {
        k
    }
}

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
    fn zeros(n: usize) -> RowSummary {
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
    for c in chunks {
        let c: &[f32; W] = c.try_into().expect("a chunk of W");
        for l in 0..W {
            let x = c[l];
            let fin = x.abs() < f32::INFINITY; // false for ±inf and NaN
            let f = if fin { x } else { 0.0 };
            min[l] = if fin { min[l].min(f) } else { min[l] };
            max[l] = if fin { max[l].max(f) } else { max[l] };
            sum[l] += f;
            counts[0][l] += u32::from(fin);
            counts[1][l] += u32::from(x == f32::NEG_INFINITY);
            counts[2][l] += u32::from(x.is_nan());
            counts[3][l] += u32::from(f <= PADDED);
        }
    }
    for (l, &x) in tail.iter().enumerate() {
        let fin = x.abs() < f32::INFINITY;
        let f = if fin { x } else { 0.0 };
        min[l] = if fin { min[l].min(f) } else { min[l] };
        max[l] = if fin { max[l].max(f) } else { max[l] };
        sum[l] += f;
        counts[0][l] += u32::from(fin);
        counts[1][l] += u32::from(x == f32::NEG_INFINITY);
        counts[2][l] += u32::from(x.is_nan());
        counts[3][l] += u32::from(f <= PADDED);
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

/// Row `r` (row-major over all but the last axis) of `a`, as a 1-D view.
fn row_at<'a>(a: &ArrayViewD<'a, f32>, r: usize) -> ArrayView1<'a, f32> {
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
fn softmax_row(v: &[f32], out: &mut [f32]) -> usize {
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
fn max_of(v: &[f32]) -> f32 {
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
fn sum_of(v: &[f32]) -> f32 {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between two finite positive floats.
    fn ulps(a: f32, b: f32) -> u32 {
        a.to_bits().abs_diff(b.to_bits())
    }

    #[test]
    fn exp_is_within_two_ulp_of_the_exact_value() {
        let mut worst = 0;
        let mut x = -87.3f32;
        while x < 88.0 {
            let exact = (x as f64).exp() as f32; // rounded once from f64
            worst = worst.max(ulps(exp(x), exact));
            x += 0.000_37;
        }
        assert!(worst <= 2, "worst error {worst} ulp");
    }

    #[test]
    fn exp_edges() {
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(-1e9), 0.0);
        assert_eq!(exp(-100.0), 0.0);
        assert!(exp(f32::NAN).is_nan());
        assert!((exp(1.0) - std::f32::consts::E).abs() <= f32::EPSILON * 3.0);
    }

    #[test]
    fn softmax_row_matches_f64() {
        let v = [
            1.0f32,
            -2.0,
            0.5,
            f32::NEG_INFINITY,
            3.25,
            -7.0,
            0.0,
            2.0,
            1.5,
        ];
        let mut out = [0.0f32; 9];
        softmax_row(&v, &mut out);
        let max = 3.25f64;
        let e: Vec<f64> = v.iter().map(|&x| (x as f64 - max).exp()).collect();
        let sum: f64 = e.iter().sum();
        for (o, e) in out.iter().zip(&e) {
            assert!((*o as f64 - e / sum).abs() < 1e-7, "{o} vs {}", e / sum);
        }
        assert_eq!(out[3], 0.0);
    }

    #[test]
    fn a_causal_tail_is_left_at_zero() {
        let v = [
            0.5f32,
            f32::NEG_INFINITY,
            1.5,
            f32::NEG_INFINITY,
            f32::NEG_INFINITY,
        ];
        let mut out = [0.0f32; 5];
        softmax_row(&v, &mut out);
        // e^(0.5-1.5) / (e^-1 + 1) and 1 / (e^-1 + 1)
        let (a, b) = ((-1.0f64).exp(), 1.0f64);
        let sum = a + b;
        assert!((out[0] as f64 - a / sum).abs() < 1e-7);
        assert!((out[2] as f64 - b / sum).abs() < 1e-7);
        assert_eq!([out[1], out[3], out[4]], [0.0; 3]);
    }

    #[test]
    fn a_row_of_minus_infinity_is_nan_as_in_pytorch() {
        let v = [f32::NEG_INFINITY; 3];
        let mut out = [0.0f32; 3];
        softmax_row(&v, &mut out);
        assert!(out.iter().all(|o| o.is_nan()));
    }

    #[test]
    fn large_outputs_start_on_a_huge_page_and_keep_their_shape() {
        let len = 5 * 320_000; // 6.4 MB: three whole 2 MiB blocks and a part
        set_huge_pages(true);
        let mut out = Out::zeroed(len);
        set_huge_pages(false);
        assert_eq!(out.len(), len);
        assert!(out.iter().all(|&v| v == 0.0));
        if cfg!(target_os = "linux") {
            assert_eq!(out.as_ptr() as usize % HUGE, 0);
        }
        out[len - 1] = 7.0;
        let data = out.into_data(&[5, len / 5]);
        assert_eq!(data.shape(), &[5, len / 5]);
        assert!(data.is_standard_layout());
        assert_eq!(data[[4, len / 5 - 1]], 7.0);
    }

    #[test]
    fn views_of_strided_data_copy_in_row_major_order() {
        // [1, 4, 256, 512] floats (2 MiB), seen as [1, 256, 4, 512], then merged like
        // `output.transpose(1, 2).reshape(bsz, seq_len, -1)`.
        use crate::dims::{Dim, DimName};
        let a = ArrayD::from_shape_fn(IxDyn(&[1, 4, 256, 512]), |i| {
            (i[1] * 1_000_000 + i[2] * 1000 + i[3]) as f32
        });
        let b = Numeric::new(0);
        let t = Tensor::new(
            Shape::new([
                Dim::new(DimName::Bsz, 1),
                Dim::new(DimName::NHeads, 4),
                Dim::new(DimName::SeqLen, 256),
                Dim::new(DimName::HeadDim, 512),
            ]),
            a.clone(),
        );
        let t = b.transpose(&t, 1, 2);
        let merged = Shape::new([
            Dim::new(DimName::Bsz, 1),
            Dim::new(DimName::SeqLen, 256),
            Dim::new(DimName::QFeatures, 4 * 512),
        ]);
        let v = b.view(&t, merged);
        let mut want = a.view();
        want.swap_axes(1, 2);
        let want = want.as_standard_layout().into_owned();
        assert_eq!(v.data.as_slice().unwrap(), want.as_slice().unwrap());
    }

    #[test]
    fn matrix_at_walks_leading_axes_row_major() {
        let a = ArrayD::from_shape_fn(IxDyn(&[2, 3, 2, 2]), |i| {
            (i[0] * 1000 + i[1] * 100 + i[2] * 10 + i[3]) as f32
        });
        let mut t = a.view();
        t.swap_axes(1, 2); // [2, 2, 3, 2], strided
        let t = t.to_owned(); // same logical values, standard layout
        let mut v = a.view();
        v.swap_axes(1, 2);
        for i in 0..4 {
            let (b, h) = (i / 2, i % 2);
            assert_eq!(matrix_at(&v, i), t.slice(s![b, h, .., ..]));
        }
    }
}
