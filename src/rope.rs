//! Rotary position embedding tables, computed the way MiniMind's `precompute_freqs_cis` does in
//! f32: `inv_freq[i] = 1 / theta^(2i / head_dim)`, `angle = pos · inv_freq`, and the cos / sin
//! of each angle written twice (the two halves, not interleaved).

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
    for s in 0..seq_len {
        let pos = (start_pos + s) as f32;
        for (i, f) in inv_freq.iter().enumerate() {
            let angle = pos * f;
            let (sn, cs) = angle.sin_cos();
            cos[[s, i]] = cs;
            cos[[s, i + half]] = cs;
            sin[[s, i]] = sn;
            sin[[s, i + half]] = sn;
        }
    }
    (cos, sin)
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
}
