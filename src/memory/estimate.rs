//! The guard's estimate of a numeric run's peak memory, in closed form: its cost does not
//! depend on the number of steps beyond one pass over the runs of equal `seq_len`.
//!
//! One step is traced with the shapes backend ([`trace_step`]) to learn which tensors a forward
//! call records; each tensor's element count is a product of fixed dimensions and powers of the
//! call's `seq_len` and `kv_len`, so the sum over a run of calls (a prefill, a million decode
//! calls) has a closed form. Only the tensors that own a buffer count: the numeric engine
//! shares the rest, and a tiny probe of the engine itself ([`super::probe`]) says which.
//!
//! Measured against the peak RSS of `attnstep run --preset minimind2 --stage o_proj` (release
//! build, 2-core VM; the README's Performance section has the table), what is resident at the
//! peak, which is the end of the last call since nothing recorded is freed, is: those buffers;
//! minus the whole pages of the causal zero tails of the attention weights, which the engine
//! allocates zeroed and never writes; plus the row summaries kept beside the square tensors;
//! plus a copy of the largest call's largest row-summary list while it moves into place; plus
//! a fixed process baseline.

use super::probe::{self, Class};
use crate::backend::Shapes;
use crate::bugs::Bug;
use crate::config::Config;
use crate::dims::{Dim, DimName, Shape};
use crate::forward;
use crate::numeric::RowSummary;
use crate::trace::{Step, TensorId, Weight};

/// Bytes per element of the numeric engine, which computes in f32.
const F32_BYTES: u128 = 4;

/// Floats per 4 KiB page. A page of a zeroed buffer that is never written is never resident;
/// where pages are larger, fewer of them are whole and untouched, so the estimate errs high.
const PAGE_FLOATS: u128 = 1024;

/// What the process holds whatever the run's size: the binary's code and data, the C library,
/// the allocator's arenas, rayon's thread stacks, stdout's buffer. Measured: `attnstep run
/// --preset minimind2 --seq-len 1 --stage o_proj` peaks at 10.2 MiB in a release build and
/// 19.1 MiB in a debug build (a larger binary), of which 2.5 MiB are the layer's weights and
/// the trace; the rest, rounded, is this.
pub const BASELINE_BYTES: u128 = if cfg!(debug_assertions) {
    17 << 20
} else {
    8 << 20
};

/// What a numeric run of a configuration is expected to hold at its peak, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Estimate {
    /// Every buffer the finished trace holds, in f32: the layer's weights and each recorded
    /// tensor that owns its data. A tensor that shares a buffer (a view of contiguous data, a
    /// transpose, the KV cache, `repeat_kv` with `n_rep == 1`, the same tensor under two
    /// names) is counted once, with the buffer it shares.
    pub tensor_bytes: u128,
    /// The part of `tensor_bytes` never resident: the whole 4 KiB pages of the exact zeros
    /// right of the diagonal of causal attention weights, which are allocated zeroed and never
    /// written.
    pub untouched_bytes: u128,
    /// The row summaries the engine keeps beside the square tensors (scores, masks, weights):
    /// one `RowSummary` per row of the last axis.
    pub summary_bytes: u128,
    /// What the largest call holds only for a moment: the largest row-summary list is built
    /// and then copied into its shared home.
    pub transient_bytes: u128,
    /// The fixed cost of the process itself ([`BASELINE_BYTES`]).
    pub baseline_bytes: u128,
}

impl Estimate {
    /// What the run itself adds to the process at its peak (everything but the baseline): the
    /// figure the guard compares with `--max-memory`. `u128::MAX` when the tensors' bytes
    /// saturated.
    pub fn total(&self) -> u128 {
        if self.tensor_bytes == u128::MAX {
            return u128::MAX;
        }
        self.tensor_bytes
            .saturating_sub(self.untouched_bytes)
            .saturating_add(self.summary_bytes)
            .saturating_add(self.transient_bytes)
    }

    /// The expected peak RSS of the whole process: [`Estimate::total`] and the baseline.
    pub fn peak_rss(&self) -> u128 {
        self.total().saturating_add(self.baseline_bytes)
    }
}

