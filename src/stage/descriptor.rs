//! The shape of a stage's descriptor: what [`super::specs`] fills in once per stage.

use super::facts::Facts;
use super::id::{StageId, TensorId, WeightId};

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

impl StageSpec {
    /// The descriptor of the output `id`, if this stage writes it.
    pub fn output(&self, id: TensorId) -> Option<&Output> {
        self.outputs.iter().find(|o| o.id == id)
    }
}
