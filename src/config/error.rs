//! Why a configuration cannot run, in terms of its keys.
//!
//! A [`ConfigError`] carries the [`ConfigKey`]s it is about and the values involved, never a
//! front end's words for them: [`ConfigError::describe`] takes a function that names a key, so
//! the command line says `--attention-mask row 1 has 3 entries` and a lesson file says
//! `attention_mask row 1 has 3 entries` at the key's line. `Display` uses the key names.

use std::fmt;

/// A configuration key, as a lesson's `[config]` table spells it (the canonical name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfigKey {
    Preset,
    HiddenSize,
    NumAttentionHeads,
    NumKeyValueHeads,
    HeadDim,
    Batch,
    Steps,
    SeqLen,
    Decode,
    AttentionMask,
    QkNorm,
    RmsNormEps,
    RopeTheta,
    Causal,
    Seed,
    Tokens,
}

impl ConfigKey {
    pub const ALL: [ConfigKey; 16] = [
        ConfigKey::Preset,
        ConfigKey::HiddenSize,
        ConfigKey::NumAttentionHeads,
        ConfigKey::NumKeyValueHeads,
        ConfigKey::HeadDim,
        ConfigKey::Batch,
        ConfigKey::Steps,
        ConfigKey::SeqLen,
        ConfigKey::Decode,
        ConfigKey::AttentionMask,
        ConfigKey::QkNorm,
        ConfigKey::RmsNormEps,
        ConfigKey::RopeTheta,
        ConfigKey::Causal,
        ConfigKey::Seed,
        ConfigKey::Tokens,
    ];

    /// The key's name (MiniMind's config attribute where there is one).
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigKey::Preset => "preset",
            ConfigKey::HiddenSize => "hidden_size",
            ConfigKey::NumAttentionHeads => "num_attention_heads",
            ConfigKey::NumKeyValueHeads => "num_key_value_heads",
            ConfigKey::HeadDim => "head_dim",
            ConfigKey::Batch => "batch",
            ConfigKey::Steps => "steps",
            ConfigKey::SeqLen => "seq_len",
            ConfigKey::Decode => "decode",
            ConfigKey::AttentionMask => "attention_mask",
            ConfigKey::QkNorm => "qk_norm",
            ConfigKey::RmsNormEps => "rms_norm_eps",
            ConfigKey::RopeTheta => "rope_theta",
            ConfigKey::Causal => "causal",
            ConfigKey::Seed => "seed",
            ConfigKey::Tokens => "tokens",
        }
    }

    /// Other names accepted for the key (the short forms of the head counts).
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            ConfigKey::NumAttentionHeads => &["num_heads"],
            ConfigKey::NumKeyValueHeads => &["num_kv_heads"],
            _ => &[],
        }
    }

    /// The key called `name` (its name or an alias).
    pub fn from_name(name: &str) -> Option<ConfigKey> {
        ConfigKey::ALL
            .into_iter()
            .find(|k| k.as_str() == name || k.aliases().contains(&name))
    }
}

impl fmt::Display for ConfigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a configuration cannot run, with the values involved.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigError {
    UnknownPreset {
        name: String,
        known: String,
    },
    /// A size that must be at least 1 is 0.
    Zero {
        key: ConfigKey,
    },
    /// head_dim is not given and `hidden_size // num_attention_heads` is 0.
    HeadDimZero {
        hidden_size: usize,
        num_attention_heads: usize,
    },
    HeadDimUndefined {
        hidden_size: usize,
        num_attention_heads: usize,
    },
    ProjectionOverflow {
        num_attention_heads: usize,
        head_dim: usize,
    },
    HeadsNotDivisible {
        heads: usize,
        kv_heads: usize,
    },
    /// `derived_from`: the (hidden_size, num_attention_heads) head_dim came from, when not given.
    OddHeadDim {
        head_dim: usize,
        derived_from: Option<(usize, usize)>,
    },
    NoSteps,
    /// Step `index` (1-based) has no tokens.
    ZeroStep {
        index: usize,
    },
    TooManySteps {
        steps: usize,
        decode: usize,
    },
    /// `steps` is the list (shortened), `decode` the decode calls added to it.
    TooManyTokens {
        steps: String,
        decode: usize,
    },
    MaskRows {
        got: usize,
        batch: usize,
    },
    MaskChar {
        row: usize,
        col: usize,
        ch: char,
    },
    MaskLen {
        row: usize,
        got: usize,
        want: usize,
    },
    TokenCount {
        got: usize,
        want: usize,
        steps: String,
    },
    BadEps {
        eps: f64,
    },
    BadTheta {
        theta: f64,
    },
}

