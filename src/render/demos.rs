//! Small computations some stage views add to show a claim with numbers instead of asserting
//! it: RoPE's relative-position property (the same query and key rotated to several position
//! pairs, scored with the engine's own tables and rotation) and the effect of dividing the
//! scores by √head_dim (one row softmaxed with and without it, as the engine's softmax does).

use ndarray::{ArrayD, IxDyn};

use crate::backend::Backend;
use crate::numeric::{Numeric, Tensor};
use crate::shape;

/// `v` (one head's `[head_dim]` row) rotated as RoPE rotates a token at position `pos`: the
/// engine's cos/sin table for that position ([`crate::rope::tables`]) and its `apply_rope`.
pub fn rotate(v: &[f32], pos: usize, theta: f64) -> Vec<f32> {
    let hd = v.len();
    let mut engine = Numeric::new(0);
    let (cos, sin) = engine.rope_tables(pos, 1, hd, theta);
    let x = Tensor::new(
        shape![(Bsz, 1), (SeqLen, 1), (NHeads, 1), (HeadDim, hd)],
        ArrayD::from_shape_vec(IxDyn(&[1, 1, 1, hd]), v.to_vec()).expect("hd values"),
    );
    engine.apply_rope(&x, &cos, &sin).to_flat()
}

/// `q·k / √head_dim` with `q` rotated to position m and `k` to position n, for each `(m, n)`
/// of `pairs`: the score a query at m would give a key at n. The dot product is summed in f64
/// so the table shows RoPE's error, not the sum's.
pub fn rope_scores(q: &[f32], k: &[f32], pairs: &[(usize, usize)], theta: f64) -> Vec<f64> {
    let scale = (q.len() as f64).sqrt();
    pairs
        .iter()
        .map(|&(m, n)| {
            let (qm, kn) = (rotate(q, m, theta), rotate(k, n, theta));
            qm.iter()
                .zip(&kn)
                .map(|(a, b)| f64::from(*a) * f64::from(*b))
                .sum::<f64>()
                / scale
        })
        .collect()
}

/// The position pairs the RoPE view scores: the real pair `(m0, n0)` and the same distance
/// shifted by 1, 5 and 10 positions, then the same four shifts at distance `m0 − n0 + 3`.
pub fn rope_pairs(m0: usize, n0: usize) -> Vec<(usize, usize)> {
    let d = m0 - n0;
    [d, d + 3]
        .into_iter()
        .flat_map(|d| [0, 1, 5, 10].map(|s| (n0 + s + d, n0 + s)))
        .collect()
}

/// `F.softmax` of one row, computed the way the engine does: `e^(s − max) / Σ e^(s − max)` in
/// f32 (-∞ gives 0).
pub fn softmax(row: &[f32]) -> Vec<f32> {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = row.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}

/// One row of scaled scores softmaxed as MiniMind does (`with`) and as it would be without the
/// division by √head_dim (`without`: the scores multiplied back by √head_dim first).
pub fn scale_effect(scaled_row: &[f32], head_dim: usize) -> (Vec<f32>, Vec<f32>) {
    let root = (head_dim as f32).sqrt();
    let unscaled: Vec<f32> = scaled_row.iter().map(|v| v * root).collect();
    (softmax(scaled_row), softmax(&unscaled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_by_a_quarter_turn_swaps_the_pair() {
        // head_dim 2: one pair turned by pos·1 radian. At pos 0 nothing moves.
        assert_eq!(rotate(&[1.0, 2.0], 0, 1e4), vec![1.0, 2.0]);
        // At pos 1: (x, y) → (x cos 1 − y sin 1, y cos 1 + x sin 1).
        let r = rotate(&[1.0, 0.0], 1, 1e4);
        assert!((f64::from(r[0]) - 1f64.cos()).abs() < 1e-6);
        assert!((f64::from(r[1]) - 1f64.sin()).abs() < 1e-6);
    }

    #[test]
    fn equal_distances_give_equal_scores() {
        let q = [0.3, -1.2, 0.7, 2.0, -0.4, 0.9, 1.1, -0.6];
        let k = [1.5, 0.2, -0.8, 0.4, 0.6, -1.3, 0.1, 0.9];
        let pairs = rope_pairs(4, 2);
        assert_eq!(pairs[..4], [(4, 2), (5, 3), (9, 7), (14, 12)]);
        assert_eq!(pairs[4], (7, 2));
        let s = rope_scores(&q, &k, &pairs, 1e4);
        for group in s.chunks(4) {
            for v in group {
                assert!((v - group[0]).abs() < 1e-5, "{s:?}");
            }
        }
        // A different distance gives a different score here.
        assert!((s[0] - s[4]).abs() > 1e-3, "{s:?}");
    }

    #[test]
    fn dropping_the_scale_sharpens_the_softmax() {
        let (with, without) = scale_effect(&[1.0, 0.5, f32::NEG_INFINITY], 16);
        // With: e^0 / (e^0 + e^-0.5); without: scores ×4, e^0 / (e^0 + e^-2).
        let e = |x: f64| x.exp();
        assert!((f64::from(with[0]) - 1.0 / (1.0 + e(-0.5))).abs() < 1e-6);
        assert!((f64::from(without[0]) - 1.0 / (1.0 + e(-2.0))).abs() < 1e-6);
        assert_eq!(with[2], 0.0);
        assert_eq!(without[2], 0.0);
    }
}
