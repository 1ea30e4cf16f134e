//! Planted slips: small, named deviations from MiniMind's forward pass that people really make
//! when they write attention, for lessons that ask the learner to find the stage where a run
//! goes wrong. Each slip changes one place in [`crate::forward`], chosen there through the
//! helpers on [`Bug`] (a strategy value, not scattered conditionals).

use serde::Serialize;

use crate::stage::StageId;

/// A planted slip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bug {
    /// `/ math.sqrt(hidden_size)` instead of `/ math.sqrt(head_dim)`.
    ScaleByHidden,
    /// No `/ math.sqrt(head_dim)` at all.
    NoScale,
    /// `F.softmax(scores, dim=-2)`: normalised over the queries instead of the keys.
    SoftmaxOverQueries,
    /// The causal triangle added to the first `seq_len` columns instead of the last.
    CausalNotOffset,
    /// RoPE positions restart at 0 on every call instead of continuing after `past_len`.
    RopeRestarts,
    /// `repeat_kv` tiles the KV heads (0, 1, 0, 1, …) instead of repeating each (0, 0, 1, 1, …).
    RepeatKvTiles,
    /// `.view(bsz, n_heads, seq_len, head_dim)` straight from `[bsz, seq_len, hidden]`.
    ViewWithoutTranspose,
    /// Padding filled with `-inf` instead of `-1e9`.
    PaddingNegInf,
    /// `repeat_kv` applied to the keys only.
    ValuesNotRepeated,
    /// The cache stores keys before RoPE instead of after.
    CacheBeforeRope,
}

impl Bug {
    pub const ALL: [Bug; 10] = [
        Bug::ScaleByHidden,
        Bug::NoScale,
        Bug::SoftmaxOverQueries,
        Bug::CausalNotOffset,
        Bug::RopeRestarts,
        Bug::RepeatKvTiles,
        Bug::ViewWithoutTranspose,
        Bug::PaddingNegInf,
        Bug::ValuesNotRepeated,
        Bug::CacheBeforeRope,
    ];

