//! config.json: the model's sizes as MiniMind's `MiniMindConfig` reads them.
//!
//! A key that is absent takes MiniMindConfig's default (`kwargs.get(key, default)`), so a
//! config.json written by MiniMind's own `save_pretrained` and a hand-trimmed one mean the same
//! model. Keys attnstep does not model (YaRN RoPE scaling, an activation other than silu) are
//! refused, never ignored. Other keys (dropout, flash_attn, bos_token_id, …) change nothing at
//! inference and are skipped.

use serde::Deserialize;
use serde_json::Value;

use super::error::CheckpointError;

/// The model described by config.json, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub head_dim: usize,
    pub intermediate_size: usize,
    pub vocab_size: usize,
    pub rms_norm_eps: f64,
    pub rope_theta: f64,
    pub max_position_embeddings: usize,
    pub tie_word_embeddings: bool,
    /// The mixture of experts, when `use_moe` is true.
    pub moe: Option<MoeConfig>,
}

/// MiniMind's `MOEFeedForward` settings.
#[derive(Clone, Debug, PartialEq)]
pub struct MoeConfig {
    pub num_experts: usize,
    pub num_experts_per_tok: usize,
    pub moe_intermediate_size: usize,
    pub norm_topk_prob: bool,
}

/// config.json as written; `None` is an absent key (or, where MiniMind allows it, `null`).
#[derive(Deserialize)]
struct Raw {
    hidden_size: Option<usize>,
    num_hidden_layers: Option<usize>,
    num_attention_heads: Option<usize>,
    /// Absent (MiniMind's default, 4) differs from `null` (as many as the query heads).
    #[serde(default, deserialize_with = "present")]
    num_key_value_heads: Option<Option<usize>>,
    head_dim: Option<usize>,
    intermediate_size: Option<usize>,
    vocab_size: Option<usize>,
    rms_norm_eps: Option<f64>,
    rope_theta: Option<f64>,
    max_position_embeddings: Option<usize>,
    tie_word_embeddings: Option<bool>,
    hidden_act: Option<String>,
    inference_rope_scaling: Option<bool>,
    rope_scaling: Option<Value>,
    rope_parameters: Option<Value>,
    use_moe: Option<bool>,
    num_experts: Option<usize>,
    num_experts_per_tok: Option<usize>,
    moe_intermediate_size: Option<usize>,
    norm_topk_prob: Option<bool>,
}

