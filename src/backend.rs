//! The operations MiniMind's attention is made of, as a trait over the kind of tensor.
//!
//! The forward pass ([`crate::forward`]) is written once against [`Backend`]. Two backends run
//! it: [`crate::numeric::Numeric`] computes every number with ndarray, and [`Shapes`] only
//! follows shapes, so a 70B model at 128k context costs nothing to trace. Both take each
//! output shape from the functions in [`rules`], so `run` and `shapes` cannot disagree.

use crate::dims::{Dim, DimName, Shape};

/// Something with a named shape: a tensor of numbers, or just the shape.
pub trait HasShape {
    fn shape(&self) -> Shape;
    /// The number at `index` (one index per axis), for a tensor that holds numbers; a shape
    /// alone holds none. Lesson text quotes attention weights through this.
    fn value_at(&self, _index: &[usize]) -> Option<f32> {
        None
    }
}

impl HasShape for Shape {
    fn shape(&self) -> Shape {
        self.clone()
    }
}

/// The tensor operations of MiniMind's `Attention.forward`, each named for what the Python does.
pub trait Backend {
    type T: Clone + HasShape;

    /// Weights as `nn.Linear` initialises them: U(-bound, bound).
    fn uniform(&mut self, shape: Shape, bound: f32) -> Self::T;
    /// Input activations: standard normal.
    fn normal(&mut self, shape: Shape) -> Self::T;
    /// `torch.ones(shape)`: RMSNorm's initial weight.
    fn ones(&mut self, shape: Shape) -> Self::T;

    /// `nn.Linear(bias=False)`: `x @ w.T`, w stored `[out_features, in_features]`.
    fn linear(&self, x: &Self::T, w: &Self::T) -> Self::T;
    /// `x.view(...)`: the same elements in row-major order, regrouped into `shape`.
    fn view(&self, x: &Self::T, shape: Shape) -> Self::T;
    /// `RMSNorm`: `w * x * rsqrt(mean(x², -1) + eps)` over the last axis.
    fn rms_norm(&self, x: &Self::T, w: &Self::T, eps: f64) -> Self::T;
    /// `precompute_freqs_cis(...)[start_pos : start_pos + seq_len]`: `(cos, sin)`, each
    /// `[seq_len, head_dim]`.
    fn rope_tables(
        &mut self,
        start_pos: usize,
        seq_len: usize,
        head_dim: usize,
        theta: f64,
    ) -> (Self::T, Self::T);
    /// `x * cos.unsqueeze(1) + rotate_half(x) * sin.unsqueeze(1)` for x `[bsz, seq_len, heads, head_dim]`.
    fn apply_rope(&self, x: &Self::T, cos: &Self::T, sin: &Self::T) -> Self::T;
    /// `torch.cat([past, new], dim=1)`; with no past, `new` itself. Either way axis 1 is the
    /// cache's length, `kv_len`.
    fn cat_seq(&self, past: Option<&Self::T>, new: &Self::T) -> Self::T;
    /// `x[:, :, :, None, :].expand(bsz, kv_len, n_kv_heads, n_rep, head_dim)`, materialised.
    fn expand_kv(&self, x: &Self::T, n_rep: usize) -> Self::T;
    /// `x.transpose(a, b)`; negative axes count from the end, as in PyTorch.
    fn transpose(&self, x: &Self::T, a: isize, b: isize) -> Self::T;
    /// `x / divisor`, elementwise. Takes `x` by value so a fresh product can be divided in place.
    fn div(&self, x: Self::T, divisor: f64) -> Self::T;
    /// `torch.full((seq_len, seq_len), -inf).triu(1)` placed over the `seq_len` columns of a
    /// `[seq_len, kv_len]` matrix that start at column `from` (MiniMind's `[..., -seq_len:]` is
    /// `from = kv_len - seq_len`): -inf where key `from + j` comes after query i (j > i), 0
    /// elsewhere; all 0 when `causal` is false.
    fn causal_mask(&mut self, seq_len: usize, kv_len: usize, from: usize, causal: bool) -> Self::T;
    /// The first `kv_len` columns of the user's 0/1 mask, as `[bsz, kv_len]`.
    fn attention_mask(&mut self, rows: &[Vec<u8>], kv_len: usize) -> Self::T;
    /// `(1.0 - attention_mask.unsqueeze(1).unsqueeze(2)) * fill` for a 0/1 mask: `fill` where
    /// the mask is 0, 0 where it is 1, as `[bsz, 1, 1, kv_len]` (MiniMind's fill is -1e9).
    fn padding_bias(&self, mask: &Self::T, fill: f32) -> Self::T;
    /// `a + b` with `b` broadcast against `a`'s trailing axes; the result has `a`'s shape.
    fn add(&self, a: &Self::T, b: &Self::T) -> Self::T;
    /// `F.softmax(x.float(), dim=-1)`.
    fn softmax(&self, x: &Self::T) -> Self::T;
    /// `a @ b`, batched over the leading axes: `[.., m, k] @ [.., k, n]` → `[.., m, n]`.
    fn matmul(&self, a: &Self::T, b: &Self::T) -> Self::T;
}

/// Output shapes of every operation: the one place shape logic lives.
pub mod rules {
    use super::*;

    pub fn linear(x: &Shape, w: &Shape) -> Shape {
        x.with(x.rank() - 1, w.dim(0))
    }

