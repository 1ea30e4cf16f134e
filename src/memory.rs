//! Memory arithmetic: how much a numeric run will take before it is computed (so a run that
//! would not fit is refused with advice instead of exhausting memory), the KV cache of a whole
//! model in a chosen dtype, byte sizes in human units, and parsing sizes such as `2GiB` from the
//! command line.
//!
//! Every byte count is a `u128` computed with saturating arithmetic: a size past `u128::MAX`
//! stays at `u128::MAX` (printed as "more than …"), so a total is never smaller than its parts
//! and absurd configurations are reported instead of overflowing.
//!
//! The estimate costs the same at any number of steps. One step is traced with the shapes
//! backend ([`trace_step`]) to learn which tensors a forward call records; each tensor's
//! element count is a product of fixed dimensions and powers of the call's `seq_len` and
//! `kv_len`, so the sum over a run of calls with the same `seq_len` (a prefill, a million
//! decode calls) has a closed form.

use crate::backend::Shapes;
use crate::config::Config;
use crate::dims::{DimName, Shape};
use crate::forward;
use crate::trace::{Step, Weight};

/// Default ceiling for a numeric run (`--max-memory`).
pub const DEFAULT_MAX_MEMORY: u64 = 2 << 30;

/// Bytes per element of the numeric engine, which computes in f32.
const F32_BYTES: u128 = 4;

/// What a numeric run of a configuration is expected to hold at its peak, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Estimate {
    /// The finished trace: the layer's weights and, for every forward call, every tensor it
    /// records, in f32.
    pub trace_bytes: u128,
    /// What the forward pass holds beside the trace while its largest call runs: its own
    /// copy of every tensor that call records (the recorder keeps a copy while the local
    /// stays alive to the end of the call), the KV cache it was handed and the one it
    /// returns, the inputs `x` of every call (drawn up front), and the weights it computes
    /// with (the trace keeps a copy of them too).
    pub working_set_bytes: u128,
}

impl Estimate {
    /// Trace and working set together: the figure the guard compares with `--max-memory`.
    pub fn total(&self) -> u128 {
        self.trace_bytes.saturating_add(self.working_set_bytes)
    }
}

/// Estimates the peak memory of the numeric run of `cfg` in closed form: the cost does not
/// depend on the number of steps beyond one pass over the step list.
pub fn estimate(cfg: &Config) -> Estimate {
    let (weights, probe) = trace_step(cfg, 0);
    let weights = weights
        .iter()
        .fold(0u128, |a, w| a.saturating_add(w.value.numel()));
    let terms: Vec<Term> = probe.tensors().map(|n| Term::of(&n.value)).collect();

    let mut recorded = 0u128;
    let mut largest_call = 0u128;
    for run in runs(&cfg.steps) {
        for t in &terms {
            recorded = recorded.saturating_add(t.sum_over(&run));
        }
        // Every tensor grows with kv_len, so a run's last call is its largest.
        let last = run.count - 1;
        let kv_len = run.kv_len(last) as u128;
        let past_len = kv_len - run.seq_len as u128;
        let call = terms
            .iter()
            .fold(0u128, |a, t| a.saturating_add(t.at(run.seq_len, kv_len)))
            .saturating_add(cache_elements(cfg, past_len.saturating_add(kv_len)));
        largest_call = largest_call.max(call);
    }
    let inputs = (cfg.batch as u128)
        .saturating_mul(cfg.hidden_size as u128)
        .saturating_mul(total_len(&cfg.steps));
    Estimate {
        trace_bytes: weights.saturating_add(recorded).saturating_mul(F32_BYTES),
        working_set_bytes: largest_call
            .saturating_add(inputs)
            .saturating_add(weights)
            .saturating_mul(F32_BYTES),
    }
}

/// Elements of keys and values for `tokens` tokens: `2 · bsz · tokens · n_kv_heads · head_dim`.
fn cache_elements(cfg: &Config, tokens: u128) -> u128 {
    2u128
        .saturating_mul(cfg.batch as u128)
        .saturating_mul(tokens)
        .saturating_mul(cfg.num_key_value_heads as u128)
        .saturating_mul(cfg.head_dim as u128)
}

