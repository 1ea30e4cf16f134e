//! The trace: plain data that records a run. Steps (forward calls) hold stages (MiniMind
//! lines) which hold named tensors. Rendering, stepping, export and the quiz only read it.

use crate::config::Config;
use crate::dims::Shape;

/// The stages of one forward call, in MiniMind's order (design.md's stage table).
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

    /// The stage id used on the command line and in lessons (`softmax`, `repeat_kv`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            StageId::Input => "input",
            StageId::Project => "project",
            StageId::SplitHeads => "split_heads",
            StageId::QkNorm => "qk_norm",
            StageId::Rope => "rope",
            StageId::KvCache => "kv_cache",
            StageId::RepeatKv => "repeat_kv",
            StageId::Transpose => "transpose",
            StageId::Scores => "scores",
            StageId::CausalMask => "causal_mask",
            StageId::PaddingMask => "padding_mask",
            StageId::Softmax => "softmax",
            StageId::WeightedSum => "weighted_sum",
            StageId::MergeHeads => "merge_heads",
            StageId::OProj => "o_proj",
        }
    }

    /// Parses a stage id, accepting `-` for `_`.
    pub fn parse(s: &str) -> Option<StageId> {
        let key = s.trim().to_ascii_lowercase().replace('-', "_");
        StageId::ALL.into_iter().find(|id| id.as_str() == key)
    }

    /// A short human title.
    pub fn title(self) -> &'static str {
        match self {
            StageId::Input => "Input hidden states",
            StageId::Project => "Project x into queries, keys and values",
            StageId::SplitHeads => "Split the features into heads",
            StageId::QkNorm => "Normalise queries and keys (QK-norm)",
            StageId::Rope => "Rotate queries and keys by position (RoPE)",
            StageId::KvCache => "Append the new keys and values to the cache",
            StageId::RepeatKv => "Share each KV head with its group of query heads",
            StageId::Transpose => "Move the head axis before the sequence axis",
            StageId::Scores => "Score every query against every key",
            StageId::CausalMask => "Causal mask: no looking ahead",
            StageId::PaddingMask => "Padding mask: ignore pad tokens",
            StageId::Softmax => "Softmax: scores become attention weights",
            StageId::WeightedSum => "Mix the values with the weights",
            StageId::MergeHeads => "Merge the heads back together",
            StageId::OProj => "Output projection",
        }
    }

    /// The line(s) of MiniMind's `Attention.forward` this stage mirrors.
    pub fn code(self) -> &'static str {
        match self {
            StageId::Input => "bsz, seq_len, _ = x.shape",
            StageId::Project => "xq, xk, xv = self.q_proj(x), self.k_proj(x), self.v_proj(x)",
            StageId::SplitHeads => {
                "xq = xq.view(bsz, seq_len, self.n_local_heads, self.head_dim)\n\
                 xk = xk.view(bsz, seq_len, self.n_local_kv_heads, self.head_dim)\n\
                 xv = xv.view(bsz, seq_len, self.n_local_kv_heads, self.head_dim)"
            }
            StageId::QkNorm => "xq, xk = self.q_norm(xq), self.k_norm(xk)",
            StageId::Rope => {
                "cos, sin = position_embeddings\n\
                 xq, xk = apply_rotary_pos_emb(xq, xk, cos, sin)"
            }
            StageId::KvCache => {
                "if past_key_value is not None:\n    \
                 xk = torch.cat([past_key_value[0], xk], dim=1)\n    \
                 xv = torch.cat([past_key_value[1], xv], dim=1)\n\
                 past_kv = (xk, xv) if use_cache else None"
            }
            StageId::RepeatKv => "repeat_kv(xk, self.n_rep), repeat_kv(xv, self.n_rep)",
            StageId::Transpose => {
                "xq, xk, xv = (xq.transpose(1, 2), repeat_kv(xk, self.n_rep).transpose(1, 2), \
                 repeat_kv(xv, self.n_rep).transpose(1, 2))"
            }
            StageId::Scores => "scores = (xq @ xk.transpose(-2, -1)) / math.sqrt(self.head_dim)",
            StageId::CausalMask => {
                "if self.is_causal: scores[:, :, :, -seq_len:] += \
                 torch.full((seq_len, seq_len), float(\"-inf\"), device=scores.device).triu(1)"
            }
            StageId::PaddingMask => {
                "if attention_mask is not None: \
                 scores += (1.0 - attention_mask.unsqueeze(1).unsqueeze(2)) * -1e9"
            }
            StageId::Softmax => "F.softmax(scores.float(), dim=-1).type_as(xq)",
            StageId::WeightedSum => "output = self.attn_dropout(F.softmax(...)) @ xv",
            StageId::MergeHeads => "output = output.transpose(1, 2).reshape(bsz, seq_len, -1)",
            StageId::OProj => "output = self.resid_dropout(self.o_proj(output))",
        }
    }

    /// Whether this stage produces a tensor whose shape differs from its input's.
    pub fn changes_shape(self) -> bool {
        matches!(
            self,
            StageId::Project
                | StageId::SplitHeads
                | StageId::KvCache
                | StageId::RepeatKv
                | StageId::Transpose
                | StageId::Scores
                | StageId::WeightedSum
                | StageId::MergeHeads
                | StageId::OProj
        )
    }
}