    pub fn rope_table(seq_len: usize, head_dim: usize) -> Shape {
        Shape::new([
            Dim::new(DimName::SeqLen, seq_len),
            Dim::new(DimName::HeadDim, head_dim),
        ])
    }

    pub fn cat_seq(past: Option<&Shape>, new: &Shape) -> Shape {
        let kv_len = past
            .map_or(0, |p| p.dim(1).size)
            .saturating_add(new.dim(1).size);
        new.with(1, Dim::new(DimName::KvLen, kv_len))
    }

    /// The 5-D intermediate of `repeat_kv`: `[bsz, kv_len, n_kv_heads, n_rep, head_dim]`.
    pub fn repeat_kv_expanded(x: &Shape, n_rep: usize) -> Shape {
        let mut dims = x.dims().to_vec();
        dims.insert(3, Dim::new(DimName::NRep, n_rep));
        Shape(dims)
    }

    /// `repeat_kv`'s result: `[bsz, kv_len, n_kv_heads·n_rep = n_heads, head_dim]`.
    pub fn repeat_kv(x: &Shape, n_rep: usize) -> Shape {
        x.with(
            2,
            Dim::new(DimName::NHeads, x.dim(2).size.saturating_mul(n_rep)),
        )
    }

    /// A PyTorch axis (negative counts from the end) as an index into `x`'s axes.
    pub fn axis(x: &Shape, axis: isize) -> usize {
        let rank = x.rank() as isize;
        let a = if axis < 0 { rank + axis } else { axis };
        assert!(
            (0..rank).contains(&a),
            "axis {axis} of a rank-{rank} tensor"
        );
        a as usize
    }

    pub fn transpose(x: &Shape, a: isize, b: isize) -> Shape {
        x.swapped(axis(x, a), axis(x, b))
    }

    pub fn causal_mask(seq_len: usize, kv_len: usize) -> Shape {
        Shape::new([
            Dim::new(DimName::SeqLen, seq_len),
            Dim::new(DimName::KvLen, kv_len),
        ])
    }

    pub fn attention_mask(bsz: usize, kv_len: usize) -> Shape {
        Shape::new([
            Dim::new(DimName::Bsz, bsz),
            Dim::new(DimName::KvLen, kv_len),
        ])
    }

    pub fn padding_bias(mask: &Shape) -> Shape {
        Shape::new([
            mask.dim(0),
            Dim::new(DimName::One, 1),
            Dim::new(DimName::One, 1),
            mask.dim(1),
        ])
    }

    /// `[.., m, k] @ [.., k, n]` → `[.., m, n]`.
    pub fn matmul(a: &Shape, b: &Shape) -> Shape {
        let r = a.rank();
        a.with(r - 1, b.dim(r - 1))
    }
}

/// The shapes-only backend: every operation returns its output shape and allocates nothing
/// proportional to the tensor sizes.
#[derive(Default)]
pub struct Shapes;

impl Backend for Shapes {
    type T = Shape;

    fn uniform(&mut self, shape: Shape, _bound: f32) -> Shape {
        shape
    }
    fn normal(&mut self, shape: Shape) -> Shape {
        shape
    }
    fn ones(&mut self, shape: Shape) -> Shape {
        shape
    }
    fn linear(&self, x: &Shape, w: &Shape) -> Shape {
        rules::linear(x, w)
    }
    fn view(&self, _x: &Shape, shape: Shape) -> Shape {
        shape
    }
    fn rms_norm(&self, x: &Shape, _w: &Shape, _eps: f64) -> Shape {
        x.clone()
    }
    fn rope_tables(
        &mut self,
        _start: usize,
        seq_len: usize,
        head_dim: usize,
        _t: f64,
    ) -> (Shape, Shape) {
        let s = rules::rope_table(seq_len, head_dim);
        (s.clone(), s)
    }
    fn apply_rope(&self, x: &Shape, _cos: &Shape, _sin: &Shape) -> Shape {
        x.clone()
    }
    fn cat_seq(&self, past: Option<&Shape>, new: &Shape) -> Shape {
        rules::cat_seq(past, new)
    }
    fn expand_kv(&self, x: &Shape, n_rep: usize) -> Shape {
        rules::repeat_kv_expanded(x, n_rep)
    }
    fn transpose(&self, x: &Shape, a: isize, b: isize) -> Shape {
        rules::transpose(x, a, b)
    }
    fn div(&self, x: Shape, _divisor: f64) -> Shape {
        x
    }
    fn causal_mask(&mut self, seq_len: usize, kv_len: usize, _from: usize, _c: bool) -> Shape {
        rules::causal_mask(seq_len, kv_len)
    }
    fn attention_mask(&mut self, rows: &[Vec<u8>], kv_len: usize) -> Shape {
        rules::attention_mask(rows.len(), kv_len)
    }
    fn padding_bias(&self, mask: &Shape, _fill: f32) -> Shape {
        rules::padding_bias(mask)
    }
    fn add(&self, a: &Shape, _b: &Shape) -> Shape {
        a.clone()
    }
    fn softmax(&self, x: &Shape) -> Shape {
        x.clone()
    }
    fn matmul(&self, a: &Shape, b: &Shape) -> Shape {
        rules::matmul(a, b)
    }
}
