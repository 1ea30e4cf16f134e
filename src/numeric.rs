//! The numeric backend: every operation of [`Backend`] computed in f32 with ndarray, the way
//! PyTorch computes MiniMind's attention on the CPU. Heavy products go through ndarray's
//! matrix multiplication (`dot` / `general_mat_mul`), one `[batch, head]` slice at a time.

use ndarray::{Array2, ArrayD, ArrayView2, Axis, IxDyn, linalg::general_mat_mul};
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::backend::{Backend, HasShape, rules};
use crate::dims::Shape;

/// A tensor of f32 numbers with named axes.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Shape,
    pub data: ArrayD<f32>,
}

impl Tensor {
    /// Pairs data with its named shape; the sizes must agree.
    pub fn new(shape: Shape, data: ArrayD<f32>) -> Self {
        assert_eq!(
            shape.sizes(),
            data.shape(),
            "named shape {shape} does not match the data"
        );
        Tensor { shape, data }
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

/// Views a tensor of rank ≥ 2 as `[rows, last]`, copying only when it is not contiguous.
fn as_matrix(t: &ArrayD<f32>) -> Array2<f32> {
    let last = *t.shape().last().expect("rank ≥ 1");
    let rows = t.len() / last.max(1);
    t.as_standard_layout()
        .into_owned()
        .into_shape_with_order((rows, last))
        .expect("contiguous data reshapes")
}

fn reshape(data: ArrayD<f32>, shape: &Shape) -> ArrayD<f32> {
    data.as_standard_layout()
        .into_owned()
        .into_shape_with_order(IxDyn(&shape.sizes()))
        .expect("the view keeps the element count")
}

/// Applies `f(a_slice, b_slice, out_slice)` for every leading index of rank-4 tensors; a head
/// axis of size 1 broadcasts, as in PyTorch's batched matmul.
fn per_head(
    a: &ArrayD<f32>,
    b: &ArrayD<f32>,
    out_shape: &Shape,
    f: impl Fn(ArrayView2<f32>, ArrayView2<f32>, &mut Array2<f32>),
) -> ArrayD<f32> {
    let sizes = out_shape.sizes();
    let (bsz, heads) = (sizes[0], sizes[1]);
    let mut out = ArrayD::<f32>::zeros(IxDyn(&sizes));
    for bi in 0..bsz {
        for h in 0..heads {
            let a2 = a.slice(ndarray::s![bi, h.min(a.shape()[1] - 1), .., ..]);
            let b2 = b.slice(ndarray::s![bi, h.min(b.shape()[1] - 1), .., ..]);
            let mut c = Array2::<f32>::zeros((sizes[2], sizes[3]));
            f(a2, b2, &mut c);
            out.slice_mut(ndarray::s![bi, h, .., ..]).assign(&c);
        }
    }
    out
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
        let out = rules::linear(&x.shape, &w.shape);
        let x2 = as_matrix(&x.data); // [tokens, in]
        let w2 = w
            .data
            .view()
            .into_dimensionality::<ndarray::Ix2>()
            .expect("weights are [out, in]"); // [out, in]
        let y = x2.dot(&w2.t()); // [tokens, out]
        Tensor::new(out.clone(), reshape(y.into_dyn(), &out))
    }

    fn view(&self, x: &Tensor, shape: Shape) -> Tensor {
        Tensor::new(shape.clone(), reshape(x.data.clone(), &shape))
    }

    fn rms_norm(&self, x: &Tensor, w: &Tensor, eps: f64) -> Tensor {
        let mut data = x.data.as_standard_layout().into_owned();
        let last = Axis(data.ndim() - 1);
        let eps = eps as f32;
        for mut lane in data.lanes_mut(last) {
            let n = lane.len() as f32;
            let mean_sq = lane.iter().map(|v| v * v).sum::<f32>() / n;
            let r = 1.0 / (mean_sq + eps).sqrt();
            for (v, g) in lane.iter_mut().zip(w.data.iter()) {
                *v = g * (*v * r);
            }
        }
        Tensor::new(x.shape.clone(), data)
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
        let mut out = x.data.as_standard_layout().into_owned();
        let half = x.shape.last().size / 2;
        let sizes = x.shape.sizes(); // [bsz, seq_len, heads, head_dim]
        for (b, s, h) in ndarray::indices((sizes[0], sizes[1], sizes[2])) {
            for d in 0..2 * half {
                // rotate_half(x) = cat(-x[half:], x[:half])
                let rotated = if d < half {
                    -x.data[[b, s, h, d + half]]
                } else {
                    x.data[[b, s, h, d - half]]
                };
                out[[b, s, h, d]] =
                    x.data[[b, s, h, d]] * cos.data[[s, d]] + rotated * sin.data[[s, d]];
            }
        }
        Tensor::new(x.shape.clone(), out)
    }

    fn cat_seq(&self, past: Option<&Tensor>, new: &Tensor) -> Tensor {
        let shape = rules::cat_seq(past.map(|p| &p.shape), &new.shape);
        let data = match past {
            None => new.data.clone(),
            Some(p) => ndarray::concatenate(Axis(1), &[p.data.view(), new.data.view()])
                .expect("cache and new keys agree on every axis but 1"),
        };
        Tensor::new(shape, data)
    }

    fn expand_kv(&self, x: &Tensor, n_rep: usize) -> Tensor {
        let expanded = rules::repeat_kv_expanded(&x.shape, n_rep);
        let data = x
            .data
            .view()
            .insert_axis(Axis(3))
            .broadcast(IxDyn(&expanded.sizes()))
            .expect("axis 3 has size 1")
            .to_owned();
        Tensor::new(expanded, data)
    }

    fn transpose(&self, x: &Tensor, a: isize, b: isize) -> Tensor {
        let shape = rules::transpose(&x.shape, a, b);
        let mut data = x.data.clone();
        data.swap_axes(rules::axis(&x.shape, a), rules::axis(&x.shape, b));
        Tensor::new(shape, data)
    }

    fn div(&self, x: &Tensor, divisor: f64) -> Tensor {
        let d = divisor as f32;
        Tensor::new(x.shape.clone(), x.data.mapv(|v| v / d))
    }

    fn causal_mask(&mut self, seq_len: usize, kv_len: usize, from: usize, causal: bool) -> Tensor {
        let shape = rules::causal_mask(seq_len, kv_len);
        let data = Array2::from_shape_fn((seq_len, kv_len), |(i, j)| {
            if causal && j > from + i && j < from + seq_len {
                f32::NEG_INFINITY
            } else {
                0.0
            }
        });
        Tensor::new(shape, data.into_dyn())
    }

    fn attention_mask(&mut self, rows: &[Vec<u8>], kv_len: usize) -> Tensor {
        let shape = rules::attention_mask(rows.len(), kv_len);
        let data = Array2::from_shape_fn((rows.len(), kv_len), |(b, j)| f32::from(rows[b][j]));
        Tensor::new(shape, data.into_dyn())
    }

    fn padding_bias(&self, mask: &Tensor, fill: f32) -> Tensor {
        let shape = rules::padding_bias(&mask.shape);
        let data = mask.data.mapv(|m| if m == 0.0 { fill } else { 0.0 });
        Tensor::new(shape.clone(), reshape(data, &shape))
    }

    fn add(&self, a: &Tensor, b: &Tensor) -> Tensor {
        let data = &a.data + &b.data; // b broadcasts against a's trailing axes
        Tensor::new(a.shape.clone(), data)
    }

    fn softmax(&self, x: &Tensor) -> Tensor {
        let mut data = x.data.as_standard_layout().into_owned();
        let last = Axis(data.ndim() - 1);
        for mut lane in data.lanes_mut(last) {
            let max = lane.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            lane.mapv_inplace(|v| (v - max).exp());
            let sum: f32 = lane.sum();
            lane.mapv_inplace(|v| v / sum);
        }
        Tensor::new(x.shape.clone(), data)
    }

    fn matmul(&self, a: &Tensor, b: &Tensor) -> Tensor {
        let shape = rules::matmul(&a.shape, &b.shape);
        let data = per_head(&a.data, &b.data, &shape, |a2, b2, c| {
            general_mat_mul(1.0, &a2, &b2, 0.0, c); // [seq_len, kv_len] · [kv_len, head_dim]
        });
        Tensor::new(shape, data)
    }
}
