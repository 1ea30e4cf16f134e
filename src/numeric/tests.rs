//! Unit tests of the numeric backend against values worked out by hand.

use super::*;
use crate::stage::TensorId;

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

#[test]
fn row_summaries_are_optional_and_change_no_number() {
    let mut cfg = crate::config::ConfigSpec::default().resolve().unwrap();
    cfg.steps = vec![5, 1];
    let with = crate::forward::trace(&cfg, &mut Numeric::new(9));
    let without = crate::forward::trace(&cfg, &mut Numeric::new(9).without_row_summaries());
    let mut summarised = 0;
    for (a, b) in with.steps.iter().zip(&without.steps) {
        for (x, y) in a.tensors().zip(b.tensors()) {
            assert_eq!(x.id, y.id);
            assert_eq!(x.value.data, y.value.data, "{}", x.id);
            let kind = (x.value.rows.is_some(), y.value.rows.is_some());
            // Only the causal mask is summed up by formula either way.
            let expect_without = x.id == TensorId::CausalMask && kind.0;
            assert_eq!(kind.1, expect_without, "{}", x.id);
            summarised += usize::from(kind.0);
        }
    }
    // scores, causal_mask, scores_masked and weights, in each of the two calls.
    assert_eq!(summarised, 8);
}

/// `[1, 1, rows, cols]` tensor of `values`, named like attention weights.
fn weights_like(rows: usize, cols: usize, values: Vec<f32>) -> Tensor {
    let shape = crate::shape![(Bsz, 1), (NHeads, 1), (SeqLen, rows), (KvLen, cols)];
    Tensor::new(shape, shared(values, &[1, 1, rows, cols]))
}

#[test]
fn softmax_notes_each_rows_zero_tail_and_the_weighted_sum_matches_a_full_product() {
    let b = Numeric::new(0);
    let (rows, cols) = (40, 40);
    // Causal scores: row i sees keys 0..=i; the values of key j are (j + 1, -(j + 1) / 2).
    let scores: Vec<f32> = (0..rows * cols)
        .map(|k| match (k / cols, k % cols) {
            (i, j) if j > i => f32::NEG_INFINITY,
            (i, j) => ((i * 7 + j * 3) % 11) as f32 / 4.0,
        })
        .collect();
    let weights = b.softmax(&weights_like(rows, cols, scores));
    let tails: Vec<usize> = weights.zero_tails.as_deref().unwrap().to_vec();
    assert_eq!(tails, (1..=rows).collect::<Vec<_>>());
    let w = weights.to_flat();
    let values = |poison: Option<f32>| {
        let mut v: Vec<f32> = (0..cols)
            .flat_map(|j| [(j + 1) as f32, -((j + 1) as f32) / 2.0])
            .collect();
        if let Some(p) = poison {
            v[2 * (cols - 1)] = p; // the last key, right of every row's diagonal but the last
        }
        let shape = crate::shape![(Bsz, 1), (NHeads, 1), (KvLen, cols), (HeadDim, 2)];
        Tensor::new(shape, shared(v, &[1, 1, cols, 2]))
    };
    let out = b.matmul(&weights, &values(None)).to_flat();
    for i in 0..rows {
        for d in 0..2 {
            let sign = if d == 0 { 1.0 } else { -0.5 };
            let exact: f64 = (0..=i)
                .map(|j| f64::from(w[i * cols + j]) * (j + 1) as f64 * sign)
                .sum();
            assert!((f64::from(out[i * 2 + d]) - exact).abs() < 1e-5, "row {i}");
        }
    }
    // 0 · inf is NaN in PyTorch's product: a row may not skip a key whose value is not finite.
    let poisoned = b.matmul(&weights, &values(Some(f32::INFINITY))).to_flat();
    assert!(poisoned[0].is_nan() && poisoned[2 * (rows - 2)].is_nan());
    assert_eq!(poisoned[1], out[1], "the other column has no infinity");
}

#[test]
fn softmax_of_strided_scores_gathers_rows_and_gives_the_same_bits() {
    let b = Numeric::new(0);
    let (rows, cols) = (6, 9);
    let values: Vec<f32> = (0..rows * cols)
        .map(|k| ((k * 37) % 23) as f32 / 5.0 - 2.0)
        .collect();
    let scores = weights_like(rows, cols, values);
    let strided = b.transpose(&scores, -2, -1); // [.., cols, rows], not standard layout
    assert!(strided.data.as_slice().is_none());
    let copied = Tensor::new(
        strided.shape.clone(),
        to_standard(&strided.data.view()).into_data(&[1, 1, cols, rows]),
    );
    let (a, c) = (b.softmax(&strided), b.softmax(&copied));
    assert_eq!(a.data, c.data);
    // Row j of the strided input is column j of the scores: its weights sum to 1.
    let w = a.to_flat();
    for j in 0..cols {
        let sum: f32 = w[j * rows..(j + 1) * rows].iter().sum();
        assert!((sum - 1.0).abs() < 1e-6, "row {j} sums to {sum}");
    }
}