impl ConfigError {
    /// The keys the error is about, most specific first, each with the index of the array
    /// entry at fault (for `steps` and `attention_mask`). A front end points at the first one
    /// the user set.
    pub fn keys(&self) -> Vec<(ConfigKey, Option<usize>)> {
        use ConfigKey::*;
        let plain = |keys: &[ConfigKey]| keys.iter().map(|&k| (k, None)).collect();
        match self {
            ConfigError::UnknownPreset { .. } => plain(&[Preset]),
            ConfigError::Zero { key } => plain(&[*key]),
            ConfigError::HeadDimZero { .. } | ConfigError::HeadDimUndefined { .. } => {
                plain(&[HiddenSize, NumAttentionHeads, Preset])
            }
            ConfigError::ProjectionOverflow { .. } => plain(&[HeadDim, NumAttentionHeads]),
            ConfigError::HeadsNotDivisible { .. } => {
                plain(&[NumKeyValueHeads, NumAttentionHeads, Preset])
            }
            ConfigError::OddHeadDim { .. } => {
                plain(&[HeadDim, HiddenSize, NumAttentionHeads, Preset])
            }
            ConfigError::NoSteps => plain(&[Steps]),
            ConfigError::ZeroStep { index } => vec![(Steps, Some(index - 1)), (SeqLen, None)],
            ConfigError::TooManySteps { .. } | ConfigError::TooManyTokens { .. } => {
                plain(&[Decode, Steps, SeqLen])
            }
            ConfigError::MaskRows { .. } => plain(&[AttentionMask, Batch]),
            ConfigError::MaskChar { row, .. } | ConfigError::MaskLen { row, .. } => {
                vec![(AttentionMask, Some(*row)), (Steps, None), (SeqLen, None)]
            }
            ConfigError::TokenCount { .. } => plain(&[Tokens, Steps, SeqLen, Decode]),
            ConfigError::BadEps { .. } => plain(&[RmsNormEps, Preset]),
            ConfigError::BadTheta { .. } => plain(&[RopeTheta, Preset]),
        }
    }

    /// The message, with every key named by `name` (`--head-dim` on the command line,
    /// `head_dim` in a lesson file).
    pub fn describe(&self, name: &dyn Fn(ConfigKey) -> String) -> String {
        use ConfigKey::*;
        match self {
            ConfigError::UnknownPreset { name: p, known } => {
                // One key sets a preset: the message needs no name for it.
                format!(
                    "unknown preset '{}'; known presets: {known}",
                    p.escape_debug()
                )
            }
            ConfigError::Zero { key } => format!(
                "{key} must be at least 1 (got 0){}; set {} to a positive number",
                zero_why(*key),
                name(*key)
            ),
            ConfigError::HeadDimZero {
                hidden_size,
                num_attention_heads,
            } => head_dim_zero(*hidden_size, *num_attention_heads, name),
            ConfigError::HeadDimUndefined {
                hidden_size,
                num_attention_heads,
            } => head_dim_undefined(*hidden_size, *num_attention_heads, name),
            ConfigError::ProjectionOverflow {
                num_attention_heads,
                head_dim,
            } => format!(
                "num_attention_heads × head_dim ({num_attention_heads} × {head_dim}) is too \
                 large: q_proj's output does not fit in a 64-bit size; use a smaller {} or {}",
                name(NumAttentionHeads),
                name(HeadDim)
            ),
            ConfigError::HeadsNotDivisible { heads, kv_heads } => {
                heads_not_divisible(*heads, *kv_heads, name)
            }
            ConfigError::OddHeadDim {
                head_dim,
                derived_from,
            } => odd_head_dim(*head_dim, *derived_from, name),
            ConfigError::NoSteps => format!(
                "{} is empty; give at least one chunk size, e.g. 5, 1, 1",
                name(Steps)
            ),
            ConfigError::ZeroStep { index } => format!(
                "step {index} of {} has 0 tokens; every forward call needs at least one token",
                name(Steps)
            ),
            ConfigError::TooManySteps { steps, decode } => format!(
                "{} forward calls ({steps} in {} and {decode} from {}) are too many: {} may list \
                 at most {} calls and {} may add at most {}",
                steps.saturating_add(*decode),
                name(Steps),
                name(Decode),
                name(Steps),
                super::MAX_STEPS,
                name(Decode),
                super::MAX_DECODE
            ),
            ConfigError::TooManyTokens { steps, decode } => format!(
                "the total length is too large: {} ({steps}) and {decode} {} call(s) add up to \
                 more than {} tokens; use shorter steps",
                name(Steps),
                name(Decode),
                crate::text::thousands(super::MAX_TOKENS as u128)
            ),
            ConfigError::MaskRows { got, batch } => format!(
                "{} has {got} row(s) but {} is {batch}; give one 0/1 string per batch row",
                name(AttentionMask),
                name(Batch)
            ),
            ConfigError::MaskChar { row, col, ch } => format!(
                "{} row {row} has '{}' at column {col}; use only 0 (padding) and 1 (real token)",
                name(AttentionMask),
                ch.escape_debug()
            ),
            ConfigError::MaskLen { row, got, want } => format!(
                "{} row {row} has {got} entries but the steps cover {want} tokens; give one \
                 0/1 per token of every step",
                name(AttentionMask)
            ),
            ConfigError::TokenCount { got, want, steps } => format!(
                "{} gives {got} token(s) but the steps ({steps}) cover {want}; give one word per \
                 position",
                name(Tokens)
            ),
            ConfigError::BadEps { eps } => format!(
                "{} must be a number >= 0 that is finite in f32, the precision attnstep computes \
                 in (got {})",
                name(RmsNormEps),
                number(*eps)
            ),
            ConfigError::BadTheta { theta } => bad_theta(*theta, name),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(&|k| k.as_str().to_owned()))
    }
}

