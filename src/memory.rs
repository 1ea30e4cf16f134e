//! Memory arithmetic: the size of a numeric trace before it is computed (so a run that would not
//! fit is refused with advice instead of exhausting memory), the KV cache of a whole model in a
//! chosen dtype, and byte sizes in human units. Every byte count is a `u128` computed with
//! saturating arithmetic, so absurd sizes are reported instead of overflowing.

use crate::backend::Shapes;
use crate::config::Config;
use crate::forward;

/// Default ceiling for a numeric trace (`--max-memory`).
pub const DEFAULT_MAX_MEMORY: u64 = 2 << 30;

/// Bytes the numeric trace of `cfg` will hold: every recorded tensor and weight in f32.
/// Worked out on the shapes-only trace, so it costs nothing and agrees with the real run.
pub fn numeric_trace_bytes(cfg: &Config) -> u128 {
    let shapes = forward::trace(cfg, &mut Shapes);
    let weights: u128 = shapes.weights.iter().map(|n| n.value.numel()).sum();
    let tensors: u128 = shapes
        .steps
        .iter()
        .flat_map(|s| s.tensors())
        .map(|n| n.value.numel())
        .sum();
    (weights + tensors).saturating_mul(4)
}

/// The element type the tensors are stored in, for byte counts (`--dtype`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    F32,
    Bf16,
    F16,
    Fp8,
    Int8,
}

impl Dtype {
    /// Bytes per element.
    pub fn bytes(self) -> u128 {
        match self {
            Dtype::F32 => 4,
            Dtype::Bf16 | Dtype::F16 => 2,
            Dtype::Fp8 | Dtype::Int8 => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::Bf16 => "bf16",
            Dtype::F16 => "f16",
            Dtype::Fp8 => "fp8",
            Dtype::Int8 => "int8",
        }
    }
}

impl std::fmt::Display for Dtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The KV cache of a model: keys and values after RoPE, `[bsz, kv_len, n_kv_heads, head_dim]`
/// each, in every layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KvCache {
    pub num_key_value_heads: usize,
    pub head_dim: usize,
    /// Tokens held (the final kv_len).
    pub tokens: usize,
    pub batch: usize,
    pub layers: usize,
    pub dtype_bytes: u128,
    /// `2 · n_kv_heads · head_dim · bytes`: one token's key and value in one layer.
    pub bytes_per_token_per_layer: u128,
    /// One layer, every token of every batch row.
    pub bytes_per_layer: u128,
    /// Every layer.
    pub bytes_all_layers: u128,
}

/// Works out the KV cache of `layers` layers holding `tokens` tokens for `batch` sequences.
pub fn kv_cache(
    num_key_value_heads: usize,
    head_dim: usize,
    tokens: usize,
    batch: usize,
    layers: usize,
    dtype: Dtype,
) -> KvCache {
    let per_token = 2u128
        .saturating_mul(num_key_value_heads as u128)
        .saturating_mul(head_dim as u128)
        .saturating_mul(dtype.bytes());
    let per_layer = per_token
        .saturating_mul(tokens as u128)
        .saturating_mul(batch as u128);
    KvCache {
        num_key_value_heads,
        head_dim,
        tokens,
        batch,
        layers,
        dtype_bytes: dtype.bytes(),
        bytes_per_token_per_layer: per_token,
        bytes_per_layer: per_layer,
        bytes_all_layers: per_layer.saturating_mul(layers as u128),
    }
}

/// The biggest tensor of the numeric trace of `cfg` (by element count, the first recorded on a
/// tie), with its size in f32: what a refused run would have choked on.
pub fn largest_tensor(cfg: &Config) -> (&'static str, crate::dims::Shape, u128) {
    let shapes = forward::trace(cfg, &mut Shapes);
    shapes
        .steps
        .iter()
        .flat_map(|s| s.tensors())
        .min_by_key(|n| std::cmp::Reverse(n.value.numel()))
        .map(|n| (n.name, n.value.clone(), n.value.numel().saturating_mul(4)))
        .expect("every step records tensors")
}

/// `1536` → `1.5 KiB`; exact below 1 KiB.
pub fn human_bytes(bytes: u128) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(1 << 30), "1 GiB");
    }

    #[test]
    fn kv_cache_by_hand() {
        // Llama-3-8B in bf16 at 8192 tokens: 2 · 8 · 128 · 2 B = 4096 B per token per layer;
        // × 8192 tokens = 32 MiB per layer; × 32 layers = 1 GiB.
        let kv = kv_cache(8, 128, 8192, 1, 32, Dtype::Bf16);
        assert_eq!(kv.bytes_per_token_per_layer, 4096);
        assert_eq!(kv.bytes_per_layer, 32 << 20);
        assert_eq!(kv.bytes_all_layers, 1 << 30);
        // Sizes far past u64 saturate instead of overflowing.
        let huge = kv_cache(
            usize::MAX,
            usize::MAX,
            usize::MAX,
            usize::MAX,
            80,
            Dtype::F32,
        );
        assert_eq!(huge.bytes_all_layers, u128::MAX);
        assert_eq!(human_bytes(u128::MAX).split(' ').nth(1), Some("EiB"));
    }

    #[test]
    fn largest_tensor_is_the_score_matrix_of_a_long_prefill() {
        let cfg = crate::config::ConfigSpec {
            hidden_size: Some(16),
            num_attention_heads: Some(4),
            num_key_value_heads: Some(2),
            seq_len: Some(100),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        let (name, shape, bytes) = largest_tensor(&cfg);
        // scores, scores_masked and weights tie at 4 · 100 · 100; the first recorded is kept.
        assert_eq!(name, "scores");
        assert_eq!(shape.sizes(), [1, 4, 100, 100]);
        assert_eq!(bytes, 4 * 100 * 100 * 4);
    }

    #[test]
    fn trace_estimate_counts_every_tensor() {
        // hidden 4, 2 heads, 1 KV head, head_dim 2, 3 tokens, batch 1, one step, no mask.
        let cfg = crate::config::ConfigSpec {
            hidden_size: Some(4),
            num_attention_heads: Some(2),
            num_key_value_heads: Some(1),
            seq_len: Some(3),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        let weights = 4 * 4 + 2 * 4 + 2 * 4 + 4 * 4;
        // x, xq_proj, xk_proj, xv_proj, xq/xk/xv_heads, cos, sin, xq/xk_rope, xk/xv_cache,
        // xk/xv_repeat, xq/xk/xv_t, scores, causal_mask, scores_masked, weights, attn_out,
        // merged, output
        let tensors = 12
            + 12
            + 6
            + 6
            + 12
            + 6
            + 6
            + 6
            + 6
            + 12
            + 6
            + 6
            + 6
            + 12
            + 12
            + 12
            + 12
            + 12
            + 18
            + 9
            + 18
            + 18
            + 12
            + 12
            + 12;
        assert_eq!(numeric_trace_bytes(&cfg), (weights + tensors) * 4);
    }
}
