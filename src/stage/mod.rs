//! The stage descriptor: what each stage of MiniMind's `Attention.forward` is, written once.
//!
//! A stage's title, the MiniMind line it mirrors, the tensors it writes (each with the tensor it
//! is made from and the Python expression that makes it), what else it reads, which weights it
//! uses, whether it changes a shape, how its numbers are shown and its explanation all live in
//! one [`StageSpec`] entry of [`SPECS`]. The forward pass records tensors in the order the entry
//! lists them; rendering, the quiz, the shape tables and export read the entry. Tensors are
//! named by [`TensorId`]; their strings appear only where a trace is written or read as text.
//!
//! Adding a stage: a [`StageId`] variant, its [`StageSpec`] entry (with its prose in
//! [`prose`]), and the lines in `forward.rs` that compute and record it.

pub mod concepts;
pub mod condition;
pub mod facts;
pub mod prose;
mod specs;
pub mod template;

pub use facts::Facts;

/// The stages of one forward call, in MiniMind's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StageId {
    /// Only with a checkpoint: the hidden state entering the chosen layer.
    Source,
    Input,
    Project,
    SplitHeads,
    QkNorm,
    Rope,
    KvCache,
    RepeatKv,
    Transpose,
    Scores,
    CausalMask,
    PaddingMask,
    Softmax,
    WeightedSum,
    MergeHeads,
    OProj,
    /// Only with a checkpoint, last call: what the whole model predicts next.
    Predict,
}

/// Every tensor a step records, by role. `name()` is the export name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TensorId {
    HiddenIn,
    X,
    XqProj,
    XkProj,
    XvProj,
    XqHeads,
    XkHeads,
    XvHeads,
    XqNorm,
    XkNorm,
    Cos,
    Sin,
    XqRope,
    XkRope,
    XkCache,
    XvCache,
    XkRepeat,
    XvRepeat,
    XqT,
    XkT,
    XvT,
    Scores,
    CausalMask,
    AttentionMask,
    PaddingMask,
    ScoresMasked,
    Weights,
    AttnOut,
    Merged,
    Output,
}

/// The attention layer's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WeightId {
    QProj,
    KProj,
    VProj,
    OProj,
    QNorm,
    KNorm,
}

impl WeightId {
    pub const ALL: [WeightId; 6] = [
        WeightId::QProj,
        WeightId::KProj,
        WeightId::VProj,
        WeightId::OProj,
        WeightId::QNorm,
        WeightId::KNorm,
    ];

    pub fn name(self) -> &'static str {
        match self {
            WeightId::QProj => "q_proj",
            WeightId::KProj => "k_proj",
            WeightId::VProj => "v_proj",
            WeightId::OProj => "o_proj",
            WeightId::QNorm => "q_norm",
            WeightId::KNorm => "k_norm",
        }
    }
}

impl TensorId {
    pub const ALL: [TensorId; 30] = [
        TensorId::HiddenIn,
        TensorId::X,
        TensorId::XqProj,
        TensorId::XkProj,
        TensorId::XvProj,
        TensorId::XqHeads,
        TensorId::XkHeads,
        TensorId::XvHeads,
        TensorId::XqNorm,
        TensorId::XkNorm,
        TensorId::Cos,
        TensorId::Sin,
        TensorId::XqRope,
        TensorId::XkRope,
        TensorId::XkCache,
        TensorId::XvCache,
        TensorId::XkRepeat,
        TensorId::XvRepeat,
        TensorId::XqT,
        TensorId::XkT,
        TensorId::XvT,
        TensorId::Scores,
        TensorId::CausalMask,
        TensorId::AttentionMask,
        TensorId::PaddingMask,
        TensorId::ScoresMasked,
        TensorId::Weights,
        TensorId::AttnOut,
        TensorId::Merged,
        TensorId::Output,
    ];