fn total_len(steps: &[usize]) -> u128 {
    steps
        .iter()
        .fold(0u128, |a, &s| a.saturating_add(s as u128))
}

/// The biggest tensor of the numeric trace of `cfg` (by element count, the first recorded on a
/// tie), with its size in f32: what a refused run would have choked on. Only the first and
/// last call of each run of equal `seq_len` can hold it, as sizes grow with `kv_len`.
pub fn largest_tensor(cfg: &Config) -> (&'static str, Shape, u128) {
    let (_, probe) = trace_step(cfg, 0);
    let terms: Vec<Term> = probe.tensors().map(|n| Term::of(&n.value)).collect();
    let mut best: Option<(u128, usize, usize)> = None; // (elements, call, tensor position)
    for run in runs(&cfg.steps) {
        let mut ends = vec![0, run.count - 1];
        ends.dedup();
        for j in ends {
            let kv_len = run.kv_len(j) as u128;
            for (position, t) in terms.iter().enumerate() {
                let numel = t.at(run.seq_len, kv_len);
                if best.is_none_or(|(b, _, _)| numel > b) {
                    best = Some((numel, run.first + j, position));
                }
            }
        }
    }
    let (numel, call, position) = best.expect("every call records tensors");
    let (_, step) = trace_step(cfg, call);
    let n = step
        .tensors()
        .nth(position)
        .expect("every call records the same tensors");
    (n.name(), n.value.clone(), numel.saturating_mul(F32_BYTES))
}

/// Consecutive forward calls with the same number of new tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    /// 0-based index of its first call.
    pub first: usize,
    /// Calls in the run (at least one).
    pub count: usize,
    /// New tokens in each call.
    pub seq_len: usize,
    /// past_len of its first call.
    pub start_pos: usize,
}

impl Run {
    /// kv_len of the run's `j`-th call (0-based): `start_pos + seq_len · (j + 1)`.
    pub fn kv_len(&self, j: usize) -> usize {
        self.seq_len
            .saturating_mul(j.saturating_add(1))
            .saturating_add(self.start_pos)
    }
}

/// Splits the step list into runs of equal `seq_len`: `[4, 1, 1, 1]` is a run of one 4-token
/// call and a run of three 1-token calls.
pub fn runs(steps: &[usize]) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    let mut start_pos = 0usize;
    for (i, &seq_len) in steps.iter().enumerate() {
        match out.last_mut() {
            Some(run) if run.seq_len == seq_len => run.count += 1,
            _ => out.push(Run {
                first: i,
                count: 1,
                seq_len,
                start_pos,
            }),
        }
        start_pos = start_pos.saturating_add(seq_len);
    }
    out
}

/// Traces forward call `index` of `cfg` alone with the shapes backend and returns the layer's
/// weights and that call, whatever its index, at the cost of at most two calls: the calls
/// before it become one call of the same total length (so the cache it meets holds the same
/// past_len), and the attention mask keeps the columns that call sees. Its shapes are those
/// of call `index` in the full trace.
pub fn trace_step(cfg: &Config, index: usize) -> (Vec<Weight<Shape>>, Step<Shape>) {
    let start_pos = cfg.start_pos(index);
    let seq_len = cfg.steps[index];
    let kv_len = start_pos + seq_len;
    let alone = Config {
        steps: if start_pos == 0 {
            vec![seq_len]
        } else {
            vec![start_pos, seq_len]
        },
        attention_mask: cfg
            .attention_mask
            .as_ref()
            .map(|rows| rows.iter().map(|r| r[..kv_len].to_vec()).collect()),
        tokens: None,
        preset: None,
        ..*cfg
    };
    let mut trace = forward::trace(&alone, &mut Shapes);
    let step = trace.steps.pop().expect("the trace has the call asked for");
    (trace.weights, step)
}

