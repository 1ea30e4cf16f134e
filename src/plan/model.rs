//! A checkpoint in the plan: `--weights`, `--text` and `--layer` resolved into an open
//! checkpoint, the text's tokens, the forward calls, and the attention layer's configuration.
//! A lesson's `[model]` comes here too, with `--text`/`--layer` laid over its own (`plan.rs`).
//! The checkpoint fixes the model's sizes, so flags that would change them are refused with a
//! message saying so, not silently ignored.

use std::sync::Arc;

use crate::checkpoint::{Checkpoint, Tokens};
use crate::config::{Config, ConfigKey, ConfigSpec};
use crate::error::UsageError;

/// What the flags ask of a checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelRequest {
    pub weights: Option<String>,
    pub text: Option<String>,
    pub layer: Option<usize>,
}

/// An opened checkpoint with the text to run and the layer to step through.
#[derive(Clone)]
pub struct ModelPlan {
    /// How the checkpoint is named on screen.
    pub name: String,
    pub checkpoint: Arc<Checkpoint>,
    pub tokens: Tokens,
    pub layer: usize,
}

impl std::fmt::Debug for ModelPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelPlan")
            .field("name", &self.name)
            .field("tokens", &self.tokens.ids)
            .field("layer", &self.layer)
            .finish()
    }
}

/// Keys a checkpoint decides; a flag setting one is a contradiction.
const FIXED: [ConfigKey; 11] = [
    ConfigKey::Preset,
    ConfigKey::HiddenSize,
    ConfigKey::NumAttentionHeads,
    ConfigKey::NumKeyValueHeads,
    ConfigKey::HeadDim,
    ConfigKey::Batch,
    ConfigKey::AttentionMask,
    ConfigKey::QkNorm,
    ConfigKey::RmsNormEps,
    ConfigKey::RopeTheta,
    ConfigKey::Tokens,
];

/// Opens the checkpoint and works out the configuration of its layer for the text. `by` names
/// where the checkpoint was asked for (`--weights`, or a lesson's `[model]`) in refusals.
pub(super) fn resolve(
    req: &ModelRequest,
    flags: &ConfigSpec,
    flag_name: fn(ConfigKey) -> &'static str,
    by: &str,
) -> Result<(ModelPlan, Config), UsageError> {
    let Some(weights) = &req.weights else {
        let what = if req.text.is_some() {
            "--text"
        } else {
            "--layer"
        };
        return Err(UsageError(format!(
            "{what} needs a checkpoint: add --weights tiny (the bundled trained model) or \
             --weights DIR"
        )));
    };
    if let Some(key) = FIXED.into_iter().find(|&k| flags.sets(k)) {
        return Err(UsageError(format!(
            "{} cannot be used with {by}: the checkpoint's config.json decides it; drop {}",
            flag_name(key),
            flag_name(key)
        )));
    }
    if flags.causal == Some(false) {
        return Err(UsageError(format!(
            "--no-causal cannot be used with {by}: MiniMind's checkpoints are causal \
                 language models and their numbers only mean something with the causal mask"
        )));
    }
    let checkpoint = open(weights)?;
    let text = req.text.as_deref().ok_or_else(|| {
        UsageError("--weights needs --text \"…\": the text to run through the model".into())
    })?;
    let tokens = checkpoint.tokenize(text).map_err(describe)?;
    let layer = req.layer.unwrap_or(0);
    let layers = checkpoint.config.num_hidden_layers;
    if layer >= layers {
        return Err(UsageError(format!(
            "--layer {layer} is out of range: the checkpoint has {layers} layer(s), 0 to {}",
            layers - 1
        )));
    }
    let steps = steps(flags, tokens.ids.len(), flag_name, by)?;
    let config = checkpoint
        .attention_config(&steps, Some(tokens.labels.clone()))
        .map_err(describe)?;
    let plan = ModelPlan {
        name: weights.clone(),
        checkpoint: Arc::new(checkpoint),
        tokens,
        layer,
    };
    Ok((plan, config))
}

fn describe(e: impl std::fmt::Display) -> UsageError {
    UsageError(e.to_string())
}

fn open(weights: &str) -> Result<Checkpoint, UsageError> {
    crate::checkpoint::open_named(weights).map_err(describe)
}

/// The forward calls for `n` tokens: `--steps` as given (it must cover the text), or the
/// text's tokens as one prefill with the last `--decode` of them as one-token calls after it.
fn steps(
    flags: &ConfigSpec,
    n: usize,
    flag_name: fn(ConfigKey) -> &'static str,
    by: &str,
) -> Result<Vec<usize>, UsageError> {
    let decode = flags.decode.unwrap_or(0);
    if let Some(steps) = &flags.steps {
        let total = steps.iter().try_fold(decode, |a, &s| a.checked_add(s));
        if total != Some(n) {
            return Err(UsageError(format!(
                "{} and {} must cover the text's {n} tokens exactly; they cover {}",
                flag_name(ConfigKey::Steps),
                flag_name(ConfigKey::Decode),
                total.map_or("more than can be counted".into(), |t| t.to_string())
            )));
        }
        let mut out = steps.clone();
        out.extend(std::iter::repeat_n(1, decode));
        return Ok(out);
    }
    if flags.seq_len.is_some() {
        return Err(UsageError(format!(
            "{} cannot be used with {by}: the text sets how many tokens there are; use {} \
             to split them into calls",
            flag_name(ConfigKey::SeqLen),
            flag_name(ConfigKey::Steps)
        )));
    }
    if decode >= n {
        return Err(UsageError(format!(
            "{} {decode} leaves no token for the prefill: the text has {n} token(s)",
            flag_name(ConfigKey::Decode)
        )));
    }
    let mut out = vec![n - decode];
    out.extend(std::iter::repeat_n(1, decode));
    Ok(out)
}
