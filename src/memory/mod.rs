//! Memory arithmetic: how much a numeric run will take before it is computed (so a run that
//! would not fit is refused with advice instead of exhausting memory, [`estimate`]), the KV
//! cache of a whole model in a chosen dtype, byte sizes in human units, and parsing sizes such
//! as `2GiB` from the command line.
//!
//! Every byte count is a `u128` computed with saturating arithmetic: a size past `u128::MAX`
//! stays at `u128::MAX` (printed as "more than …"), so a total is never smaller than its parts
//! and absurd configurations are reported instead of overflowing.

mod estimate;
mod probe;

pub use estimate::{BASELINE_BYTES, Estimate, Run, estimate, largest_tensor, runs, trace_step};
pub use probe::{Class, Held, Verdicts, probe};

/// Default ceiling for a numeric run (`--max-memory`).
pub const DEFAULT_MAX_MEMORY: u64 = 2 << 30;

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

/// `1536` → `1.5 KiB`; exact below 1 KiB. Past 1024 EiB the EiB count is written in
/// scientific form (`2.95e20 EiB`), and a size that saturated at `u128::MAX` is reported as
/// what it is, a lower bound (`more than 2.95e20 EiB`).
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
    if value >= 1024.0 {
        let text = format!("{value:.2e}");
        let (mantissa, exponent) = text.split_once('e').expect("scientific form has an e");
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        let lead = if bytes == u128::MAX { "more than " } else { "" };
        return format!("{lead}{mantissa}e{exponent} EiB");
    }
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} {}", UNITS[unit])
}

/// `43515904` → `about 41.5 MiB (43515904 bytes)`: an estimate in human units with the exact
/// count, or `more than 2.95e20 EiB` when the count saturated and no exact figure exists.
pub fn approx_bytes(bytes: u128) -> String {
    if bytes == u128::MAX {
        human_bytes(bytes)
    } else {
        format!("about {} ({bytes} bytes)", human_bytes(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(1 << 30), "1 GiB");
        assert_eq!(human_bytes(1 << 60), "1 EiB");
        assert_eq!(human_bytes((1 << 70) - (1 << 60)), "1023 EiB");
        // 2^80 B = 2^20 EiB = 1048576 EiB.
        assert_eq!(human_bytes(1 << 80), "1.05e6 EiB");
        // 2^128 B = 2^68 EiB ≈ 2.95 · 10^20 EiB, and saturated sizes are lower bounds.
        assert_eq!(human_bytes(u128::MAX - 1), "2.95e20 EiB");
        assert_eq!(human_bytes(u128::MAX), "more than 2.95e20 EiB");
        assert_eq!(approx_bytes(2048), "about 2 KiB (2048 bytes)");
        assert_eq!(approx_bytes(u128::MAX), "more than 2.95e20 EiB");
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
        assert_eq!(human_bytes(u128::MAX).split(' ').nth(3), Some("EiB"));
    }
}
