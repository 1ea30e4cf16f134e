//! Rotary position embedding tables, computed the way MiniMind's `precompute_freqs_cis` does in
//! f32: `inv_freq[i] = 1 / theta^(2i / head_dim)`, `angle = pos · inv_freq`, and the cos / sin
//! of each angle written twice (the two halves, not interleaved); and the rotation itself, one
//! head's vector at a time over contiguous rows.

use ndarray::Array2;

/// `(cos, sin)` for positions `start_pos .. start_pos + seq_len`, each `[seq_len, head_dim]`.
///
/// Every step is done in f32 like PyTorch's float tensors, so large positions round the same
/// way upstream does (an f64 angle would differ from MiniMind's by more than 1e-4 at pos ≈ 10⁴).
pub fn tables(
    start_pos: usize,
    seq_len: usize,
    head_dim: usize,
    theta: f64,
) -> (Array2<f32>, Array2<f32>) {
    let half = head_dim / 2;
    let theta = theta as f32;
    // 1.0 / (rope_base ** (torch.arange(0, dim, 2)[: dim // 2].float() / dim))
    let inv_freq: Vec<f32> = (0..half)
        .map(|i| 1.0 / theta.powf((2 * i) as f32 / head_dim as f32))
        .collect();
    let mut cos = Array2::<f32>::zeros((seq_len, head_dim));
    let mut sin = Array2::<f32>::zeros((seq_len, head_dim));
    for (s, (mut cos_row, mut sin_row)) in
        cos.rows_mut().into_iter().zip(sin.rows_mut()).enumerate()
    {
        let pos = (start_pos + s) as f32;
        for (i, f) in inv_freq.iter().enumerate() {
            let angle = pos * f;
            let (sn, cs) = angle.sin_cos();
            cos_row[i] = cs;
            cos_row[i + half] = cs;
            sin_row[i] = sn;
            sin_row[i + half] = sn;
        }
    }
    (cos, sin)
}

/// `x * cos + rotate_half(x) * sin` for one head's vector `x` (`head_dim` long) at one position,
/// into `out`; `rotate_half(x) = cat(-x[half:], x[:half])`, as MiniMind's `apply_rotary_pos_emb`.
pub fn rotate(x: &[f32], cos: &[f32], sin: &[f32], out: &mut [f32]) {
    let half = x.len() / 2;
    let (lo, hi) = x.split_at(half);
    let (out_lo, out_hi) = out.split_at_mut(half);
    for i in 0..half {
        out_lo[i] = lo[i] * cos[i] + (-hi[i]) * sin[i];
        out_hi[i] = hi[i] * cos[i + half] + lo[i] * sin[i + half];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_zero_is_the_identity_rotation() {
        let (cos, sin) = tables(0, 1, 8, 1e6);
        assert!(cos.iter().all(|&c| c == 1.0));
        assert!(sin.iter().all(|&s| s == 0.0));
    }

    #[test]
    fn frequencies_follow_theta_and_halves_repeat() {
        // head_dim 4, theta 100: inv_freq = [1, 100^(-1/2) = 0.1]
        let (cos, sin) = tables(3, 1, 4, 100.0);
        let expect = [3.0f64.cos(), 0.3f64.cos()];
        for i in 0..2 {
            assert!((cos[[0, i]] as f64 - expect[i]).abs() < 1e-6);
            assert_eq!(cos[[0, i]], cos[[0, i + 2]]);
        }
        assert!((sin[[0, 1]] as f64 - 0.3f64.sin()).abs() < 1e-6);
    }

    #[test]
    fn rotate_turns_each_pair_by_its_angle() {
        // head_dim 4: pairs (x0, x2) and (x1, x3), angles a and b.
        let (a, b) = (0.3f32, 1.1f32);
        let cos = [a.cos(), b.cos(), a.cos(), b.cos()];
        let sin = [a.sin(), b.sin(), a.sin(), b.sin()];
        let x = [1.0, 2.0, 3.0, 4.0];
        let mut out = [0.0; 4];
        rotate(&x, &cos, &sin, &mut out);
        // (x0, x2) rotated by a: (x0 cos a - x2 sin a, x2 cos a + x0 sin a)
        let want = [
            1.0 * a.cos() - 3.0 * a.sin(),
            2.0 * b.cos() - 4.0 * b.sin(),
            3.0 * a.cos() + 1.0 * a.sin(),
            4.0 * b.cos() + 2.0 * b.sin(),
        ];
        for (o, w) in out.iter().zip(want) {
            assert!((o - w).abs() < 1e-6, "{out:?} vs {want:?}");
        }
    }
}