    /// The export name (`xq_proj`, `scores`, …).
    pub fn name(self) -> &'static str {
        use TensorId::*;
        match self {
            HiddenIn => "hidden_in",
            X => "x",
            XqProj => "xq_proj",
            XkProj => "xk_proj",
            XvProj => "xv_proj",
            XqHeads => "xq_heads",
            XkHeads => "xk_heads",
            XvHeads => "xv_heads",
            XqNorm => "xq_norm",
            XkNorm => "xk_norm",
            Cos => "cos",
            Sin => "sin",
            XqRope => "xq_rope",
            XkRope => "xk_rope",
            XkCache => "xk_cache",
            XvCache => "xv_cache",
            XkRepeat => "xk_repeat",
            XvRepeat => "xv_repeat",
            XqT => "xq_t",
            XkT => "xk_t",
            XvT => "xv_t",
            Scores => "scores",
            CausalMask => "causal_mask",
            AttentionMask => "attention_mask",
            PaddingMask => "padding_mask",
            ScoresMasked => "scores_masked",
            Weights => "weights",
            AttnOut => "attn_out",
            Merged => "merged",
            Output => "output",
        }
    }

    /// The tensor with this export name.
    pub fn parse(name: &str) -> Option<TensorId> {
        TensorId::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The stage that writes this tensor.
    pub fn stage(self) -> StageId {
        SPECS
            .iter()
            .find(|s| s.outputs.iter().any(|o| o.id == self))
            .map(|s| s.id)
            .expect("every tensor is written by one stage")
    }
}

impl std::fmt::Display for TensorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One tensor a stage writes.
#[derive(Debug)]
pub struct Output {
    pub id: TensorId,
    /// What it is made from: the first of these the step has (xq_rope comes from xq_norm with
    /// QK-norm, from xq_heads without). Empty for a tensor that is not a transformation of
    /// another (cos, the causal mask).
    pub from: &'static [TensorId],
    /// The Python expression that makes it, as a quiz question names it.
    pub op: &'static str,
    /// Whether it comes into the layer from outside (MiniMindModel passes x, cos/sin and the
    /// attention mask in).
    pub given: bool,
}

/// How the heatmap colours a matrix of one head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heat {
    /// Signed values centred at zero (scores).
    Signed,
    /// Scores after masking: -∞ and padded cells keep their own mark.
    Masked,
    /// Attention weights in [0, 1], rows summing to 1.
    Weights,
}

/// Which head of a `[bsz, tokens, heads, head_dim]` tensor a view shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadOf {
    /// The selected query head.
    Query,
    /// The KV head the selected query head reads.
    Kv,
}

