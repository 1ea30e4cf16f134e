//! Which recorded tensors own a buffer of their own, asked of the numeric engine itself.
//!
//! The numeric engine shares buffers: recording a tensor, a view of contiguous data, a
//! transpose, `repeat_kv` with `n_rep == 1` and the KV cache of a first call are reference
//! counts, not copies. Whether an operation copies depends only on the layout of its input
//! (row-major or strided), and a layout differs between two configurations only where an axis
//! has size 1 in one and not in the other (ndarray ignores the strides of such axes). So a
//! tiny run with every size mapped to `min(size, 2)` shares exactly where the real run does;
//! the probe runs one, and calls a recorded tensor fresh when its data's address range is not
//! inside a buffer seen before it in the trace. Every recorded tensor is alive when the probe
//! looks, so no address is reused between two of them.
//!
//! A call's layouts depend on its own `seq_len` (1 or more), on whether a cache came before it
//! and on the previous call's `seq_len`; a [`Class`] names that, and the probe's step list
//! holds every class the real step list has (at most five calls in all, whatever the number of
//! steps), so its cost does not grow with the run.

use std::collections::HashMap;

use crate::config::Config;
use crate::forward;
use crate::numeric::{Numeric, Tensor};

/// What decides the layouts of a forward call: its `seq_len` capped at 2, and the previous
/// call's (`None` for the first call, which meets no cache).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Class {
    pub seq: usize,
    pub prev: Option<usize>,
}

impl Class {
    /// The class of call `index` of a step list.
    pub fn of(steps: &[usize], index: usize) -> Class {
        Class {
            seq: steps[index].min(2),
            prev: index.checked_sub(1).map(|p| steps[p].min(2)),
        }
    }
}

/// What one recorded tensor of a call holds that nothing recorded before it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Held {
    /// Its data is a buffer of its own (not a view, transpose or clone of an earlier one).
    pub fresh: bool,
    /// It carries row summaries of its own (the square score and weight tensors).
    pub rows: bool,
}

/// The probe's verdicts: for each weight and, per call class, each recorded tensor in the
/// order the forward pass records them.
#[derive(Clone, Debug)]
pub struct Verdicts {
    pub weights: Vec<bool>,
    calls: HashMap<Class, Vec<Held>>,
}

impl Verdicts {
    /// The verdicts for a call of class `c`; every class of the configuration was probed.
    pub fn call(&self, c: Class) -> &[Held] {
        &self.calls[&c]
    }
}

/// Probes the numeric engine with a shrunken copy of `cfg` (see the module comment). A slip
/// that makes the forward pass impossible (the plan refuses it before any run) is probed
/// without the slip, so the estimate never panics.
pub fn probe(cfg: &Config) -> Verdicts {
    let steps = probe_steps(&cfg.steps);
    let mut small = shrink(cfg, steps.clone());
    if crate::bugs::shape_error(&small).is_some() {
        small.bug = None;
    }
    let trace = forward::trace(&small, &mut Numeric::new(cfg.seed));
    let mut seen = Seen::default();
    let weights = trace.weights.iter().map(|w| seen.data(&w.value)).collect();
    let mut calls = HashMap::new();
    for (i, step) in trace.steps.iter().enumerate() {
        let held: Vec<Held> = step
            .tensors()
            .map(|n| Held {
                fresh: seen.data(&n.value),
                rows: seen.rows(&n.value),
            })
            .collect();
        calls.entry(Class::of(&steps, i)).or_insert(held);
    }
    Verdicts { weights, calls }
}

/// A step list over {1, 2} that starts like `steps` and has every (previous, this) pair of
/// capped `seq_len`s that `steps` has: at most 1 + 2·4 calls.
fn probe_steps(steps: &[usize]) -> Vec<usize> {
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for w in steps.windows(2) {
        let pair = (w[0].min(2), w[1].min(2));
        if !pairs.contains(&pair) {
            pairs.push(pair);
        }
    }
    let mut out = vec![steps[0].min(2)];
    for (prev, seq) in pairs {
        if out.windows(2).any(|w| (w[0], w[1]) == (prev, seq)) {
            continue;
        }
        if out.last() != Some(&prev) {
            out.push(prev);
        }
        out.push(seq);
    }
    out
}

/// `cfg` with every size capped at 2 (head_dim at 2, its smallest valid value), the heads
/// keeping whether they are 1 and whether `n_rep` is, and an all-ones mask if it had one.
fn shrink(cfg: &Config, steps: Vec<usize>) -> Config {
    let kv_heads = cfg.num_key_value_heads.min(2);
    let batch = cfg.batch.min(2);
    let total: usize = steps.iter().sum();
    Config {
        hidden_size: cfg.hidden_size.min(2),
        num_attention_heads: kv_heads * cfg.n_rep().min(2),
        num_key_value_heads: kv_heads,
        head_dim: 2,
        batch,
        steps,
        attention_mask: cfg
            .attention_mask
            .as_ref()
            .map(|_| vec![vec![1; total]; batch]),
        tokens: None,
        preset: None,
        ..cfg.clone()
    }
}

/// The buffers and row summaries seen so far, as address ranges.
#[derive(Default)]
struct Seen {
    buffers: Vec<(usize, usize)>,
    rows: Vec<usize>,
}

impl Seen {
    /// Whether `t`'s data lies outside every buffer seen so far; remembers it.
    fn data(&mut self, t: &Tensor) -> bool {
        let start = t.data.as_ptr() as usize;
        let end = start + std::mem::size_of_val(&0f32) * t.data.len();
        let inside = self.buffers.iter().any(|&(s, e)| s <= start && end <= e);
        if !inside {
            self.buffers.push((start, end));
        }
        !inside && !t.data.is_empty()
    }

    /// Whether `t` carries row summaries not seen so far; remembers them.
    fn rows(&mut self, t: &Tensor) -> bool {
        let Some(rows) = &t.rows else { return false };
        let at = rows.as_ptr() as usize;
        let fresh = !self.rows.contains(&at);
        if fresh {
            self.rows.push(at);
        }
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_steps_cover_every_pair() {
        assert_eq!(probe_steps(&[512]), [2]);
        assert_eq!(probe_steps(&[1]), [1]);
        assert_eq!(probe_steps(&[4, 1, 1, 1]), [2, 1, 1]);
        assert_eq!(probe_steps(&[4, 3, 1, 5, 1]), [2, 2, 1, 2]);
        assert_eq!(probe_steps(&[1, 1, 7]), [1, 1, 2]);
    }

    #[test]
    fn a_minimind2_prefill_shares_views_transposes_and_the_cache() {
        // 8 heads, 2 KV heads (n_rep 4), no QK-norm, causal, no mask.
        let cfg = crate::config::ConfigSpec {
            preset: Some("minimind2".into()),
            seq_len: Some(6),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        let v = probe(&cfg);
        assert_eq!(v.weights, [true; 4]);
        let fresh: Vec<bool> = v
            .call(Class { seq: 2, prev: None })
            .iter()
            .map(|h| h.fresh)
            .collect();
        // x; xq/xk/xv projected; split heads (views); cos, sin, xq/xk after RoPE; the cache
        // (the keys and values themselves); repeat_kv (fresh: n_rep 4); transposes; scores;
        // causal mask; masked scores, weights; attention output; merged heads (a copy of the
        // transposed output); o_proj.
        let want = [
            true, true, true, true, false, false, false, true, true, true, true, false, false,
            true, true, false, false, false, true, true, true, true, true, true, true,
        ];
        assert_eq!(fresh, want);
    }
}
