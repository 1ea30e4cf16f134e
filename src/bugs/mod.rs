//! Planted slips: small, named deviations from MiniMind's forward pass that people really make
//! when they write attention, for lessons that ask the learner to find the stage where a run
//! goes wrong. Each slip changes one place in [`crate::forward`], chosen there through the
//! helpers on [`Bug`] (a strategy value, not scattered conditionals).

pub(crate) mod kind;

pub use kind::Bug;

use crate::stage::StageId;

impl Bug {
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
                 stage of a decode step: its cos and sin rows are position 0's (cos 1, sin 0), \
                 whatever position the call starts at."
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

    /// The MiniMind line this slip breaks, as `model_minimind.py` has it.
    pub fn line(self) -> Line {
        match self {
            Bug::ScaleByHidden | Bug::NoScale => Line::Scale,
            Bug::SoftmaxOverQueries => Line::Softmax,
            Bug::CausalNotOffset => Line::Causal,
            Bug::RopeRestarts => Line::RopeSlice,
            Bug::RepeatKvTiles => Line::RepeatKvExpand,
            Bug::ViewWithoutTranspose => Line::View,
            Bug::PaddingNegInf => Line::Padding,
            Bug::ValuesNotRepeated => Line::RepeatValues,
            Bug::CacheBeforeRope => Line::PastKv,
        }
    }

    /// The broken line as the planted run has it, in MiniMind's style.
    pub fn slip_code(self) -> &'static str {
        match self {
            Bug::ScaleByHidden => {
                "scores = (xq @ xk.transpose(-2, -1)) / math.sqrt(self.hidden_size)"
            }
            Bug::NoScale => "scores = xq @ xk.transpose(-2, -1)",
            Bug::SoftmaxOverQueries => "F.softmax(scores.float(), dim=-2)",
            Bug::CausalNotOffset => {
                "scores[:, :, :, :seq_len] += torch.full((seq_len, seq_len), float(\"-inf\")).triu(1)"
            }
            Bug::RopeRestarts => "(self.freqs_cos[0:seq_length], self.freqs_sin[0:seq_length])",
            Bug::RepeatKvTiles => {
                "x[:, :, None, :, :].expand(bs, slen, n_rep, num_key_value_heads, head_dim)\
                 .reshape(bs, slen, num_key_value_heads * n_rep, head_dim)"
            }
            Bug::ViewWithoutTranspose => {
                "xq = xq.view(bsz, self.n_local_heads, seq_len, self.head_dim)"
            }
            Bug::PaddingNegInf => {
                "scores += (1.0 - attention_mask.unsqueeze(1).unsqueeze(2)) * float(\"-inf\")"
            }
            Bug::ValuesNotRepeated => {
                "xq, xk, xv = (xq.transpose(1, 2), repeat_kv(xk, self.n_rep).transpose(1, 2), \
                 xv.transpose(1, 2))"
            }
            Bug::CacheBeforeRope => {
                "past_kv = (xk, xv) taken before apply_rotary_pos_emb, so the cache holds \
                 unrotated keys"
            }
        }
    }

    /// Whether a run of `cfg` can show this slip at all, and if not, why (in a lesson author's
    /// words): the cache slips need a call after the prefill (a chunk of several tokens for the
    /// causal one), the padding slip a padded key, the head slips heads to mix up.
    pub fn hidden_by(self, cfg: &crate::config::Config) -> Option<String> {
        let cached = cfg.steps.len() > 1;
        let chunk = cfg.steps.iter().skip(1).any(|&n| n > 1);
        let padded = cfg
            .attention_mask
            .as_ref()
            .is_some_and(|rows| rows.iter().flatten().any(|&m| m == 0));
        let why = match self {
            Bug::ScaleByHidden if cfg.hidden_size == cfg.head_dim => {
                "with hidden_size equal to head_dim the two square roots are the same"
            }
            Bug::CausalNotOffset if !cfg.causal => {
                "it moves the causal mask, and causal = false turns that mask off"
            }
            Bug::CausalNotOffset if !chunk => {
                "it only shows in a call of several new tokens after the prefill (a chunk: \
                 steps = [4, 3]); a decode call's 1×1 triangle is empty, and a lone prefill \
                 runs exactly as MiniMind's"
            }
            Bug::RopeRestarts | Bug::CacheBeforeRope if !cached => {
                "it only shows once keys are cached: add a call after the prefill (steps = \
                 [4, 1] or decode = 1); a lone prefill runs exactly as MiniMind's"
            }
            Bug::PaddingNegInf if !padded => {
                "it changes what padded keys get: give an attention_mask with a 0 in it"
            }
            Bug::RepeatKvTiles if cfg.num_key_value_heads < 2 || cfg.n_rep() < 2 => {
                "tiling and repeating agree unless there are at least two KV heads, each shared \
                 by several query heads (say num_heads = 4, num_kv_heads = 2)"
            }
            Bug::ValuesNotRepeated if cfg.n_rep() < 2 => {
                "with as many KV heads as query heads there is nothing to repeat"
            }
            Bug::ViewWithoutTranspose
                if cfg.num_attention_heads == 1 || cfg.steps.iter().all(|&n| n == 1) =>
            {
                "viewing heads before tokens only mixes them up with several heads and a call \
                 of several tokens"
            }
            _ => return None,
        };
        Some(format!(
            "the slip {self} cannot show in this configuration: {why}"
        ))
    }
}

