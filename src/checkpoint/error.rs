//! Why a checkpoint cannot be run, worded so the user knows what is wrong and what to do.

use std::fmt;
use std::path::{Path, PathBuf};

/// A path as an error message shows it: `Path::display`, with control characters (a file name
/// may hold any byte but `/` and NUL) made visible, so no name reaches the terminal as an
/// escape sequence.
#[derive(Debug)]
pub struct Shown(pub PathBuf);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::text::printable_line(&self.0.display().to_string()))
    }
}

impl From<&Path> for Shown {
    fn from(p: &Path) -> Shown {
        Shown(p.to_owned())
    }
}

impl From<&str> for Shown {
    fn from(p: &str) -> Shown {
        Shown(p.into())
    }
}

impl From<PathBuf> for Shown {
    fn from(p: PathBuf) -> Shown {
        Shown(p)
    }
}

/// How MiniMind's own weights become the directory attnstep reads.
const CONVERT: &str = "MiniMind's scripts/convert_model.py writes that layout: its \
    convert_torch2transformers turns a .pth into a directory with config.json, \
    model.safetensors and tokenizer.json (model.save_pretrained(dir, safe_serialization=True) \
    on a loaded MiniMindForCausalLM does the same)";

/// Everything that can go wrong between a `--weights` path and a model run.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(
        "{path}: no such file or directory; give the directory of a MiniMind checkpoint in \
             the Hugging Face layout (config.json, model.safetensors, tokenizer.json)"
    )]
    NotFound { path: Shown },
    #[error("{path}: cannot read it: {source}")]
    Io {
        path: Shown,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is a PyTorch file; attnstep reads a directory in the Hugging Face layout \
             (config.json, model.safetensors, tokenizer.json), not pickled weights. {CONVERT}"
    )]
    PytorchFile { path: Shown },
    #[error(
        "{path} is a single safetensors file; give the directory that holds it, with its \
             config.json and tokenizer.json beside it"
    )]
    SafetensorsFile { path: Shown },
    #[error(
        "{path} is not a directory; give the directory of a MiniMind checkpoint in the \
             Hugging Face layout (config.json, model.safetensors, tokenizer.json). {CONVERT}"
    )]
    NotADirectory { path: Shown },
    #[error("{dir} has no {file}{}; a checkpoint directory needs config.json, model.safetensors \
             and tokenizer.json. {CONVERT}", hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    MissingFile {
        dir: Shown,
        file: &'static str,
        hint: Option<String>,
    },
    #[error("{path} is not a regular file; {what} must be a plain file")]
    NotRegularFile { path: Shown, what: &'static str },
    #[error(
        "{path} is {size} bytes, more than the {limit} bytes a {what} can sensibly be; \
             is it the right file?"
    )]
    FileTooLarge {
        path: Shown,
        what: &'static str,
        size: u64,
        limit: u64,
    },
    #[error("{path}: not valid JSON for a MiniMind config: {source}")]
    ConfigJson {
        path: Shown,
        #[source]
        source: serde_json::Error,
    },
    #[error("config.json: {key} = {value}: {why}")]
    BadConfig {
        key: &'static str,
        value: String,
        why: String,
    },
    #[error(
        "config.json asks for YaRN RoPE scaling ({setting}). attnstep runs plain RoPE only \
             and refuses rather than show numbers that differ from MiniMind's. Set \
             \"inference_rope_scaling\": false and \"rope_scaling\": null in config.json; attnstep \
             then matches MiniMind run with inference_rope_scaling=False"
    )]
    RopeScaling { setting: String },
    #[error(
        "config.json: hidden_act is \"{act}\"; attnstep's MLP is MiniMind's SwiGLU with silu \
             only, so it refuses rather than compute a different activation"
    )]
    HiddenAct { act: String },
    #[error("{path}: not a readable safetensors file: {reason}")]
    Safetensors { path: Shown, reason: String },
    #[error(
        "model.safetensors lacks {count} tensor(s) that config.json implies: {names}{}",
        extra_hint(extra)
    )]
    MissingTensors {
        count: usize,
        names: String,
        extra: Option<String>,
    },
    #[error(
        "model.safetensors has {count} tensor(s) that a MiniMind model with this config.json \
             does not have: {names}. attnstep refuses weights it would not use; check that \
             config.json (use_moe, num_experts, num_hidden_layers, tie_word_embeddings) describes \
             this model"
    )]
    UnexpectedTensors { count: usize, names: String },
    #[error(
        "{name} has shape {found:?}, but config.json implies {expected:?} ({dims}); \
             config.json does not describe these weights: fix it to match the model they came from"
    )]
    ShapeMismatch {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
        dims: String,
    },
    #[error("{name} is stored as {dtype}; attnstep reads F32, F16 and BF16 weights")]
    Dtype { name: String, dtype: String },
    #[error(
        "the layers disagree on QK-norm: q_norm/k_norm weights are in layers {with} but not \
             in layers {without}; a MiniMind model has them in every layer (MiniMind-3) or in none \
             (MiniMind2)"
    )]
    QkNormMixed { with: String, without: String },
    #[error(
        "tie_word_embeddings is true but lm_head.weight differs from \
             model.embed_tokens.weight; if the head is a separate matrix, set \
             \"tie_word_embeddings\": false in config.json"
    )]
    TiedHeadDiffers,
    #[error("{path}: cannot load the tokenizer: {reason}")]
    Tokenizer { path: Shown, reason: String },
    #[error(
        "tokenizer.json knows {tokens} tokens (highest id {max_id}) but config.json has \
             vocab_size {vocab_size}: ids from {vocab_size} on have no row in \
             model.embed_tokens.weight. Use the tokenizer.json that came with these weights"
    )]
    TokenizerTooBig {
        tokens: usize,
        max_id: u32,
        vocab_size: usize,
    },
    #[error("the text gives no tokens; give some text to run through the model")]
    NoTokens,
    #[error("token id {id} is outside the vocabulary (vocab_size {vocab_size})")]
    TokenOutOfRange { id: u32, vocab_size: usize },
    #[error("the text is {tokens} tokens but max_position_embeddings is {max}: MiniMind's RoPE \
             tables hold positions 0 to {}. Give a shorter text (at most {max} tokens)", .max - 1)]
    TextTooLong { tokens: usize, max: usize },
    #[error("layer {layer} does not exist: the model has {layers} layers, numbered 0 to {}; \
             choose --layer between 0 and {}", .layers - 1, .layers - 1)]
    LayerOutOfRange { layer: usize, layers: usize },
    #[error(
        "the steps ({steps}) cover {covered} tokens but the text is {tokens} tokens; \
             make the steps add up to {tokens}"
    )]
    StepsMismatch {
        steps: String,
        covered: usize,
        tokens: usize,
    },
    #[error("the attention layer's configuration is invalid: {0}")]
    Attention(#[from] crate::config::ConfigError),
}

fn extra_hint(extra: &Option<String>) -> String {
    match extra {
        Some(names) => format!(
            "; it has these instead, which config.json does not explain: {names}. Check \
             use_moe, num_experts, num_hidden_layers and tie_word_embeddings"
        ),
        None => ". The file is incomplete or config.json describes a bigger model: check \
             num_hidden_layers, use_moe, num_experts and tie_word_embeddings"
            .to_owned(),
    }
}

/// Lists names for a message: all of them when few, else the first ten and a count.
pub(crate) fn name_list(names: &[String]) -> String {
    const SHOWN: usize = 10;
    if names.len() <= SHOWN {
        names.join(", ")
    } else {
        format!(
            "{} and {} more",
            names[..SHOWN].join(", "),
            names.len() - SHOWN
        )
    }
}
