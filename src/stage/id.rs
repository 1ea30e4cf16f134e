//! The names of stages, tensors and weights: plain values the trace, the forward pass and the
//! descriptor share. What each stage is lives in [`super::descriptor`] and `specs.rs`.

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
}

impl std::fmt::Display for TensorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

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
}