impl std::fmt::Display for StageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tensor under its export name, with the tensor it was computed from (for `before → after`).
#[derive(Clone, Debug, PartialEq)]
pub struct Named<T> {
    pub name: &'static str,
    pub value: T,
    /// The export name of the tensor this one was made from, if the stage transforms one.
    pub from: Option<&'static str>,
}

/// One stage of one forward call.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage<T> {
    pub id: StageId,
    /// The tensors this stage writes, under their export names.
    pub tensors: Vec<Named<T>>,
    /// Intermediate shapes the Python goes through without keeping a tensor (repeat_kv's 5-D
    /// expand), as `(label, shape)`.
    pub via: Vec<(&'static str, Shape)>,
}

impl<T> Stage<T> {
    pub fn tensor(&self, name: &str) -> Option<&T> {
        self.tensors
            .iter()
            .find(|n| n.name == name)
            .map(|n| &n.value)
    }
}

/// What kind of forward call a step is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// The first call: nothing cached yet.
    Prefill,
    /// A later call of exactly one token.
    Decode,
    /// A later call of several tokens.
    Chunk,
}

impl StepKind {
    pub fn of(index: usize, seq_len: usize) -> StepKind {
        match (index, seq_len) {
            (0, _) => StepKind::Prefill,
            (_, 1) => StepKind::Decode,
            _ => StepKind::Chunk,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Prefill => "prefill",
            StepKind::Decode => "decode",
            StepKind::Chunk => "chunk",
        }
    }
}

/// One forward call through the attention layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Step<T> {
    pub kind: StepKind,
    /// Tokens already in the cache before this call (= past_len; the first new position).
    pub start_pos: usize,
    /// New tokens in this call.
    pub seq_len: usize,
    pub stages: Vec<Stage<T>>,
}

impl<T> Step<T> {
    pub fn kv_len(&self) -> usize {
        self.start_pos + self.seq_len
    }

    /// A tensor of this step by export name, from whichever stage wrote it.
    pub fn tensor(&self, name: &str) -> Option<&T> {
        self.stages.iter().find_map(|s| s.tensor(name))
    }

    pub fn stage(&self, id: StageId) -> Option<&Stage<T>> {
        self.stages.iter().find(|s| s.id == id)
    }

    /// Every tensor of the step, in stage order.
    pub fn tensors(&self) -> impl Iterator<Item = &Named<T>> + Clone {
        self.stages.iter().flat_map(|s| s.tensors.iter())
    }
}

/// A whole run: the configuration, the layer's weights and every forward call.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace<T> {
    pub config: Config,
    pub weights: Vec<Named<T>>,
    pub steps: Vec<Step<T>>,
}

impl<T> Trace<T> {
    pub fn weight(&self, name: &str) -> Option<&T> {
        self.weights
            .iter()
            .find(|n| n.name == name)
            .map(|n| &n.value)
    }
}
