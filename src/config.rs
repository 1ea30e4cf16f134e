//! The attention configuration: every value MiniMind's `Attention` needs, the presets, and the
//! validation that turns a bad configuration into a message saying what to change.
//!
//! Values arrive as a [`ConfigSpec`] (all optional: from flags, a lesson file, a preset) and are
//! resolved into a validated [`Config`]. Later layers override earlier ones:
//! defaults < preset < lesson < command-line flags.

use serde::{Deserialize, Serialize};

use crate::presets::{self, Preset};

/// A validated configuration. Construct it with [`ConfigSpec::resolve`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Config {
    pub hidden_size: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub head_dim: usize,
    pub batch: usize,
    /// Tokens per forward call: the prefill first, then each later call through the KV cache.
    pub steps: Vec<usize>,
    /// One row per batch entry, one 0/1 per token of every step (`[bsz, total_len]`).
    pub attention_mask: Option<Vec<Vec<u8>>>,
    pub qk_norm: bool,
    pub rms_norm_eps: f64,
    pub rope_theta: f64,
    pub causal: bool,
    pub seed: u64,
    /// Labels for the positions (one per token of every step), shown on matrix rows and columns.
    pub tokens: Option<Vec<String>>,
    /// The preset this configuration started from, if any.
    pub preset: Option<String>,
    /// A slip planted in the forward pass (lessons that hunt a bug); `None` runs MiniMind's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bug: Option<crate::bugs::Bug>,
}

impl Config {
    /// n_rep = n_heads / n_kv_heads: how many query heads share each KV head.
    pub fn n_rep(&self) -> usize {
        self.num_attention_heads / self.num_key_value_heads
    }

    /// Tokens over all steps (the final kv_len).
    pub fn total_len(&self) -> usize {
        self.steps.iter().sum()
    }

    /// The position of the first token of step `i` (= past_len of that call).
    pub fn start_pos(&self, step: usize) -> usize {
        self.steps[..step].iter().sum()
    }

    /// A label for position `pos`: the token if given, else the position number.
    pub fn token_label(&self, pos: usize) -> String {
        match &self.tokens {
            Some(t) if pos < t.len() => t[pos].clone(),
            _ => pos.to_string(),
        }
    }
}

/// Default values used when neither a preset, a lesson nor a flag sets a field: a small GQA
/// configuration whose numbers fit on one screen.
pub mod defaults {
    pub const HIDDEN_SIZE: usize = 32;
    pub const NUM_HEADS: usize = 4;
    pub const NUM_KV_HEADS: usize = 2;
    pub const SEQ_LEN: usize = 5;
    pub const BATCH: usize = 1;
    pub const RMS_NORM_EPS: f64 = 1e-5;
    pub const ROPE_THETA: f64 = 1e6;
    pub const SEED: u64 = 7;
}

/// A partial configuration: what a flag set, a lesson file or a preset says. Every field is
/// optional; [`ConfigSpec::overridden_by`] layers two of them and [`ConfigSpec::resolve`]
/// validates the result.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigSpec {
    pub preset: Option<String>,
    pub hidden_size: Option<usize>,
    #[serde(alias = "num_heads")]
    pub num_attention_heads: Option<usize>,
    #[serde(alias = "num_kv_heads")]
    pub num_key_value_heads: Option<usize>,
    pub head_dim: Option<usize>,
    pub batch: Option<usize>,
    /// Chunk sizes of the forward calls, e.g. `[5, 1, 1]`.
    pub steps: Option<Vec<usize>>,
    /// Same as `steps = [seq_len]`.
    pub seq_len: Option<usize>,
    /// Number of one-token decode calls appended after `steps`.
    pub decode: Option<usize>,
    /// One string of 0/1 per batch row, e.g. `["0111111", "1111111"]`.
    pub attention_mask: Option<Vec<String>>,
    pub qk_norm: Option<bool>,
    pub rms_norm_eps: Option<f64>,
    pub rope_theta: Option<f64>,
    pub causal: Option<bool>,
    pub seed: Option<u64>,
    /// Token labels, one per position, separated by spaces.
    pub tokens: Option<String>,
}