/// A line of MiniMind's attention that a slip breaks: the answers (and the wrong choices) of
/// the bug hunt's "which line is wrong" question.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Line {
    RopeSlice,
    View,
    PastKv,
    RepeatValues,
    RepeatKvExpand,
    Scale,
    Causal,
    Padding,
    Softmax,
}

impl Line {
    /// In the order they run.
    pub const ALL: [Line; 9] = [
        Line::RopeSlice,
        Line::View,
        Line::PastKv,
        Line::RepeatValues,
        Line::RepeatKvExpand,
        Line::Scale,
        Line::Causal,
        Line::Padding,
        Line::Softmax,
    ];

    /// The line as `model/model_minimind.py` writes it (`device=` arguments left out).
    pub fn code(self) -> &'static str {
        match self {
            Line::RopeSlice => {
                "position_embeddings = (self.freqs_cos[start_pos:start_pos + seq_length], \
                 self.freqs_sin[start_pos:start_pos + seq_length])"
            }
            Line::View => "xq = xq.view(bsz, seq_len, self.n_local_heads, self.head_dim)",
            Line::PastKv => "past_kv = (xk, xv) if use_cache else None",
            Line::RepeatValues => {
                "xq, xk, xv = (xq.transpose(1, 2), repeat_kv(xk, self.n_rep).transpose(1, 2), \
                 repeat_kv(xv, self.n_rep).transpose(1, 2))"
            }
            Line::RepeatKvExpand => {
                "x[:, :, :, None, :].expand(bs, slen, num_key_value_heads, n_rep, head_dim)\
                 .reshape(bs, slen, num_key_value_heads * n_rep, head_dim)"
            }
            Line::Scale => "scores = (xq @ xk.transpose(-2, -1)) / math.sqrt(self.head_dim)",
            Line::Causal => {
                "scores[:, :, :, -seq_len:] += torch.full((seq_len, seq_len), float(\"-inf\"))\
                 .triu(1)"
            }
            Line::Padding => "scores += (1.0 - attention_mask.unsqueeze(1).unsqueeze(2)) * -1e9",
            Line::Softmax => "F.softmax(scores.float(), dim=-1)",
        }
    }

    /// Where the line sits: MiniMind's function, for the reader looking it up.
    pub fn place(self) -> &'static str {
        match self {
            Line::RopeSlice => "MiniMindModel.forward",
            Line::RepeatKvExpand => "repeat_kv",
            _ => "Attention.forward",
        }
    }
}

/// The named slips, for messages: `scale-by-hidden, no-scale, …`.
pub fn names() -> String {
    Bug::ALL.map(Bug::name).join(", ")
}

/// The slip called `name`, or a message naming the nearest one and listing them all (without
/// saying where the flag or key is: the caller adds that).
pub fn lookup(name: &str) -> Result<Bug, String> {
    Bug::parse(name).ok_or_else(|| {
        let known = Bug::ALL.map(Bug::name);
        let key = name.trim().to_ascii_lowercase().replace('_', "-");
        let near = crate::lesson::source::nearest(&key, &known)
            .map(|n| format!(", did you mean \"{n}\"?"))
            .unwrap_or_else(|| ".".to_owned());
        format!(
            "no slip is called {}{near} The slips are: {} (`attnstep bugs` says what each does)",
            crate::lesson::source::quoted(name),
            names()
        )
    })
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