/// Estimates the peak memory of the numeric run of `cfg` (see the module comment).
pub fn estimate(cfg: &Config) -> Estimate {
    let verdicts = probe::probe(cfg);
    let (weights, step) = trace_step(cfg, 0);
    let mut tensors = weights
        .iter()
        .zip(&verdicts.weights)
        .filter(|(_, fresh)| **fresh)
        .fold(0u128, |a, (w, _)| a.saturating_add(w.value.numel()));
    let recorded: Vec<(TensorId, Term, Term)> = step
        .tensors()
        .map(|n| (n.id, Term::of(n.value.dims()), Term::rows_of(&n.value)))
        .collect();
    let tails = has_causal_tails(cfg);
    let (mut untouched, mut rows, mut largest_rows) = (0u128, 0u128, 0u128);
    for (part, class) in parts(&cfg.steps) {
        for ((id, t, r), held) in recorded.iter().zip(verdicts.call(class)) {
            if held.fresh {
                tensors = tensors.saturating_add(t.sum_over(&part));
                if *id == TensorId::Weights && tails {
                    untouched = untouched.saturating_add(t.untouched_tails(&part));
                }
            }
            if held.rows {
                rows = rows.saturating_add(r.sum_over(&part));
                // Every tensor grows with kv_len, so a part's last call is its largest.
                let last = part.kv_len(part.count - 1) as u128;
                largest_rows = largest_rows.max(r.at(part.seq_len, last));
            }
        }
    }
    let summary = std::mem::size_of::<RowSummary>() as u128;
    Estimate {
        tensor_bytes: tensors.saturating_mul(F32_BYTES),
        untouched_bytes: untouched.saturating_mul(F32_BYTES),
        summary_bytes: rows.saturating_mul(summary),
        transient_bytes: largest_rows.saturating_mul(summary),
        baseline_bytes: BASELINE_BYTES,
    }
}

/// Whether the attention weights end each row in exact zeros left unwritten: causal, with the
/// triangle where MiniMind puts it and the softmax over keys. (Slips that move the triangle or
/// the softmax are counted as if every page were written, which errs high.)
fn has_causal_tails(cfg: &Config) -> bool {
    cfg.causal
        && !matches!(
            cfg.bug,
            Some(Bug::CausalNotOffset | Bug::SoftmaxOverQueries)
        )
}

/// The runs of equal `seq_len`, each split into its first call and the rest, with the class
/// that decides what their tensors share: the first call follows a different `seq_len` (or
/// nothing), the rest follow their own.
fn parts(steps: &[usize]) -> Vec<(Run, Class)> {
    let mut out = Vec::new();
    for run in runs(steps) {
        out.push((Run { count: 1, ..run }, Class::of(steps, run.first)));
        if run.count > 1 {
            let rest = Run {
                first: run.first + 1,
                count: run.count - 1,
                seq_len: run.seq_len,
                start_pos: run.start_pos.saturating_add(run.seq_len),
            };
            out.push((rest, Class::of(steps, rest.first)));
        }
    }
    out
}