impl ModelConfig {
    /// Parses and validates config.json's text (`path` only names the file in messages).
    pub fn parse(text: &str, path: &std::path::Path) -> Result<ModelConfig, CheckpointError> {
        let raw: Raw =
            serde_json::from_str(text).map_err(|source| CheckpointError::ConfigJson {
                path: path.into(),
                source,
            })?;
        check_rope(&raw)?;
        if let Some(act) = raw.hidden_act.as_deref().filter(|a| *a != "silu") {
            return Err(CheckpointError::HiddenAct {
                act: act.to_owned(),
            });
        }
        // MiniMindConfig's defaults, key by key.
        let hidden_size = raw.hidden_size.unwrap_or(768);
        let num_attention_heads = raw.num_attention_heads.unwrap_or(8);
        positive("hidden_size", hidden_size)?;
        positive("num_attention_heads", num_attention_heads)?;
        let intermediate_size = raw.intermediate_size.unwrap_or_else(|| {
            (hidden_size as f64 * std::f64::consts::PI / 64.0).ceil() as usize * 64
        });
        let rope_theta = raw
            .rope_theta
            .or_else(|| rope_parameters_theta(&raw))
            .unwrap_or(1e6);
        let cfg = ModelConfig {
            hidden_size,
            num_hidden_layers: raw.num_hidden_layers.unwrap_or(8),
            num_attention_heads,
            // kwargs.get("num_key_value_heads", 4), and Attention.__init__ takes
            // num_attention_heads when it is None.
            num_key_value_heads: match raw.num_key_value_heads {
                None => 4,
                Some(None) => num_attention_heads,
                Some(Some(n)) => n,
            },
            head_dim: raw.head_dim.unwrap_or(hidden_size / num_attention_heads),
            intermediate_size,
            vocab_size: raw.vocab_size.unwrap_or(6400),
            rms_norm_eps: raw.rms_norm_eps.unwrap_or(1e-6),
            rope_theta,
            max_position_embeddings: raw.max_position_embeddings.unwrap_or(32768),
            tie_word_embeddings: raw.tie_word_embeddings.unwrap_or(true),
            moe: raw.use_moe.unwrap_or(false).then(|| MoeConfig {
                num_experts: raw.num_experts.unwrap_or(4),
                num_experts_per_tok: raw.num_experts_per_tok.unwrap_or(1),
                moe_intermediate_size: raw.moe_intermediate_size.unwrap_or(intermediate_size),
                norm_topk_prob: raw.norm_topk_prob.unwrap_or(true),
            }),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), CheckpointError> {
        positive("num_hidden_layers", self.num_hidden_layers)?;
        positive("num_key_value_heads", self.num_key_value_heads)?;
        positive("head_dim", self.head_dim)?;
        positive("intermediate_size", self.intermediate_size)?;
        positive("vocab_size", self.vocab_size)?;
        positive("max_position_embeddings", self.max_position_embeddings)?;
        if !self
            .num_attention_heads
            .is_multiple_of(self.num_key_value_heads)
        {
            return Err(bad(
                "num_key_value_heads",
                self.num_key_value_heads,
                format!(
                    "it must divide num_attention_heads ({}) so each KV head serves a whole \
                     group of query heads (repeat_kv)",
                    self.num_attention_heads
                ),
            ));
        }
        if !self.head_dim.is_multiple_of(2) {
            return Err(bad(
                "head_dim",
                self.head_dim,
                "RoPE rotates two halves of each head, so it must be even".into(),
            ));
        }
        if self
            .num_attention_heads
            .checked_mul(self.head_dim)
            .is_none()
        {
            return Err(bad(
                "head_dim",
                self.head_dim,
                "num_attention_heads × head_dim does not fit in a 64-bit size".into(),
            ));
        }
        if !(self.rms_norm_eps.is_finite() && self.rms_norm_eps >= 0.0) {
            return Err(bad(
                "rms_norm_eps",
                self.rms_norm_eps,
                "it must be a finite number ≥ 0".into(),
            ));
        }
        if !(self.rope_theta.is_finite() && self.rope_theta > 0.0) {
            return Err(bad(
                "rope_theta",
                self.rope_theta,
                "it must be a finite number > 0".into(),
            ));
        }
        if let Some(moe) = &self.moe {
            positive("num_experts", moe.num_experts)?;
            positive("moe_intermediate_size", moe.moe_intermediate_size)?;
            if moe.num_experts_per_tok == 0 || moe.num_experts_per_tok > moe.num_experts {
                return Err(bad(
                    "num_experts_per_tok",
                    moe.num_experts_per_tok,
                    format!(
                        "each token goes to between 1 and num_experts ({}) experts",
                        moe.num_experts
                    ),
                ));
            }
        }
        Ok(())
    }

    /// `num_attention_heads × head_dim`: q_proj's output features.
    pub fn q_features(&self) -> usize {
        self.num_attention_heads * self.head_dim
    }

    /// `num_key_value_heads × head_dim`: k_proj's and v_proj's output features.
    pub fn kv_features(&self) -> usize {
        self.num_key_value_heads * self.head_dim
    }
}

fn bad(key: &'static str, value: impl ToString, why: String) -> CheckpointError {
    CheckpointError::BadConfig {
        key,
        value: value.to_string(),
        why,
    }
}

fn positive(key: &'static str, value: usize) -> Result<(), CheckpointError> {
    if value == 0 {
        Err(bad(key, 0, "it must be at least 1".into()))
    } else {
        Ok(())
    }
}

/// Marks a key that is present (even as `null`) as `Some`.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Refuses YaRN: MiniMind's `inference_rope_scaling` turns it on, and a Hugging Face config may
/// carry it as `rope_scaling` or (transformers 5) `rope_parameters` with a rope_type other than
/// "default".
fn check_rope(raw: &Raw) -> Result<(), CheckpointError> {
    if raw.inference_rope_scaling == Some(true) {
        return Err(CheckpointError::RopeScaling {
            setting: "\"inference_rope_scaling\": true".into(),
        });
    }
    if let Some(v) = raw.rope_scaling.as_ref().filter(|v| !v.is_null()) {
        return Err(CheckpointError::RopeScaling {
            setting: format!("\"rope_scaling\": {v}"),
        });
    }
    if let Some(v) = raw.rope_parameters.as_ref().filter(|v| !v.is_null()) {
        let kind = v.get("rope_type").or_else(|| v.get("type"));
        if kind.is_some_and(|k| k != "default") {
            return Err(CheckpointError::RopeScaling {
                setting: format!("\"rope_parameters\": {v}"),
            });
        }
    }
    Ok(())
}

/// transformers 5 may keep rope_theta only inside `rope_parameters`.
fn rope_parameters_theta(raw: &Raw) -> Option<f64> {
    raw.rope_parameters.as_ref()?.get("rope_theta")?.as_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ModelConfig, CheckpointError> {
        ModelConfig::parse(text, std::path::Path::new("config.json"))
    }

    #[test]
    fn absent_keys_take_minimind_defaults() {
        let c =
            parse(r#"{"hidden_size": 512, "num_attention_heads": 8, "num_key_value_heads": 2}"#)
                .unwrap();
        // head_dim = 512 // 8; intermediate = ceil(512·π/64)·64 = 26·64.
        assert_eq!((c.head_dim, c.intermediate_size), (64, 1664));
        assert_eq!(
            (c.vocab_size, c.num_hidden_layers, c.max_position_embeddings),
            (6400, 8, 32768)
        );
        assert_eq!((c.rms_norm_eps, c.rope_theta), (1e-6, 1e6));
        assert!(c.tie_word_embeddings && c.moe.is_none());
        let absent = parse(r#"{"num_attention_heads": 8}"#).unwrap();
        let null = parse(r#"{"num_attention_heads": 8, "num_key_value_heads": null}"#).unwrap();
        assert_eq!(
            (absent.num_key_value_heads, null.num_key_value_heads),
            (4, 8)
        );
    }

    #[test]
    fn moe_defaults_follow_the_dense_sizes() {
        let c = parse(
            r#"{"hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 96,
                          "use_moe": true}"#,
        )
        .unwrap();
        let moe = c.moe.unwrap();
        assert_eq!((moe.num_experts, moe.num_experts_per_tok), (4, 1));
        assert_eq!(moe.moe_intermediate_size, 96);
        assert!(moe.norm_topk_prob);
    }

    #[test]
    fn refuses_what_attnstep_does_not_model() {
        let e = parse(r#"{"inference_rope_scaling": true}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("YaRN") && e.contains("\"inference_rope_scaling\": false"),
            "{e}"
        );
        let e = parse(r#"{"rope_scaling": {"type": "yarn", "factor": 16}}"#).unwrap_err();
        assert!(matches!(e, CheckpointError::RopeScaling { .. }));
        assert!(
            parse(r#"{"rope_scaling": null, "rope_parameters": {"rope_type": "default"}}"#).is_ok()
        );
        let e = parse(r#"{"hidden_act": "gelu"}"#).unwrap_err().to_string();
        assert!(e.contains("\"gelu\"") && e.contains("silu"), "{e}");
        let e = parse(r#"{"num_attention_heads": 8, "num_key_value_heads": 3}"#).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("config.json: num_key_value_heads = 3"),
            "{e}"
        );
        let e = parse(r#"{"hidden_size": "big"}"#).unwrap_err().to_string();
        assert!(e.contains("not valid JSON for a MiniMind config"), "{e}");
    }
}