    /// The name used with `--bug` and in lessons.
    pub fn name(self) -> &'static str {
        match self {
            Bug::ScaleByHidden => "scale-by-hidden",
            Bug::NoScale => "no-scale",
            Bug::SoftmaxOverQueries => "softmax-over-queries",
            Bug::CausalNotOffset => "causal-not-offset",
            Bug::RopeRestarts => "rope-restarts",
            Bug::RepeatKvTiles => "repeat-kv-tiles",
            Bug::ViewWithoutTranspose => "view-without-transpose",
            Bug::PaddingNegInf => "padding-neg-inf",
            Bug::ValuesNotRepeated => "values-not-repeated",
            Bug::CacheBeforeRope => "cache-before-rope",
        }
    }

    /// The slip with this name (`_` accepted for `-`).
    pub fn parse(name: &str) -> Option<Bug> {
        let key = name.trim().to_ascii_lowercase().replace('_', "-");
        Bug::ALL.into_iter().find(|b| b.name() == key)
    }

    /// A symptom to hunt for, without giving the answer away.
    pub fn symptom(self) -> &'static str {
        match self {
            Bug::ScaleByHidden => "the attention weights look flatter than they should",
            Bug::NoScale => "the attention weights look sharper than they should",
            Bug::SoftmaxOverQueries => "the weight rows no longer sum to 1",
            Bug::CausalNotOffset => "a chunk after the prefill sees what it should not",
            Bug::RopeRestarts => "decode steps attend as if they were at the start",
            Bug::RepeatKvTiles => "some query heads read keys meant for another group",
            Bug::ViewWithoutTranspose => "every shape is right and every number is wrong",
            Bug::PaddingNegInf => "a batch row that is all padding turns into NaN",
            Bug::ValuesNotRepeated => "the value product stops fitting together",
            Bug::CacheBeforeRope => "the second call disagrees with one long prefill",
        }
    }

    /// What the slip is and how to spot it from the tables.
    pub fn explanation(self) -> &'static str {
        match self {
            Bug::ScaleByHidden => {
                "scores are divided by √hidden_size instead of √head_dim. The scale exists to \
                 undo the growth of a dot product over head_dim features; hidden_size is \
                 n_heads times bigger, so every score shrinks and softmax spreads its weight \
                 almost evenly. Spot it at the scores stage: the numbers are √n_heads times \
                 smaller than q·k/√head_dim."
            }
            Bug::NoScale => {
                "scores are never divided by √head_dim. Dot products of head_dim-long vectors \
                 grow with head_dim, so softmax saturates: one key takes nearly all the weight. \
                 Spot it at the scores stage: the numbers are √head_dim times too big."
            }
            Bug::SoftmaxOverQueries => {
                "softmax runs over dim=-2, the queries, instead of dim=-1, the keys. Each column \
                 sums to 1 instead of each row, so a query's weights no longer form a \
                 distribution over what it may read. Spot it at the softmax stage: the Σ row \
                 column is not 1."
            }
            Bug::CausalNotOffset => {
                "the causal triangle is added to the first seq_len columns of the scores instead \
                 of the last. With an empty cache the two are the same columns, so a prefill \
                 is right; once keys are cached, the triangle lands on cached keys (which are \
                 all in the past) and the new keys are left unmasked. Spot it at the causal_mask \
                 stage of a chunk: -∞ sits over cached columns."
            }
            Bug::RopeRestarts => {
                "every call computes RoPE from position 0 instead of from past_len. A prefill \
                 is unaffected; a later call rotates its new tokens as if they stood at the \
                 start, so their distance to the cached keys is wrong. Spot it at the rope \
                 stage of a decode step: the positions used restart at 0."
            }
            Bug::RepeatKvTiles => {
                "repeat_kv tiles the KV heads (kv0, kv1, kv0, kv1, …) instead of repeating each \
                 one n_rep times in a row (kv0, kv0, kv1, kv1, …). Query heads then read the KV \
                 head of another group. Spot it at the repeat_kv stage: equal rows are no \
                 longer next to each other."
            }
            Bug::ViewWithoutTranspose => {
                "the projections are viewed straight as [bsz, n_heads, seq_len, head_dim] \
                 instead of [bsz, seq_len, n_heads, head_dim] and then transposed. The shapes \
                 come out right, but the numbers of different tokens are mixed into one head. \
                 Spot it at split_heads: a head's rows no longer match slices of xq_proj."
            }
            Bug::PaddingNegInf => {
                "padded keys get -inf instead of -1e9. For a query that still has a real key \
                 this changes nothing, but a row whose keys are all padding becomes all -inf, \
                 and softmax of all -inf is 0/0 = NaN, which then spreads through the output. \
                 Spot it at the padding_mask stage (-inf where MiniMind has -1e9), and its \
                 damage at the softmax stage of a batch row that starts with padding."
            }
            Bug::ValuesNotRepeated => {
                "repeat_kv is applied to the keys but not to the values, so weights @ xv \
                 multiplies n_heads weight matrices with n_kv_heads value matrices. With one KV \
                 head PyTorch broadcasts and the numbers happen to be right; with several the \
                 product cannot be formed."
            }
            Bug::CacheBeforeRope => {
                "the cache keeps the keys from before RoPE. The call that fills it attends with \
                 rotated keys and looks right; the next call concatenates unrotated cached keys \
                 with rotated new ones, so the scores against the past are wrong. Spot it at the \
                 kv_cache stage of the second call: the cached rows differ from xk_rope of the \
                 first."
            }
        }
    }

    /// The stage where a run with this slip first differs from the faithful one (when it
    /// differs at all: see the slip's explanation for when it is silent).
    pub fn first_stage(self) -> StageId {
        match self {
            Bug::ScaleByHidden | Bug::NoScale => StageId::Scores,
            Bug::SoftmaxOverQueries => StageId::Softmax,
            Bug::PaddingNegInf => StageId::PaddingMask,
            Bug::CausalNotOffset => StageId::CausalMask,
            Bug::RopeRestarts => StageId::Rope,
            Bug::RepeatKvTiles => StageId::RepeatKv,
            Bug::ViewWithoutTranspose => StageId::SplitHeads,
            Bug::ValuesNotRepeated => StageId::WeightedSum,
            Bug::CacheBeforeRope => StageId::KvCache,
        }
    }

    /// Whether every shape stays right (the slip shows only in the numbers).
    pub fn silent_in_shape(self) -> bool {
        !matches!(self, Bug::ValuesNotRepeated)
    }
}

/// Why a slip makes the forward pass impossible for `cfg`, in MiniMind's terms, if it does:
/// without repeat_kv on the values, `weights @ xv` pairs n_heads weight matrices with n_kv_heads
/// value matrices, which broadcasting only allows when one of them is 1.
pub fn shape_error(cfg: &crate::config::Config) -> Option<String> {
    let (nh, nkv) = (cfg.num_attention_heads, cfg.num_key_value_heads);
    (cfg.bug == Some(Bug::ValuesNotRepeated) && nkv > 1 && nh != nkv).then(|| {
        format!(
            "output = weights @ xv cannot work: weights is [bsz, n_heads={nh}, seq_len, kv_len] \
             but xv, never passed through repeat_kv, is [bsz, n_kv_heads={nkv}, kv_len, \
             head_dim]; a batched matmul needs axis 1 to match (or be 1), and {nh} ≠ {nkv}. \
             The fix is repeat_kv(xv, self.n_rep) before the transpose, as for the keys."
        )
    })
}

impl std::fmt::Display for Bug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