/// The biggest tensor of the numeric trace of `cfg` (by element count, the first recorded on a
/// tie), with its size in f32: what a refused run would have choked on. Only the first and
/// last call of each run of equal `seq_len` can hold it, as sizes grow with `kv_len`.
pub fn largest_tensor(cfg: &Config) -> (&'static str, Shape, u128) {
    let (_, probe) = trace_step(cfg, 0);
    let terms: Vec<Term> = probe.tensors().map(|n| Term::of(n.value.dims())).collect();
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
    fn of(dims: &[Dim]) -> Term {
        let mut t = Term {
            coef: 1,
            seq_pow: 0,
            kv_pow: 0,
        };
        for d in dims {
            match d.name {
                DimName::SeqLen => t.seq_pow += 1,
                DimName::KvLen => t.kv_pow += 1,
                _ => t.coef = t.coef.saturating_mul(d.size as u128),
            }
        }
        t
    }

    /// Rows of the last axis of `shape` (the count of row summaries a tensor of it carries).
    fn rows_of(shape: &Shape) -> Term {
        let dims = shape.dims();
        Term::of(&dims[..dims.len().saturating_sub(1)])
    }

    /// Floats of the attention weights (this term, `[bsz, n_heads, seq_len, kv_len]`) in whole
    /// pages never written, over every call of `run`. Row i of a call ends in `seq_len - 1 - i`
    /// zeros whatever the past, and the next row starts with written values, so each row's
    /// zeros are one run of t floats, which holds on average `max(0, t - 1024) / 1024` whole
    /// pages: Σ over t < seq_len of max(0, t - 1024) = triangle(seq_len - 1025) per matrix.
    fn untouched_tails(&self, run: &Run) -> u128 {
        let zeros = triangle((run.seq_len as u128).saturating_sub(PAGE_FLOATS + 1));
        self.coef
            .saturating_mul(run.count as u128)
            .saturating_mul(zeros)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(spec: crate::config::ConfigSpec) -> Config {
        spec.resolve().unwrap()
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
        let t = Term::of(crate::shape![(KvLen, 3), (KvLen, 3), (KvLen, 3)].dims());
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
    fn estimate_counts_each_buffer_once() {
        // hidden 4, 2 heads, 1 KV head (n_rep 2), head_dim 2, batch 1, causal, no mask.
        let cfg = config(crate::config::ConfigSpec {
            hidden_size: Some(4),
            num_attention_heads: Some(2),
            num_key_value_heads: Some(1),
            steps: Some(vec![2, 1]),
            ..Default::default()
        });
        let weights = 4 * 4 + 2 * 4 + 2 * 4 + 4 * 4;
        // Prefill of 2 tokens, own buffers only: x 8, xq/xk/xv_proj 8+4+4, (split heads are
        // views), cos/sin 4+4, xq/xk_rope 8+4, (the cache is the keys and values themselves),
        // xk/xv_repeat 8+8, (transposes are views), scores 8, causal_mask 4, scores_masked 8,
        // weights 8, attn_out 8, merged 8 (a copy of the transposed output), output 8.
        let prefill = 8 + 16 + 8 + 12 + 16 + 8 + 4 + 8 + 8 + 8 + 8 + 8;
        // Decode of 1 token at kv_len 3: x 4, projections 4+2+2, cos/sin 2+2, rope 4+2, the
        // cache now a new buffer 6+6, repeat 12+12, scores 6, mask 3, masked 6, weights 6,
        // attn_out 4, merged nothing (a one-token transpose is already row-major), output 4.
        let decode = 4 + 8 + 4 + 6 + 12 + 24 + 6 + 3 + 6 + 6 + 4 + 4;
        let e = estimate(&cfg);
        assert_eq!(e.tensor_bytes, (weights + prefill + decode) * 4);
        assert_eq!(e.untouched_bytes, 0);
        // Rows of scores, masked scores and weights (2 heads × seq_len) and of the mask.
        let summary = std::mem::size_of::<RowSummary>() as u128;
        assert_eq!(e.summary_bytes, (3 * 2 * 2 + 2 + 3 * 2 + 1) * summary);
        assert_eq!(e.transient_bytes, 4 * summary);
        assert_eq!(
            e.total(),
            e.tensor_bytes + e.summary_bytes + e.transient_bytes
        );
        assert_eq!(e.peak_rss(), e.total() + BASELINE_BYTES);
    }

    #[test]
    fn causal_tails_past_a_page_are_not_resident() {
        // 4 heads, one call of 1100 tokens: row i of each head's weights ends in 1099 - i
        // zeros, and a run of t zeros holds t - 1024 floats of whole pages on average:
        // Σ_{t=1025}^{1099} (t - 1024) = 75 · 76 / 2 = 2850 floats per head.
        let cfg = config(crate::config::ConfigSpec {
            seq_len: Some(1100),
            ..Default::default()
        });
        assert_eq!(estimate(&cfg).untouched_bytes, 4 * 2850 * 4);
        let open = config(crate::config::ConfigSpec {
            seq_len: Some(1100),
            causal: Some(false),
            ..Default::default()
        });
        assert_eq!(estimate(&open).untouched_bytes, 0);
    }
}