macro_rules! layer {
    ($base:expr, $over:expr, $($field:ident),*) => {
        ConfigSpec { $($field: $over.$field.clone().or_else(|| $base.$field.clone())),* }
    };
}

impl ConfigSpec {
    /// `self` with every field that `over` sets replaced by `over`'s value.
    pub fn overridden_by(&self, over: &ConfigSpec) -> ConfigSpec {
        let mut merged = layer!(
            self,
            over,
            preset,
            hidden_size,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            batch,
            steps,
            seq_len,
            decode,
            attention_mask,
            qk_norm,
            rms_norm_eps,
            rope_theta,
            causal,
            seed,
            tokens
        );
        // `steps` and `seq_len` say the same thing: the later layer's choice wins whole.
        if over.steps.is_some() {
            merged.seq_len = None;
        } else if over.seq_len.is_some() {
            merged.steps = None;
        }
        merged
    }

    /// Applies the preset (if any) under the explicit values, fills defaults and validates.
    pub fn resolve(&self) -> Result<Config, ConfigError> {
        let preset: Option<&Preset> = match &self.preset {
            None => None,
            Some(name) => Some(
                presets::find(name).ok_or_else(|| ConfigError::UnknownPreset {
                    name: name.clone(),
                    known: presets::names().join(", "),
                })?,
            ),
        };

        let hidden_size = self
            .hidden_size
            .or(preset.map(|p| p.hidden_size))
            .unwrap_or(defaults::HIDDEN_SIZE);
        let num_attention_heads = self
            .num_attention_heads
            .or(preset.map(|p| p.num_attention_heads))
            .unwrap_or(defaults::NUM_HEADS);
        let num_key_value_heads = self
            .num_key_value_heads
            .or(preset.map(|p| p.num_key_value_heads))
            .unwrap_or(defaults::NUM_KV_HEADS);
        nonzero("hidden_size", hidden_size, "--hidden-size")?;
        nonzero("num_attention_heads", num_attention_heads, "--num-heads")?;
        nonzero("num_key_value_heads", num_key_value_heads, "--num-kv-heads")?;

        // MiniMind: head_dim = kwargs.get("head_dim", hidden_size // num_attention_heads).
        // A preset's head_dim only applies while the preset's hidden size and head count do.
        let preset_head_dim = preset.and_then(|p| {
            (p.hidden_size == hidden_size && p.num_attention_heads == num_attention_heads)
                .then_some(p.head_dim)
        });
        let head_dim = match self.head_dim.or(preset_head_dim) {
            Some(d) => d,
            None => {
                if !hidden_size.is_multiple_of(num_attention_heads) {
                    return Err(ConfigError::HeadDimUndefined {
                        hidden_size,
                        num_attention_heads,
                    });
                }
                hidden_size / num_attention_heads
            }
        };
        nonzero("head_dim", head_dim, "--head-dim")?;
        // q_proj's output features; the Python would build this Linear, we must not overflow.
        if num_attention_heads.checked_mul(head_dim).is_none() {
            return Err(ConfigError::TooLarge {
                what: format!(
                    "num_attention_heads × head_dim ({num_attention_heads} × {head_dim})"
                ),
                why: OVERFLOW,
            });
        }
        if !num_attention_heads.is_multiple_of(num_key_value_heads) {
            return Err(ConfigError::HeadsNotDivisible {
                heads: num_attention_heads,
                kv_heads: num_key_value_heads,
            });
        }
        if !head_dim.is_multiple_of(2) {
            return Err(ConfigError::OddHeadDim { head_dim });
        }

        let batch = self.batch.unwrap_or(defaults::BATCH);
        nonzero("batch", batch, "--batch")?;

        let mut steps = match (&self.steps, self.seq_len) {
            (Some(s), _) => s.clone(),
            (None, Some(n)) => vec![n],
            (None, None) => vec![defaults::SEQ_LEN],
        };
        if steps.is_empty() {
            return Err(ConfigError::NoSteps);
        }
        if let Some(i) = steps.iter().position(|&s| s == 0) {
            return Err(ConfigError::ZeroStep { index: i + 1 });
        }
        let decode = self.decode.unwrap_or(0);
        // Each call is a step of the trace; past a million they would only exhaust memory.
        if decode > MAX_DECODE {
            return Err(ConfigError::TooLarge {
                what: format!("--decode {decode}"),
                why: "each decode call is one step of the trace; use at most 1048576",
            });
        }
        let total_len = steps
            .iter()
            .try_fold(decode, |acc, &s| acc.checked_add(s))
            .ok_or_else(|| ConfigError::TooLarge {
                what: format!(
                    "the total length ({} + {decode} decode)",
                    steps_text(&steps)
                ),
                why: OVERFLOW,
            })?;
        steps.extend(std::iter::repeat_n(1, decode));

        let attention_mask = match &self.attention_mask {
            None => None,
            Some(rows) => Some(parse_mask(rows, batch, total_len)?),
        };

        let tokens = match &self.tokens {
            None => None,
            Some(text) => {
                let words: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
                if words.len() != total_len {
                    return Err(ConfigError::TokenCount {
                        got: words.len(),
                        want: total_len,
                        steps: steps_text(&steps),
                    });
                }
                Some(words)
            }
        };

        let rms_norm_eps = self
            .rms_norm_eps
            .or(preset.map(|p| p.rms_norm_eps))
            .unwrap_or(defaults::RMS_NORM_EPS);
        if !(rms_norm_eps.is_finite() && rms_norm_eps >= 0.0) {
            return Err(ConfigError::BadEps { eps: rms_norm_eps });
        }
        let rope_theta = self
            .rope_theta
            .or(preset.map(|p| p.rope_theta))
            .unwrap_or(defaults::ROPE_THETA);
        if !(rope_theta.is_finite() && rope_theta > 0.0) {
            return Err(ConfigError::BadTheta { theta: rope_theta });
        }

        Ok(Config {
            hidden_size,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            batch,
            steps,
            attention_mask,
            qk_norm: self.qk_norm.or(preset.map(|p| p.qk_norm)).unwrap_or(false),
            rms_norm_eps,
            rope_theta,
            causal: self.causal.unwrap_or(true),
            seed: self.seed.unwrap_or(defaults::SEED),
            tokens,
            preset: self.preset.clone(),
            bug: None,
        })
    }
}

