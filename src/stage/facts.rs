//! The facts of one step as the learner sees it: the configuration's sizes, where the step sits
//! in the sequence, and the selected batch row and head. Stage prose is written from these, so
//! every number in it comes from the run it is shown with.

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
}

impl<'a> Facts<'a> {
    /// The facts of step `step` of `trace` with query head `head` and batch row `batch`
    /// selected (clamped to what exists).
    pub fn of<T>(trace: &'a Trace<T>, step: usize, head: usize, batch: usize) -> Facts<'a> {
        let cfg = &trace.config;
        let st = &trace.steps[step];
        let n_rep = cfg.n_rep();
        let head = head.min(cfg.num_attention_heads - 1);
        Facts {
            cfg,
            step,
            steps: trace.steps.len(),
            kind: st.kind,
            bsz: cfg.batch,
            seq_len: st.seq_len,
            past_len: st.start_pos,
            kv_len: st.kv_len(),
            hidden: cfg.hidden_size,
            n_heads: cfg.num_attention_heads,
            n_kv_heads: cfg.num_key_value_heads,
            n_rep,
            head_dim: cfg.head_dim,
            head,
            kv_head: head / n_rep,
            batch: batch.min(cfg.batch - 1),
            model: trace.model.as_ref(),
            tokens: cfg.tokens.as_deref(),
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

    /// Whether this is the last step of the run.
    pub fn is_last(&self) -> bool {
        self.step + 1 == self.steps
    }

    /// `1 token`, `3 tokens`.
    pub fn count(n: usize, one: &str, many: &str) -> String {
        format!("{n} {}", if n == 1 { one } else { many })
    }
}
