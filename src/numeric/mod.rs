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

use ndarray::{Array2, ArrayD, ArrayView2, Axis, Ix2, IxDyn, linalg::general_mat_mul, s};
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use std::sync::Arc;

use crate::backend::{Backend, HasShape, rules};
use crate::dims::Shape;

mod buffers;
mod kernels;
mod summary;

use buffers::*;
pub use buffers::{Data, set_huge_pages};
use kernels::*;
pub use kernels::{exp, set_threads, threads};
pub use summary::{PADDED, RowSummary, summarize};

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
    /// For each row of the last axis (row-major), how many leading elements may be non-zero:
    /// every element past that is exactly 0. Kept by softmax, whose causal rows end in zeros
    /// it never wrote, so the weighted sum can leave them out without reading them.
    pub zero_tails: Option<Arc<[usize]>>,
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
            zero_tails: None,
        }
    }

    /// With the summary of each row of its standard-layout data, when the backend keeps them.
    fn with_rows(mut self, rows: Option<Vec<RowSummary>>) -> Self {
        if let Some(rows) = rows {
            debug_assert!(self.data.is_standard_layout());
            debug_assert_eq!(rows.len() * self.shape.last().size, self.data.len());
            self.rows = Some(rows.into());
        }
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

/// Computes with numbers. Random tensors come from a Xoshiro256++ stream seeded with the
/// config's seed: portable, so a seed gives the same numbers on every machine and release.
pub struct Numeric {
    rng: Xoshiro256PlusPlus,
    /// Sum up each row of the square tensors as it is written (see [`Tensor::rows`]): worth it
    /// when a stepper may show any slice; a printed run scans only the slices it shows.
    summaries: bool,
}

impl Numeric {
    pub fn new(seed: u64) -> Self {
        Numeric {
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            summaries: true,
        }
    }

    /// The same backend without row summaries: the numbers are the same, the tensors carry no
    /// [`Tensor::rows`], and a viewer scans what it shows.
    pub fn without_row_summaries(mut self) -> Self {
        self.summaries = false;
        self
    }
}

/// The row summaries when every row has one. Collected only after every row is written: a
/// parallel collect into `Option` stops at the first `None` and would leave rows unwritten.
fn all_or_none(rows: Vec<Option<RowSummary>>) -> Option<Vec<RowSummary>> {
    rows.into_iter().collect()
}

/// Elements per parallel task for elementwise work: enough that scheduling costs nothing.
const GRAIN: usize = 1 << 14;

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
        let keep = self.summaries;
        // In place when `x` is not shared (a fresh product); a shared one is copied first.
        let rows = data.as_slice_mut().map(|buf| {
            buf.par_chunks_mut(last)
                .with_min_len(GRAIN / last)
                .map(|row| {
                    row.iter_mut().for_each(|v| *v /= d);
                    keep.then(|| summarize(row))
                })
                .collect::<Vec<_>>()
        });
        match rows {
            Some(rows) => Tensor::new(shape, data).with_rows(all_or_none(rows)),
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
        Tensor::new(shape, out.into_data(&[seq_len, kv_len])).with_rows(Some(rows))
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
        let keep = self.summaries;
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
                keep.then(|| summarize(o))
            })
            .collect();
        Tensor::new(a.shape.clone(), out.into_data(&sizes)).with_rows(all_or_none(rows))
    }

    fn softmax(&self, x: &Tensor) -> Tensor {
        let keep = self.summaries;
        let last = x.shape.last().size.max(1);
        let len = x.data.len();
        let mut out = Out::zeroed(len);
        let mut live = vec![0; len / last];
        // One row `v` into `o`: the zero tail is summed up without reading it (never written).
        let row = |v: &[f32], o: &mut [f32], live: &mut usize| {
            *live = softmax_row(v, o);
            keep.then(|| summarize(&o[..*live]).merge(RowSummary::zeros(last - *live)))
        };
        let rows = match x.data.as_slice() {
            Some(src) => out
                .par_chunks_mut(last)
                .zip(src.par_chunks(last))
                .zip(live.par_iter_mut())
                .with_min_len(GRAIN / last)
                .map(|((o, v), live)| row(v, o, live))
                .collect(),
            // Strided scores (a slip's transpose): each row is gathered into a small buffer, so
            // no copy of the whole tensor is ever held next to the trace.
            None => {
                let view = x.data.view();
                out.par_chunks_mut(last)
                    .zip(live.par_iter_mut())
                    .enumerate()
                    .with_min_len(GRAIN / last)
                    .map_init(Vec::new, |buf, (r, (o, live))| {
                        buf.clear();
                        buf.extend(row_at(&view, r).iter());
                        row(buf, o, live)
                    })
                    .collect()
            }
        };
        let mut weights = Tensor::new(x.shape.clone(), out.into_data(&x.shape.sizes()))
            .with_rows(all_or_none(rows));
        weights.zero_tails = Some(live.into());
        weights
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
        // The zero tails `a`'s rows are known to end in, when `a` is not broadcast.
        let tails = a.zero_tails.as_deref().filter(|_| wa == a.data.shape());
        let mut out = Out::zeroed(sizes.iter().product());
        if m > 0 && n > 0 {
            // One [m, n] output matrix per leading index: [seq_len, kv_len] · [kv_len, head_dim]
            out.par_chunks_mut(m * n).enumerate().for_each(|(i, om)| {
                let (a2, b2) = (matrix_at(&av, i), matrix_at(&bv, i));
                let finite_from = finite_rows_from(&b2);
                products(om, m, n, |r0, c| {
                    let a = a2.slice(s![r0..r0 + c.nrows(), ..]);
                    // Causal attention weights end in exact zeros: leave them out of the sum.
                    let live = match tails {
                        Some(t) => t[i * m + r0..i * m + r0 + c.nrows()].iter().copied().max(),
                        None => live_columns(&a),
                    };
                    let k = live.unwrap_or(0).max(finite_from);
                    general_mat_mul(1.0, &a.slice(s![.., ..k]), &b2.slice(s![..k, ..]), 0.0, c);
                });
            });
        }
        Tensor::new(shape, out.into_data(&sizes))
    }
}

#[cfg(test)]
mod tests;