const OVERFLOW: &str = "it does not fit in a 64-bit size; use smaller values";

/// The most one-token decode calls a configuration may append.
pub const MAX_DECODE: usize = 1 << 20;

fn nonzero(field: &'static str, value: usize, flag: &'static str) -> Result<(), ConfigError> {
    if value == 0 {
        Err(ConfigError::Zero { field, flag })
    } else {
        Ok(())
    }
}

fn steps_text(steps: &[usize]) -> String {
    steps
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("+")
}

fn parse_mask(
    rows: &[String],
    batch: usize,
    total_len: usize,
) -> Result<Vec<Vec<u8>>, ConfigError> {
    if rows.len() != batch {
        return Err(ConfigError::MaskRows {
            got: rows.len(),
            batch,
        });
    }
    rows.iter()
        .enumerate()
        .map(|(r, row)| {
            let row = row.trim();
            let bits: Vec<u8> = row
                .chars()
                .enumerate()
                .map(|(c, ch)| match ch {
                    '0' => Ok(0),
                    '1' => Ok(1),
                    other => Err(ConfigError::MaskChar {
                        row: r,
                        col: c,
                        ch: other,
                    }),
                })
                .collect::<Result<_, _>>()?;
            if bits.len() != total_len {
                return Err(ConfigError::MaskLen {
                    row: r,
                    got: bits.len(),
                    want: total_len,
                });
            }
            Ok(bits)
        })
        .collect()
}

/// Which MiniMind line a zero size breaks.
fn zero_why(field: &str) -> &'static str {
    match field {
        "hidden_size" => ": x = [bsz, seq_len, hidden=0] has no features for q_proj to project",
        "num_attention_heads" => {
            ": xq.view(bsz, seq_len, 0, head_dim) has no heads, and \
             head_dim = hidden_size // num_attention_heads divides by zero"
        }
        "num_key_value_heads" => {
            ": n_rep = num_attention_heads // num_key_value_heads divides by zero"
        }
        "head_dim" => ": each head needs features for RoPE and for the 1/sqrt(head_dim) scale",
        "batch" => ": x = [bsz=0, seq_len, hidden] holds no sequence",
        _ => "",
    }
}

