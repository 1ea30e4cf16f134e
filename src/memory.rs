//! Memory arithmetic: the size of a numeric trace before it is computed (so a run that would not
//! fit is refused with advice instead of exhausting memory), byte sizes in human units, and
//! parsing sizes such as `2GiB` from the command line.

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

/// Parses `4096`, `512MiB`, `2GiB`, `1.5GB` (decimal units are powers of 1000, binary of 1024).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num
        .parse()
        .map_err(|_| format!("'{text}' is not a size; write e.g. 512MiB, 2GiB or 1000000"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "kb" => 1e3,
        "m" | "mib" => 1024.0 * 1024.0,
        "mb" => 1e6,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "gb" => 1e9,
        "t" | "tib" => 1024f64.powi(4),
        "tb" => 1e12,
        other => {
            return Err(format!(
                "unknown size unit '{other}' in '{text}'; use B, KiB, MiB, GiB, TiB (or KB, MB, GB, TB)"
            ));
        }
    };
    Ok((num * mult).round() as u64)
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
    fn parses_sizes() {
        assert_eq!(parse_bytes("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_bytes("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1.5GB").unwrap(), 1_500_000_000);
        assert_eq!(parse_bytes("4096").unwrap(), 4096);
        assert!(parse_bytes("2 lightyears").is_err());
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
