//! The facts of one step as the learner sees it: the configuration's sizes, where the step sits
//! in the sequence, and the selected batch row and head. Stage prose is written from these, so
//! every number in it comes from the run it is shown with.

use super::id::{TensorId, WeightId};
use crate::backend::HasShape;
use crate::config::Config;
use crate::trace::{StepKind, Trace};

/// The numbers a stage's text may use, for one step and one view.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    pub cfg: &'a Config,
    /// 0-based index of the step and how many steps the run has.
    pub step: usize,
    pub steps: usize,
    pub kind: StepKind,
    pub bsz: usize,
    pub seq_len: usize,
    pub past_len: usize,
    pub kv_len: usize,
    pub hidden: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub n_rep: usize,
    pub head_dim: usize,
    /// The selected query head, the KV head it reads, and the selected batch row (0-based).
    pub head: usize,
    pub kv_head: usize,
    pub batch: usize,
    /// The checkpoint this run comes from, if any.
    pub model: Option<&'a crate::trace::ModelInfo>,
    /// The labels of the selected batch row's positions: the configuration's tokens, or a
    /// lesson's labels for this row ([`Facts::with_rows`]).
    pub tokens: Option<&'a [String]>,
    /// Queries of the selected batch row in this call whose visible keys (by MiniMind's causal
    /// and padding masks) are all padding: how many, and the first as (position, its number
    /// of visible keys).
    pub pad_only: usize,
    pub pad_only_first: Option<(usize, usize)>,
    /// Queries of the selected batch row in this call that see a padded key and a real one.
    pub pad_mixed: usize,
    /// Whether every head's weights on those all-padding queries are an even spread, when the
    /// run holds numbers (`None` for shapes alone).
    pub pad_only_even: Option<bool>,
    /// The smallest and largest |weight| of q_norm and k_norm together, when the run has
    /// QK-norm and holds numbers.
    pub norm_weights: Option<(f32, f32)>,
}

impl<'a> Facts<'a> {
    /// The facts of step `step` of `trace` with query head `head` and batch row `batch`
    /// selected (clamped to what exists).
    pub fn of<T: HasShape>(
        trace: &'a Trace<T>,
        step: usize,
        head: usize,
        batch: usize,
    ) -> Facts<'a> {
        let cfg = &trace.config;
        let st = &trace.steps[step];
        let n_rep = cfg.n_rep();
        let head = head.min(cfg.num_attention_heads - 1);
        let batch = batch.min(cfg.batch - 1);
        let (past_len, kv_len) = (st.start_pos, st.kv_len());
        // Which keys each query of the selected row may see, and which of them are padding.
        let mut pad_only = Vec::new();
        let mut pad_mixed = 0;
        if let Some(row) = cfg.attention_mask.as_ref().and_then(|m| m.get(batch)) {
            // Each query sees a prefix of the row, never shorter than the last one's: the pads
            // are counted once along it, so this stays linear in the keys.
            let (mut counted, mut pads) = (0, 0);
            for i in 0..st.seq_len {
                let last = if cfg.causal { past_len + i } else { kv_len - 1 };
                let seen = last.min(row.len() - 1) + 1;
                for &m in &row[counted..seen.max(counted)] {
                    pads += usize::from(m == 0);
                }
                counted = counted.max(seen);
                if pads == seen {
                    pad_only.push((i, seen));
                } else if pads > 0 {
                    pad_mixed += 1;
                }
            }
        }
        let pad_only_even = st.tensor(TensorId::Weights).and_then(|w| {
            let mut even = true;
            for &(i, n) in &pad_only {
                for h in 0..cfg.num_attention_heads {
                    for j in 0..n {
                        let v = w.value_at(&[batch, h, i, j])?;
                        even &= (f64::from(v) - 1.0 / n as f64).abs() < 1e-6;
                    }
                }
            }
            Some(even)
        });
        let norm_weights = [WeightId::QNorm, WeightId::KNorm]
            .iter()
            .filter_map(|&id| trace.weight(id))
            .try_fold(None, |acc: Option<(f32, f32)>, w| {
                (0..cfg.head_dim).try_fold(acc, |acc, d| {
                    let v = w.value_at(&[d])?.abs();
                    Some(Some(acc.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v)))))
                })
            })
            .flatten();
        Facts {
            cfg,
            step,
            steps: trace.steps.len(),
            kind: st.kind,
            bsz: cfg.batch,
            seq_len: st.seq_len,
            past_len,
            kv_len,
            hidden: cfg.hidden_size,
            n_heads: cfg.num_attention_heads,
            n_kv_heads: cfg.num_key_value_heads,
            n_rep,
            head_dim: cfg.head_dim,
            head,
            kv_head: head / n_rep,
            batch,
            model: trace.model.as_ref(),
            tokens: cfg.tokens.as_deref(),
            pad_only: pad_only.len(),
            pad_only_first: pad_only.first().map(|&(i, n)| (past_len + i, n)),
            pad_mixed,
            pad_only_even,
            norm_weights,
        }
    }

    /// These facts with the selected row's labels taken from `rows` (one list of labels per
    /// batch row), when there are labels for that row.
    pub fn with_rows(mut self, rows: Option<&'a [Vec<String>]>) -> Facts<'a> {
        if let Some(row) = rows.and_then(|r| r.get(self.batch)) {
            self.tokens = Some(row);
        }
        self
    }

    /// Whether q_norm and k_norm multiply by 1 everywhere: read from the weights when the run
    /// holds numbers; otherwise random-weight runs start them at 1 and checkpoints train them.
    pub fn norm_weights_one(&self) -> bool {
        match self.norm_weights {
            Some((lo, hi)) => lo == 1.0 && hi == 1.0,
            None => self.model.is_none(),
        }
    }

    /// Whether this is the last step of the run.
    pub fn is_last(&self) -> bool {
        self.step + 1 == self.steps
    }

    /// `1 token`, `3 tokens`.
    pub fn count(n: usize, one: &str, many: &str) -> String {
        format!("{n} {}", if n == 1 { one } else { many })
    }
}
