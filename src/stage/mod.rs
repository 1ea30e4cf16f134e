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
pub mod template;

pub use facts::Facts;

/// The stages of one forward call, in MiniMind's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StageId {
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
}

/// Every tensor a step records, by role. `name()` is the export name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TensorId {
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
    pub const ALL: [TensorId; 29] = [
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

const fn out(id: TensorId, from: &'static [TensorId], op: &'static str) -> Output {
    Output {
        id,
        from,
        op,
        given: false,
    }
}

const fn given(id: TensorId) -> Output {
    Output {
        id,
        from: &[],
        op: "",
        given: true,
    }
}

use TensorId as T;

/// The descriptor of every stage, in [`StageId`] order.
pub static SPECS: [StageSpec; 15] = [
    StageSpec {
        id: StageId::Input,
        name: "input",
        title: "Input hidden states",
        code: "bsz, seq_len, _ = x.shape",
        outputs: &[given(T::X)],
        reads: &[],
        weights: &[],
        changes_shape: false,
        optional: false,
        show: &[Show::Tokens(
            T::X,
            "rows: tokens · columns: hidden features",
        )],
        about: prose::input,
    },
    StageSpec {
        id: StageId::Project,
        name: "project",
        title: "Project x into queries, keys and values",
        code: "xq, xk, xv = self.q_proj(x), self.k_proj(x), self.v_proj(x)",
        outputs: &[
            out(T::XqProj, &[T::X], "q_proj(x)"),
            out(T::XkProj, &[T::X], "k_proj(x)"),
            out(T::XvProj, &[T::X], "v_proj(x)"),
        ],
        reads: &[],
        weights: &[WeightId::QProj, WeightId::KProj, WeightId::VProj],
        changes_shape: true,
        optional: false,
        show: &[
            Show::Features(
                T::XqProj,
                HeadOf::Query,
                "queries: rows: tokens · columns: features, by query head",
            ),
            Show::Features(
                T::XkProj,
                HeadOf::Kv,
                "keys: rows: tokens · columns: features, by KV head",
            ),
            Show::Features(
                T::XvProj,
                HeadOf::Kv,
                "values: rows: tokens · columns: features, by KV head",
            ),
        ],
        about: prose::project,
    },
    StageSpec {
        id: StageId::SplitHeads,
        name: "split_heads",
        title: "Split the features into heads",
        code: "xq = xq.view(bsz, seq_len, self.n_local_heads, self.head_dim)\n\
               xk = xk.view(bsz, seq_len, self.n_local_kv_heads, self.head_dim)\n\
               xv = xv.view(bsz, seq_len, self.n_local_kv_heads, self.head_dim)",
        outputs: &[
            out(
                T::XqHeads,
                &[T::XqProj],
                "xq.view(bsz, seq_len, n_heads, head_dim)",
            ),
            out(
                T::XkHeads,
                &[T::XkProj],
                "xk.view(bsz, seq_len, n_kv_heads, head_dim)",
            ),
            out(
                T::XvHeads,
                &[T::XvProj],
                "xv.view(bsz, seq_len, n_kv_heads, head_dim)",
            ),
        ],
        reads: &[],
        weights: &[],
        changes_shape: true,
        optional: false,
        show: &[
            Show::Head(T::XqHeads, HeadOf::Query),
            Show::Head(T::XkHeads, HeadOf::Kv),
        ],
        about: prose::split_heads,
    },
    StageSpec {
        id: StageId::QkNorm,
        name: "qk_norm",
        title: "Normalise queries and keys (QK-norm)",
        code: "xq, xk = self.q_norm(xq), self.k_norm(xk)",
        outputs: &[
            out(T::XqNorm, &[T::XqHeads], "q_norm(xq)"),
            out(T::XkNorm, &[T::XkHeads], "k_norm(xk)"),
        ],
        reads: &[],
        weights: &[WeightId::QNorm, WeightId::KNorm],
        changes_shape: false,
        optional: true,
        show: &[Show::QkNorms],
        about: prose::qk_norm,
    },
    StageSpec {
        id: StageId::Rope,
        name: "rope",
        title: "Rotate queries and keys by position (RoPE)",
        code: "cos, sin = position_embeddings\n\
               xq, xk = apply_rotary_pos_emb(xq, xk, cos, sin)",
        outputs: &[
            given(T::Cos),
            given(T::Sin),
            out(
                T::XqRope,
                &[T::XqNorm, T::XqHeads],
                "apply_rotary_pos_emb(xq, …)",
            ),
            out(
                T::XkRope,
                &[T::XkNorm, T::XkHeads],
                "apply_rotary_pos_emb(…, xk)",
            ),
        ],
        reads: &[],
        weights: &[],
        changes_shape: false,
        optional: false,
        show: &[Show::Rope, Show::RopeRows, Show::RopeRelative],
        about: prose::rope,
    },
    StageSpec {
        id: StageId::KvCache,
        name: "kv_cache",
        title: "Append the new keys and values to the cache",
        code: "if past_key_value is not None:\n    \
               xk = torch.cat([past_key_value[0], xk], dim=1)\n    \
               xv = torch.cat([past_key_value[1], xv], dim=1)\n\
               past_kv = (xk, xv) if use_cache else None",
        outputs: &[
            out(T::XkCache, &[T::XkRope], "torch.cat([past_k, xk], dim=1)"),
            out(T::XvCache, &[T::XvHeads], "torch.cat([past_v, xv], dim=1)"),
        ],
        reads: &[],
        weights: &[],
        changes_shape: true,
        optional: false,
        show: &[Show::KvCache],
        about: prose::kv_cache,
    },
    StageSpec {
        id: StageId::RepeatKv,
        name: "repeat_kv",
        title: "Share each KV head with its group of query heads",
        code: "repeat_kv(xk, self.n_rep), repeat_kv(xv, self.n_rep)",
        outputs: &[
            out(T::XkRepeat, &[T::XkCache], "repeat_kv(xk, n_rep)"),
            out(T::XvRepeat, &[T::XvCache], "repeat_kv(xv, n_rep)"),
        ],
        reads: &[],
        weights: &[],
        changes_shape: true,
        optional: false,
        show: &[Show::RepeatKv],
        about: prose::repeat_kv,
    },
    StageSpec {
        id: StageId::Transpose,
        name: "transpose",
        title: "Move the head axis before the sequence axis",
        code: "xq, xk, xv = (xq.transpose(1, 2), repeat_kv(xk, self.n_rep).transpose(1, 2), \
               repeat_kv(xv, self.n_rep).transpose(1, 2))",
        outputs: &[
            out(T::XqT, &[T::XqRope], "xq.transpose(1, 2)"),
            out(T::XkT, &[T::XkRepeat], "xk.transpose(1, 2)"),
            out(T::XvT, &[T::XvRepeat], "xv.transpose(1, 2)"),
        ],
        reads: &[],
        weights: &[],
        changes_shape: true,
        optional: false,
        show: &[],
        about: prose::transpose,
    },
    StageSpec {
        id: StageId::Scores,
        name: "scores",
        title: "Score every query against every key",
        code: "scores = (xq @ xk.transpose(-2, -1)) / math.sqrt(self.head_dim)",
        outputs: &[out(
            T::Scores,
            &[T::XqT],
            "xq @ xk.transpose(-2, -1) / sqrt(head_dim)",
        )],
        reads: &[T::XkT],
        weights: &[],
        changes_shape: true,
        optional: false,
        show: &[Show::Attention(
            T::Scores,
            Heat::Signed,
            "rows: queries · columns: keys",
        )],
        about: prose::scores,
    },
    StageSpec {
        id: StageId::CausalMask,
        name: "causal_mask",
        title: "Causal mask: no looking ahead",
        code: "if self.is_causal: scores[:, :, :, -seq_len:] += \
               torch.full((seq_len, seq_len), float(\"-inf\"), device=scores.device).triu(1)",
        outputs: &[out(T::CausalMask, &[], "")],
        reads: &[T::Scores],
        weights: &[],
        changes_shape: false,
        optional: false,
        show: &[Show::CausalMask],
        about: prose::causal_mask,
    },
    StageSpec {
        id: StageId::PaddingMask,
        name: "padding_mask",
        title: "Padding mask: ignore pad tokens",
        code: "if attention_mask is not None: \
               scores += (1.0 - attention_mask.unsqueeze(1).unsqueeze(2)) * -1e9",
        outputs: &[
            given(T::AttentionMask),
            out(
                T::PaddingMask,
                &[T::AttentionMask],
                "(1.0 - attention_mask.unsqueeze(1).unsqueeze(2)) * -1e9",
            ),
        ],
        reads: &[],
        weights: &[],
        changes_shape: false,
        optional: true,
        show: &[Show::Padding],
        about: prose::padding_mask,
    },
    StageSpec {
        id: StageId::Softmax,
        name: "softmax",
        title: "Softmax: scores become attention weights",
        code: "F.softmax(scores.float(), dim=-1).type_as(xq)",
        outputs: &[
            out(T::ScoresMasked, &[T::Scores], "scores + masks"),
            out(T::Weights, &[T::ScoresMasked], "F.softmax(scores, dim=-1)"),
        ],
        reads: &[],
        weights: &[],
        changes_shape: false,
        optional: false,
        show: &[
            Show::Attention(T::ScoresMasked, Heat::Masked, "what softmax receives"),
            Show::Attention(T::Weights, Heat::Weights, "each row sums to 1 (Σ row)"),
            Show::ScaleView,
            Show::FusedPath,
        ],
        about: prose::softmax,
    },
    StageSpec {
        id: StageId::WeightedSum,
        name: "weighted_sum",
        title: "Mix the values with the weights",
        code: "output = self.attn_dropout(F.softmax(...)) @ xv",
        outputs: &[out(T::AttnOut, &[T::Weights], "weights @ xv")],
        reads: &[T::XvT],
        weights: &[],
        changes_shape: true,
        optional: false,
        show: &[Show::HeadRows(T::AttnOut)],
        about: prose::weighted_sum,
    },
    StageSpec {
        id: StageId::MergeHeads,
        name: "merge_heads",
        title: "Merge the heads back together",
        code: "output = output.transpose(1, 2).reshape(bsz, seq_len, -1)",
        outputs: &[out(
            T::Merged,
            &[T::AttnOut],
            "output.transpose(1, 2).reshape(bsz, seq_len, -1)",
        )],
        reads: &[],
        weights: &[],
        changes_shape: true,
        optional: false,
        show: &[Show::HeadColumns(T::Merged)],
        about: prose::merge_heads,
    },
    StageSpec {
        id: StageId::OProj,
        name: "o_proj",
        title: "Output projection",
        code: "output = self.resid_dropout(self.o_proj(output))",
        outputs: &[out(T::Output, &[T::Merged], "o_proj(output)")],
        reads: &[],
        weights: &[WeightId::OProj],
        changes_shape: true,
        optional: false,
        show: &[Show::Tokens(
            T::Output,
            "rows: tokens · columns: hidden features",
        )],
        about: prose::o_proj,
    },
];

impl StageId {
    pub const ALL: [StageId; 15] = [
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
    ];

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