/// Suggests KV head counts that work with `heads` query heads: its divisors, when few enough
/// to list.
fn kv_heads_advice(heads: usize) -> String {
    if heads > 1 << 20 {
        return "Use a --num-kv-heads that divides num_attention_heads".to_owned();
    }
    let divisors: Vec<String> = (1..=heads)
        .filter(|d| heads.is_multiple_of(*d))
        .map(|d| d.to_string())
        .collect();
    let list = match divisors.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => divisors.join(""),
    };
    format!("Use --num-kv-heads {list} (the divisors of {heads})")
}

/// Why a configuration cannot run, worded so the user knows what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown preset '{name}'; known presets: {known}")]
    UnknownPreset { name: String, known: String },
    #[error(
        "{field} must be at least 1 (got 0){}; set {flag} to a positive number",
        zero_why(field)
    )]
    Zero {
        field: &'static str,
        flag: &'static str,
    },
    #[error(
        "xq.view(bsz, seq_len, {num_attention_heads}, {hidden_size} / {num_attention_heads}) cannot work: \
         head_dim is not given, so it comes from hidden_size, and hidden_size ({hidden_size}) is not \
         divisible by num_attention_heads ({num_attention_heads}): {hidden_size} / {num_attention_heads} = {} \
         is not a whole number of features per head ({num_attention_heads} heads × {} = {}, \
         {num_attention_heads} heads × {} = {}). Python's hidden_size // num_attention_heads would \
         quietly use head_dim {}, so the heads would cover {} of the {hidden_size} features. \
         Change --hidden-size or --num-heads so the heads divide it, or give --head-dim explicitly \
         (q_proj then outputs num_heads × head_dim features)",
        *.hidden_size as f64 / *.num_attention_heads as f64,
        .hidden_size / .num_attention_heads,
        (.hidden_size / .num_attention_heads) as u128 * *.num_attention_heads as u128,
        .hidden_size / .num_attention_heads + 1,
        (.hidden_size / .num_attention_heads + 1) as u128 * *.num_attention_heads as u128,
        .hidden_size / .num_attention_heads,
        (.hidden_size / .num_attention_heads) as u128 * *.num_attention_heads as u128
    )]
    HeadDimUndefined {
        hidden_size: usize,
        num_attention_heads: usize,
    },
    #[error(
        "num_attention_heads ({heads}) must be divisible by num_key_value_heads ({kv_heads}): \
         repeat_kv needs num_attention_heads ({heads}) to be a multiple of num_key_value_heads \
         ({kv_heads}), so each KV head serves n_rep = num_attention_heads / num_key_value_heads \
         query heads. n_rep = {heads} // {kv_heads} = {} would give {} key/value heads for {heads} \
         query heads, and `xq @ xk.transpose(-2, -1)` could not pair them. {}",
        .heads / .kv_heads,
        (.heads / .kv_heads) as u128 * *.kv_heads as u128,
        kv_heads_advice(*.heads)
    )]
    HeadsNotDivisible { heads: usize, kv_heads: usize },
    #[error(
        "head_dim ({head_dim}) must be even: RoPE works on two halves of each head. \
         precompute_freqs_cis makes cos and sin with 2 × (head_dim // 2) = {} columns, so \
         `q * cos` in apply_rotary_pos_emb cannot broadcast [.., head_dim={head_dim}] against \
         [.., {}], and rotate_half's halves x[..., :{}] and x[..., {}:] differ in size. \
         Use an even --head-dim",
        .head_dim / 2 * 2,
        .head_dim / 2 * 2,
        .head_dim / 2,
        .head_dim / 2
    )]
    OddHeadDim { head_dim: usize },
    #[error("{what} is too large: {why}")]
    TooLarge { what: String, why: &'static str },
    #[error("steps is empty; give at least one chunk size, e.g. --steps 5,1,1")]
    NoSteps,
    #[error("step {index} has 0 tokens; every forward call needs at least one token")]
    ZeroStep { index: usize },
    #[error(
        "--attention-mask has {got} row(s) but batch is {batch}; give one 0/1 string per batch row, \
         separated by commas"
    )]
    MaskRows { got: usize, batch: usize },
    #[error(
        "--attention-mask row {row} has '{ch}' at column {col}; use only 0 (padding) and 1 (real token)"
    )]
    MaskChar { row: usize, col: usize, ch: char },
    #[error(
        "--attention-mask row {row} has {got} entries but the steps cover {want} tokens; \
         give one 0/1 per token of every step"
    )]
    MaskLen { row: usize, got: usize, want: usize },
    #[error(
        "--tokens gives {got} token(s) but the steps ({steps}) cover {want}; give one word per position"
    )]
    TokenCount {
        got: usize,
        want: usize,
        steps: String,
    },
    #[error("rms_norm_eps must be a finite number >= 0 (got {eps})")]
    BadEps { eps: f64 },
    #[error("rope_theta must be a finite number > 0 (got {theta})")]
    BadTheta { theta: f64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ConfigSpec {
        ConfigSpec::default()
    }

    #[test]
    fn defaults_are_a_small_gqa_config() {
        let c = spec().resolve().unwrap();
        assert_eq!(
            (
                c.hidden_size,
                c.num_attention_heads,
                c.num_key_value_heads,
                c.head_dim
            ),
            (32, 4, 2, 8)
        );
        assert_eq!(c.steps, vec![5]);
        assert!(c.causal && !c.qk_norm);
    }

    #[test]
    fn presets_match_minimind() {
        let m2 = ConfigSpec {
            preset: Some("minimind2".into()),
            ..spec()
        }
        .resolve()
        .unwrap();
        assert_eq!(
            (
                m2.hidden_size,
                m2.num_attention_heads,
                m2.num_key_value_heads
            ),
            (512, 8, 2)
        );
        assert_eq!(
            (m2.head_dim, m2.qk_norm, m2.rms_norm_eps),
            (64, false, 1e-5)
        );
        let m3 = ConfigSpec {
            preset: Some("minimind3".into()),
            ..spec()
        }
        .resolve()
        .unwrap();
        assert_eq!(
            (
                m3.hidden_size,
                m3.num_attention_heads,
                m3.num_key_value_heads
            ),
            (768, 8, 4)
        );
        assert_eq!((m3.head_dim, m3.qk_norm, m3.rms_norm_eps), (96, true, 1e-6));
        assert_eq!(m3.rope_theta, 1e6);
    }

    #[test]
    fn flags_override_presets_and_decode_appends() {
        let c = ConfigSpec {
            preset: Some("minimind2".into()),
            num_key_value_heads: Some(8),
            steps: Some(vec![5]),
            decode: Some(2),
            ..spec()
        }
        .resolve()
        .unwrap();
        assert_eq!(c.num_key_value_heads, 8);
        assert_eq!(c.steps, vec![5, 1, 1]);
        assert_eq!(c.start_pos(2), 6);
    }

    #[test]
    fn later_layer_wins_between_steps_and_seq_len() {
        let lesson = ConfigSpec {
            steps: Some(vec![4, 1]),
            ..spec()
        };
        let flags = ConfigSpec {
            seq_len: Some(3),
            ..spec()
        };
        assert_eq!(
            lesson.overridden_by(&flags).resolve().unwrap().steps,
            vec![3]
        );
    }

    #[test]
    fn validation_names_the_field_and_rule() {
        let err = ConfigSpec {
            num_attention_heads: Some(8),
            num_key_value_heads: Some(3),
            hidden_size: Some(64),
            ..spec()
        }
        .resolve()
        .unwrap_err();
        assert!(
            err.to_string().starts_with(
                "num_attention_heads (8) must be divisible by num_key_value_heads (3)"
            )
        );
        let err = ConfigSpec {
            attention_mask: Some(vec!["01121".into()]),
            ..spec()
        }
        .resolve()
        .unwrap_err();
        assert_eq!(
            err,
            ConfigError::MaskChar {
                row: 0,
                col: 3,
                ch: '2'
            }
        );
    }
}
