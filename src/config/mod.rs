//! The attention configuration: every value MiniMind's `Attention` needs, the presets, and the
//! validation that turns a bad configuration into a message saying what to change.
//!
//! Values arrive as a [`ConfigSpec`] (all optional: from flags, a lesson file, a preset) and are
//! resolved into a validated [`Config`]. Later layers override earlier ones:
//! defaults < preset < lesson < command-line flags.

mod error;

use serde::{Deserialize, Serialize};

pub use error::{ConfigError, ConfigKey};

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
    pub bug: Option<crate::bugs::kind::Bug>,
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

    /// Whether this layer sets `key` (what a front end needs to name a key the user wrote).
    pub fn sets(&self, key: ConfigKey) -> bool {
        match key {
            ConfigKey::Preset => self.preset.is_some(),
            ConfigKey::HiddenSize => self.hidden_size.is_some(),
            ConfigKey::NumAttentionHeads => self.num_attention_heads.is_some(),
            ConfigKey::NumKeyValueHeads => self.num_key_value_heads.is_some(),
            ConfigKey::HeadDim => self.head_dim.is_some(),
            ConfigKey::Batch => self.batch.is_some(),
            ConfigKey::Steps => self.steps.is_some(),
            ConfigKey::SeqLen => self.seq_len.is_some(),
            ConfigKey::Decode => self.decode.is_some(),
            ConfigKey::AttentionMask => self.attention_mask.is_some(),
            ConfigKey::QkNorm => self.qk_norm.is_some(),
            ConfigKey::RmsNormEps => self.rms_norm_eps.is_some(),
            ConfigKey::RopeTheta => self.rope_theta.is_some(),
            ConfigKey::Causal => self.causal.is_some(),
            ConfigKey::Seed => self.seed.is_some(),
            ConfigKey::Tokens => self.tokens.is_some(),
        }
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
        let (hidden_size, num_attention_heads, num_key_value_heads, head_dim) =
            self.resolve_heads(preset)?;

        let batch = self.batch.unwrap_or(defaults::BATCH);
        nonzero(ConfigKey::Batch, batch)?;
        let steps = self.resolve_steps()?;
        let total_len = steps.iter().sum();

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
        // The engine computes in f32: a value must survive the conversion, not only be valid
        // as an f64 (1e300 is infinite in f32).
        if !(rms_norm_eps >= 0.0 && (rms_norm_eps as f32).is_finite()) {
            return Err(ConfigError::BadEps { eps: rms_norm_eps });
        }
        let rope_theta = self
            .rope_theta
            .or(preset.map(|p| p.rope_theta))
            .unwrap_or(defaults::ROPE_THETA);
        // 1 / theta^((head_dim-2)/head_dim) must stay finite in f32: theta at least the
        // smallest normal f32 (1e-300 is 0 in f32, and every output would be NaN).
        let theta32 = rope_theta as f32;
        if !(theta32.is_finite() && theta32 >= f32::MIN_POSITIVE) {
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

    /// Hidden size, query heads, KV heads and head_dim, checked against each other.
    fn resolve_heads(
        &self,
        preset: Option<&Preset>,
    ) -> Result<(usize, usize, usize, usize), ConfigError> {
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
        nonzero(ConfigKey::HiddenSize, hidden_size)?;
        nonzero(ConfigKey::NumAttentionHeads, num_attention_heads)?;
        nonzero(ConfigKey::NumKeyValueHeads, num_key_value_heads)?;

        // MiniMind: head_dim = kwargs.get("head_dim", hidden_size // num_attention_heads).
        // A preset's head_dim only applies while the preset's hidden size and head count do.
        let preset_head_dim = preset.and_then(|p| {
            (p.hidden_size == hidden_size && p.num_attention_heads == num_attention_heads)
                .then_some(p.head_dim)
        });
        let given = self.head_dim.or(preset_head_dim);
        let head_dim = match given {
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
        if head_dim == 0 {
            return Err(match given {
                Some(_) => ConfigError::Zero {
                    key: ConfigKey::HeadDim,
                },
                None => ConfigError::HeadDimZero {
                    hidden_size,
                    num_attention_heads,
                },
            });
        }
        // q_proj's output features; the Python would build this Linear, we must not overflow.
        if num_attention_heads.checked_mul(head_dim).is_none() {
            return Err(ConfigError::ProjectionOverflow {
                num_attention_heads,
                head_dim,
            });
        }
        if !num_attention_heads.is_multiple_of(num_key_value_heads) {
            return Err(ConfigError::HeadsNotDivisible {
                heads: num_attention_heads,
                kv_heads: num_key_value_heads,
            });
        }
        if !head_dim.is_multiple_of(2) {
            return Err(ConfigError::OddHeadDim {
                head_dim,
                derived_from: given
                    .is_none()
                    .then_some((hidden_size, num_attention_heads)),
            });
        }
        Ok((
            hidden_size,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
        ))
    }

    /// The chunk sizes of the forward calls, decode calls appended, within the caps.
    fn resolve_steps(&self) -> Result<Vec<usize>, ConfigError> {
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
        // Each call is a step of the trace: refuse long lists before any work is done on them.
        if steps.len() > MAX_STEPS || decode > MAX_DECODE {
            return Err(ConfigError::TooManySteps {
                steps: steps.len(),
                decode,
            });
        }
        let total = steps
            .iter()
            .try_fold(decode, |acc, &s| acc.checked_add(s))
            .filter(|&t| t <= MAX_TOKENS);
        if total.is_none() {
            return Err(ConfigError::TooManyTokens {
                steps: steps_text(&steps),
                decode,
            });
        }
        steps.extend(std::iter::repeat_n(1, decode));
        Ok(steps)
    }
}

/// The most forward calls a configuration may list one by one (`steps`, `--steps`).
pub const MAX_STEPS: usize = 4096;
/// The most one-token decode calls (`decode`, `--decode`): `shapes` groups them, so a million
/// costs nothing there, and the memory guard refuses a numeric run of them in closed form.
pub const MAX_DECODE: usize = 1 << 22;
/// The most tokens over all steps (2^50): `shapes` shows any model at any length without
/// computing numbers, so this only keeps every size product far inside u128.
pub const MAX_TOKENS: usize = 1 << 50;

fn nonzero(key: ConfigKey, value: usize) -> Result<(), ConfigError> {
    if value == 0 {
        Err(ConfigError::Zero { key })
    } else {
        Ok(())
    }
}

/// `5+1+1`; a long list is cut after a few entries so a message stays short.
fn steps_text(steps: &[usize]) -> String {
    const SHOWN: usize = 6;
    let head: Vec<String> = steps.iter().take(SHOWN).map(usize::to_string).collect();
    if steps.len() <= SHOWN {
        head.join("+")
    } else {
        format!("{}+… ({} steps)", head.join("+"), steps.len())
    }
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