/// One recorded tensor as a function of its call's lengths:
/// `coef · seq_len^seq_pow · kv_len^kv_pow` elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Term {
    coef: u128,
    seq_pow: u32,
    kv_pow: u32,
}

impl Term {
    /// Reads the term off a named shape: `seq_len` and `kv_len` axes vary from call to call,
    /// every other axis is fixed by the configuration.
    fn of(shape: &Shape) -> Term {
        let mut t = Term {
            coef: 1,
            seq_pow: 0,
            kv_pow: 0,
        };
        for d in shape.dims() {
            match d.name {
                DimName::SeqLen => t.seq_pow += 1,
                DimName::KvLen => t.kv_pow += 1,
                _ => t.coef = t.coef.saturating_mul(d.size as u128),
            }
        }
        t
    }

    /// Elements in a call of `seq_len` new tokens and `kv_len` keys.
    fn at(&self, seq_len: usize, kv_len: u128) -> u128 {
        self.coef
            .saturating_mul((seq_len as u128).saturating_pow(self.seq_pow))
            .saturating_mul(kv_len.saturating_pow(self.kv_pow))
    }

    /// Elements over every call of `run`, where call j has kv_len `p + s·(j+1)`:
    /// Σ kv_len⁰ = m, Σ kv_len = m·p + s·m(m+1)/2,
    /// Σ kv_len² = m·p² + 2·p·s·m(m+1)/2 + s²·m(m+1)(2m+1)/6.
    fn sum_over(&self, run: &Run) -> u128 {
        let (m, s, p) = (
            run.count as u128,
            run.seq_len as u128,
            run.start_pos as u128,
        );
        let kv_sum = match self.kv_pow {
            0 => m,
            1 => m
                .saturating_mul(p)
                .saturating_add(s.saturating_mul(triangle(m))),
            2 => m
                .saturating_mul(p.saturating_mul(p))
                .saturating_add(
                    2u128
                        .saturating_mul(p)
                        .saturating_mul(s)
                        .saturating_mul(triangle(m)),
                )
                .saturating_add(s.saturating_mul(s).saturating_mul(square_pyramid(m))),
            // No tensor of the attention has two kv_len axes besides the scores' one; a shape
            // that did would be counted as unbounded, so the guard refuses rather than
            // under-counts.
            _ => u128::MAX,
        };
        self.coef
            .saturating_mul(s.saturating_pow(self.seq_pow))
            .saturating_mul(kv_sum)
    }
}

/// 1 + 2 + … + m, exactly (m < 2⁶⁴, so m·(m+1) fits).
fn triangle(m: u128) -> u128 {
    if m.is_multiple_of(2) {
        (m / 2).saturating_mul(m + 1)
    } else {
        m.saturating_mul(m.div_ceil(2))
    }
}