/// One block of numbers in a stage's view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Show {
    /// `[bsz, tokens, features]` at the selected batch row: rows are tokens.
    Tokens(TensorId, &'static str),
    /// `[bsz, tokens, heads·head_dim]` at the selected batch row, the columns banded by head
    /// (query heads, or KV heads for keys and values) and the selected head's band kept whole.
    Features(TensorId, HeadOf, &'static str),
    /// `[bsz, tokens, heads, head_dim]` at the selected batch row and one head.
    Head(TensorId, HeadOf),
    /// `[bsz, n_heads, queries, keys]` of the selected head, with a caption.
    Attention(TensorId, Heat, &'static str),
    /// `[bsz, n_heads, queries, head_dim]` of the selected head.
    HeadRows(TensorId),
    /// `[bsz, tokens, n_heads·head_dim]` with columns labelled head, then feature.
    HeadColumns(TensorId),
    /// The causal mask `[seq_len, kv_len]` with its legend.
    CausalMask,
    /// Row norms before and after QK-norm.
    QkNorms,
    /// Positions and the cos/sin tables.
    Rope,
    /// The selected head's query rows and its KV head's key rows, each before and after RoPE.
    RopeRows,
    /// The same query and key rotated to several position pairs: equal distance, equal score.
    RopeRelative,
    /// One query row of the selected head softmaxed with and without the ÷√head_dim.
    ScaleView,
    /// Whether MiniMind takes its fused `scaled_dot_product_attention` path for this step.
    FusedPath,
    /// The cache before and after this call.
    KvCache,
    /// Which query heads read each KV head.
    RepeatKv,
    /// The attention mask and the bias it becomes.
    Padding,
    /// The whole model's top next tokens after the last position (a checkpoint run).
    Predictions,
}

/// Everything about one stage.
#[derive(Debug)]
pub struct StageSpec {
    pub id: StageId,
    /// Used on the command line and in lessons (`softmax`, `repeat_kv`, …).
    pub name: &'static str,
    pub title: &'static str,
    /// The line(s) of MiniMind's `Attention.forward` this stage mirrors.
    pub code: &'static str,
    /// The tensors it writes, in the order the forward pass records them.
    pub outputs: &'static [Output],
    /// Tensors of the step it reads besides those its outputs are made from.
    pub reads: &'static [TensorId],
    pub weights: &'static [WeightId],
    /// Whether it produces a tensor whose shape differs from its input's.
    pub changes_shape: bool,
    /// Only some runs have it (QK-norm, padding mask).
    pub optional: bool,
    /// Its blocks of numbers, in order.
    pub show: &'static [Show],
    /// What it does and why, with this run's numbers.
    pub about: fn(&Facts) -> String,
}

pub use specs::SPECS;

impl StageId {
    pub const ALL: [StageId; 17] = [
        StageId::Source,
        StageId::Input,
        StageId::Project,
        StageId::SplitHeads,
        StageId::QkNorm,
        StageId::Rope,
        StageId::KvCache,
        StageId::RepeatKv,
        StageId::Transpose,
        StageId::Scores,
        StageId::CausalMask,
        StageId::PaddingMask,
        StageId::Softmax,
        StageId::WeightedSum,
        StageId::MergeHeads,
        StageId::OProj,
        StageId::Predict,
    ];

    /// The stages a run of `cfg` has, in order: QK-norm only with it, the padding mask only
    /// with a mask, and the checkpoint's source and prediction stages only with a checkpoint.
    pub fn present(cfg: &crate::config::Config, checkpoint: bool) -> Vec<StageId> {
        StageId::ALL
            .into_iter()
            .filter(|id| match id {
                StageId::QkNorm => cfg.qk_norm,
                StageId::PaddingMask => cfg.attention_mask.is_some(),
                StageId::Source | StageId::Predict => checkpoint,
                _ => true,
            })
            .collect()
    }

    /// This stage's descriptor.
    pub fn spec(self) -> &'static StageSpec {
        &SPECS[self as usize]
    }

    /// The stage id used on the command line and in lessons (`softmax`, `repeat_kv`, …).
    pub fn as_str(self) -> &'static str {
        self.spec().name
    }

    /// Parses a stage id, accepting `-` for `_`.
    pub fn parse(s: &str) -> Option<StageId> {
        let key = s.trim().to_ascii_lowercase().replace('-', "_");
        StageId::ALL.into_iter().find(|id| id.as_str() == key)
    }

    pub fn title(self) -> &'static str {
        self.spec().title
    }

    pub fn code(self) -> &'static str {
        self.spec().code
    }

    pub fn changes_shape(self) -> bool {
        self.spec().changes_shape
    }
}

impl std::fmt::Display for StageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl StageSpec {
    /// The descriptor of the output `id`, if this stage writes it.
    pub fn output(&self, id: TensorId) -> Option<&Output> {
        self.outputs.iter().find(|o| o.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_in_stage_order_and_every_tensor_has_one_writer() {
        for (i, id) in StageId::ALL.into_iter().enumerate() {
            assert_eq!(SPECS[i].id, id);
            assert_eq!(StageId::parse(SPECS[i].name), Some(id));
        }
        for t in TensorId::ALL {
            let writers = SPECS
                .iter()
                .filter(|s| s.outputs.iter().any(|o| o.id == t))
                .count();
            assert_eq!(writers, 1, "{t} is written by {writers} stages");
            assert_eq!(TensorId::parse(t.name()), Some(t));
        }
    }

    #[test]
    fn every_source_is_written_no_later_than_its_use() {
        for spec in &SPECS {
            for o in spec.outputs {
                for f in o.from.iter().chain(spec.reads) {
                    assert!(
                        f.stage() <= spec.id,
                        "{} reads {f}, written later by {}",
                        o.id,
                        f.stage()
                    );
                }
                if o.given {
                    assert!(o.from.is_empty() && o.op.is_empty(), "{} is given", o.id);
                }
            }
        }
    }
}