impl std::error::Error for ConfigError {}

fn head_dim_zero(
    hidden_size: usize,
    num_attention_heads: usize,
    name: &dyn Fn(ConfigKey) -> String,
) -> String {
    use ConfigKey::*;
    format!(
        "head_dim would be 0: it is not given, so it is hidden_size // num_attention_heads \
         = {hidden_size} // {num_attention_heads} = 0, and each head needs features for \
         RoPE and the 1/sqrt(head_dim) scale. Make {} at least {} or {} at most \
         {hidden_size}, or set {}",
        name(HiddenSize),
        num_attention_heads,
        name(NumAttentionHeads),
        name(HeadDim)
    )
}

fn heads_not_divisible(
    heads: usize,
    kv_heads: usize,
    name: &dyn Fn(ConfigKey) -> String,
) -> String {
    format!(
        "num_attention_heads ({heads}) must be divisible by num_key_value_heads \
         ({kv_heads}): repeat_kv needs num_attention_heads ({heads}) to be a multiple of \
         num_key_value_heads ({kv_heads}), so each KV head serves n_rep = \
         num_attention_heads / num_key_value_heads query heads. n_rep = {heads} // \
         {kv_heads} = {} would give {} key/value heads for {heads} query heads, and \
         `xq @ xk.transpose(-2, -1)` could not pair them. {}",
        heads / kv_heads,
        (heads / kv_heads) as u128 * kv_heads as u128,
        kv_heads_advice(heads, &name(ConfigKey::NumKeyValueHeads))
    )
}

fn bad_theta(theta: f64, name: &dyn Fn(ConfigKey) -> String) -> String {
    format!(
        "{} must be a number from {:e} to {:e}, so that it and every RoPE frequency stay \
         finite and non-zero in f32, the precision attnstep computes in (got {}, \
         which is {} in f32)",
        name(ConfigKey::RopeTheta),
        f32::MIN_POSITIVE,
        f32::MAX,
        number(theta),
        number(f64::from(theta as f32))
    )
}

/// A number as a person would write it: `0.5`, `1e-300`, `inf`.
fn number(x: f64) -> String {
    if x == 0.0 || !x.is_finite() || (1e-4..1e16).contains(&x.abs()) {
        x.to_string()
    } else {
        format!("{x:e}")
    }
}

/// Which MiniMind line a zero size breaks.
fn zero_why(key: ConfigKey) -> &'static str {
    match key {
        ConfigKey::HiddenSize => {
            ": x = [bsz, seq_len, hidden=0] has no features for q_proj to project"
        }
        ConfigKey::NumAttentionHeads => {
            ": xq.view(bsz, seq_len, 0, head_dim) has no heads, and \
             head_dim = hidden_size // num_attention_heads divides by zero"
        }
        ConfigKey::NumKeyValueHeads => {
            ": n_rep = num_attention_heads // num_key_value_heads divides by zero"
        }
        ConfigKey::HeadDim => {
            ": each head needs features for RoPE and for the 1/sqrt(head_dim) scale"
        }
        ConfigKey::Batch => ": x = [bsz=0, seq_len, hidden] holds no sequence",
        _ => "",
    }
}