/// 1² + 2² + … + m² = m(m+1)(2m+1)/6, dividing before multiplying so nothing is lost.
fn square_pyramid(m: u128) -> u128 {
    let mut f = [m, m + 1, 2 * m + 1];
    let even = if f[0].is_multiple_of(2) { 0 } else { 1 };
    f[even] /= 2;
    // m ≡ 0 (mod 3): m is a multiple of 3; m ≡ 1: 2m+1 is; m ≡ 2: m+1 is.
    f[[0, 2, 1][(m % 3) as usize]] /= 3;
    f[0].saturating_mul(f[1]).saturating_mul(f[2])
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

    fn config(spec: crate::config::ConfigSpec) -> Config {
        spec.resolve().unwrap()
    }

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

    #[test]
    fn power_sums_match_their_definitions() {
        for m in 0u128..40 {
            assert_eq!(triangle(m), (1..=m).sum::<u128>(), "m = {m}");
            assert_eq!(
                square_pyramid(m),
                (1..=m).map(|k| k * k).sum::<u128>(),
                "m = {m}"
            );
        }
        // At 2^64 - 1 the sums themselves fit or saturate, never wrap.
        let m = u64::MAX as u128;
        assert_eq!(triangle(m), m * (m / 2 + 1));
        assert_eq!(square_pyramid(m), u128::MAX);
    }

    #[test]
    fn runs_split_the_steps_where_seq_len_changes() {
        let r = runs(&[4, 1, 1, 1, 2, 2, 1]);
        let got: Vec<_> = r
            .iter()
            .map(|r| (r.first, r.count, r.seq_len, r.start_pos))
            .collect();
        assert_eq!(
            got,
            [(0, 1, 4, 0), (1, 3, 1, 4), (4, 2, 2, 7), (6, 1, 1, 11)]
        );
        // The run of 2-token calls: kv_len 9 then 11.
        assert_eq!((r[2].kv_len(0), r[2].kv_len(1)), (9, 11));
    }

    #[test]
    fn a_shape_with_two_kv_len_axes_counts_as_unbounded() {
        let t = Term::of(&crate::shape![(KvLen, 3), (KvLen, 3), (KvLen, 3)]);
        assert_eq!((t.coef, t.kv_pow), (1, 3));
        let run = Run {
            first: 0,
            count: 2,
            seq_len: 1,
            start_pos: 0,
        };
        assert_eq!(t.sum_over(&run), u128::MAX);
    }

    #[test]
    fn largest_tensor_is_the_score_matrix_of_a_long_prefill() {
        let cfg = config(crate::config::ConfigSpec {
            hidden_size: Some(16),
            num_attention_heads: Some(4),
            num_key_value_heads: Some(2),
            seq_len: Some(100),
            ..Default::default()
        });
        let (name, shape, bytes) = largest_tensor(&cfg);
        // scores, scores_masked and weights tie at 4 · 100 · 100; the first recorded is kept.
        assert_eq!(name, "scores");
        assert_eq!(shape.sizes(), [1, 4, 100, 100]);
        assert_eq!(bytes, 4 * 100 * 100 * 4);
    }

    #[test]
    fn a_later_step_alone_has_the_shapes_of_the_full_trace() {
        let cfg = config(crate::config::ConfigSpec {
            steps: Some(vec![3, 2, 1, 1]),
            attention_mask: Some(vec!["0111111".into()]),
            ..Default::default()
        });
        let full = forward::trace(&cfg, &mut Shapes);
        for (i, want) in full.steps.iter().enumerate() {
            let (weights, got) = trace_step(&cfg, i);
            assert_eq!(&got, want, "step {i}");
            assert_eq!(weights, full.weights);
        }
    }

    #[test]
    fn estimate_counts_every_tensor_and_the_working_set() {
        // hidden 4, 2 heads, 1 KV head, head_dim 2, 3 tokens, batch 1, one step, no mask.
        let cfg = config(crate::config::ConfigSpec {
            hidden_size: Some(4),
            num_attention_heads: Some(2),
            num_key_value_heads: Some(1),
            seq_len: Some(3),
            ..Default::default()
        });
        let weights = 4 * 4 + 2 * 4 + 2 * 4 + 4 * 4;
        // x 12, xq/xk/xv_proj 12+6+6, xq/xk/xv_heads 12+6+6, cos/sin 6+6, xq/xk_rope 12+6,
        // xk/xv_cache 6+6, xk/xv_repeat 12+12, xq/xk/xv_t 12+12+12, scores 18, causal_mask 9,
        // scores_masked 18, weights 18, attn_out 12, merged 12, output 12.
        let tensors: u128 = [
            12, 12, 6, 6, 12, 6, 6, 6, 6, 12, 6, 6, 6, 12, 12, 12, 12, 12, 18, 9, 18, 18, 12, 12,
            12,
        ]
        .iter()
        .sum();
        let e = estimate(&cfg);
        assert_eq!(e.trace_bytes, (weights + tensors) * 4);
        // The call's own copies, the new cache (no past) of 2 · 3 tokens · 1 head · 2, the
        // input x (12) and the weights.
        assert_eq!(e.working_set_bytes, (tensors + 12 + 12 + weights) * 4);
        assert_eq!(e.total(), e.trace_bytes + e.working_set_bytes);
    }
}