fn head_dim_undefined(hidden: usize, heads: usize, name: &dyn Fn(ConfigKey) -> String) -> String {
    let lo = hidden / heads;
    format!(
        "xq.view(bsz, seq_len, {heads}, {hidden} / {heads}) cannot work: head_dim is not given, \
         so it comes from hidden_size, and hidden_size ({hidden}) is not divisible by \
         num_attention_heads ({heads}): {hidden} / {heads} = {} is not a whole number of features \
         per head ({heads} heads × {lo} = {}, {heads} heads × {} = {}). Python's hidden_size // \
         num_attention_heads would quietly use head_dim {lo}, so the heads would cover {} of the \
         {hidden} features. Change {} or {} so the heads divide it, or give {} explicitly \
         (q_proj then outputs num_heads × head_dim features)",
        hidden as f64 / heads as f64,
        lo as u128 * heads as u128,
        lo + 1,
        (lo + 1) as u128 * heads as u128,
        lo as u128 * heads as u128,
        name(ConfigKey::HiddenSize),
        name(ConfigKey::NumAttentionHeads),
        name(ConfigKey::HeadDim)
    )
}

fn odd_head_dim(
    head_dim: usize,
    derived_from: Option<(usize, usize)>,
    name: &dyn Fn(ConfigKey) -> String,
) -> String {
    let half = head_dim / 2;
    let advice = match derived_from {
        None => format!("Use an even {}", name(ConfigKey::HeadDim)),
        Some((hidden, heads)) => format!(
            "head_dim is not given, so it is {} / {} = {hidden} / {heads}: change {} or {} so \
             the quotient is even, or set an even {}",
            name(ConfigKey::HiddenSize),
            name(ConfigKey::NumAttentionHeads),
            name(ConfigKey::HiddenSize),
            name(ConfigKey::NumAttentionHeads),
            name(ConfigKey::HeadDim)
        ),
    };
    format!(
        "head_dim ({head_dim}) must be even: RoPE works on two halves of each head. \
         precompute_freqs_cis makes cos and sin with 2 × (head_dim // 2) = {} columns, so \
         `q * cos` in apply_rotary_pos_emb cannot broadcast [.., head_dim={head_dim}] against \
         [.., {}], and rotate_half's halves x[..., :{half}] and x[..., {half}:] differ in size. \
         {advice}",
        half * 2,
        half * 2,
    )
}

/// Suggests KV head counts that work with `heads` query heads: its divisors, when few enough
/// to list.
fn kv_heads_advice(heads: usize, key: &str) -> String {
    if heads > 1 << 20 {
        return format!("Use a {key} that divides num_attention_heads");
    }
    let divisors: Vec<String> = (1..=heads)
        .filter(|d| heads.is_multiple_of(*d))
        .map(|d| d.to_string())
        .collect();
    let list = match divisors.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => divisors.join(""),
    };
    format!("Use {key} {list} (the divisors of {heads})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_caller() {
        let e = ConfigError::MaskLen {
            row: 1,
            got: 3,
            want: 4,
        };
        assert!(
            e.to_string()
                .starts_with("attention_mask row 1 has 3 entries")
        );
        let flag = e.describe(&|k| format!("--{}", k.as_str().replace('_', "-")));
        assert!(
            flag.starts_with("--attention-mask row 1 has 3 entries"),
            "{flag}"
        );
        assert_eq!(e.keys()[0], (ConfigKey::AttentionMask, Some(1)));
    }

    #[test]
    fn every_key_has_a_distinct_name_and_aliases_resolve() {
        for k in ConfigKey::ALL {
            assert_eq!(ConfigKey::from_name(k.as_str()), Some(k));
        }
        assert_eq!(
            ConfigKey::from_name("num_heads"),
            Some(ConfigKey::NumAttentionHeads)
        );
        assert_eq!(ConfigKey::from_name("heads"), None);
    }

    #[test]
    fn odd_head_dim_advice_follows_where_head_dim_came_from() {
        let given = ConfigError::OddHeadDim {
            head_dim: 7,
            derived_from: None,
        };
        assert!(given.to_string().ends_with("Use an even head_dim"));
        let derived = ConfigError::OddHeadDim {
            head_dim: 7,
            derived_from: Some((28, 4)),
        }
        .to_string();
        assert!(!derived.contains("Use an even"), "{derived}");
        assert!(
            derived.contains("hidden_size / num_attention_heads = 28 / 4"),
            "{derived}"
        );
    }
}
