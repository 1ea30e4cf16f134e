//! The opened checkpoint ([`Checkpoint`]) and the text as it sees it ([`Tokens`]): opening a
//! directory (or built-in bytes), checking that its three files agree, tokenizing, and one
//! layer's attention configuration and weights. The sibling modules (`model`, `trace`,
//! `bundled`) build on this one; the parent only re-exports, so no file here imports a file
//! that imports it back.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::config::ModelConfig;
use super::error::CheckpointError;
use super::tensors::{Style, Tensors};
use super::tokenizer::TextTokenizer;
use crate::config::{Config, ConfigSpec};
use crate::dims::{Dim, DimName, Shape};
use crate::forward::Weights;
use crate::numeric::Tensor;

/// config.json is a few dozen keys; a megabyte is already absurd.
const CONFIG_LIMIT: u64 = 1 << 20;
/// MiniMind's tokenizer.json is under 1 MB; large BPE vocabularies reach ~10 MB.
const TOKENIZER_LIMIT: u64 = 64 << 20;

/// An opened, validated checkpoint.
pub struct Checkpoint {
    pub dir: PathBuf,
    pub config: ModelConfig,
    pub style: Style,
    pub(super) tensors: Tensors,
    pub(super) tokenizer: TextTokenizer,
}

/// Text as the model sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Tokens {
    pub ids: Vec<u32>,
    /// One readable label per id ([`label_text`]).
    pub labels: Vec<String>,
}

impl Checkpoint {
    /// Opens the checkpoint directory `dir` and checks that its three files agree.
    pub fn open(dir: &Path) -> Result<Checkpoint, CheckpointError> {
        check_directory(dir)?;
        let config_path = require(dir, "config.json")?;
        let text = read_bounded(&config_path, "config.json", CONFIG_LIMIT)?;
        let text = String::from_utf8_lossy(&text);
        let config = ModelConfig::parse(&text, &config_path)?;
        let weights_path = require(dir, "model.safetensors")?;
        regular(&weights_path, "model.safetensors")?;
        let tensors = Tensors::open(&weights_path)?;
        let tokenizer_path = require(dir, "tokenizer.json")?;
        let bytes = read_bounded(&tokenizer_path, "tokenizer.json", TOKENIZER_LIMIT)?;
        Checkpoint::assemble(dir, config, tensors, &bytes, &tokenizer_path)
    }

    /// A checkpoint whose three files are built into the binary (see [`bundled`]).
    pub fn from_static(
        name: &str,
        config_json: &str,
        weights: &'static [u8],
        tokenizer_json: &[u8],
    ) -> Result<Checkpoint, CheckpointError> {
        let dir = Path::new(name);
        let config = ModelConfig::parse(config_json, &dir.join("config.json"))?;
        let tensors = Tensors::from_static(weights, &dir.join("model.safetensors"))?;
        Checkpoint::assemble(
            dir,
            config,
            tensors,
            tokenizer_json,
            &dir.join("tokenizer.json"),
        )
    }

    fn assemble(
        dir: &Path,
        config: ModelConfig,
        tensors: Tensors,
        tokenizer_json: &[u8],
        tokenizer_path: &Path,
    ) -> Result<Checkpoint, CheckpointError> {
        let style = tensors.validate(&config)?;
        let tokenizer = TextTokenizer::parse(tokenizer_json, tokenizer_path, config.vocab_size)?;
        Ok(Checkpoint {
            dir: dir.into(),
            config,
            style,
            tensors,
            tokenizer,
        })
    }

    /// The ids and labels of `text`; refuses empty text and text longer than the model's
    /// positions.
    pub fn tokenize(&self, text: &str) -> Result<Tokens, CheckpointError> {
        let ids = self.tokenizer.encode(text)?;
        self.check_ids(&ids)?;
        let labels = ids.iter().map(|&id| self.tokenizer.label(id)).collect();
        Ok(Tokens { ids, labels })
    }

    /// The readable label of one token id.
    pub fn label(&self, id: u32) -> String {
        self.tokenizer.label(id)
    }

    /// The configuration of one attention layer for attnstep's engine, with the forward calls
    /// `steps` and optional position labels (one per token).
    pub fn attention_config(
        &self,
        steps: &[usize],
        labels: Option<Vec<String>>,
    ) -> Result<Config, CheckpointError> {
        let c = &self.config;
        let mut cfg = ConfigSpec {
            hidden_size: Some(c.hidden_size),
            num_attention_heads: Some(c.num_attention_heads),
            num_key_value_heads: Some(c.num_key_value_heads),
            head_dim: Some(c.head_dim),
            batch: Some(1),
            steps: Some(steps.to_vec()),
            qk_norm: Some(self.style.qk_norm),
            rms_norm_eps: Some(c.rms_norm_eps),
            rope_theta: Some(c.rope_theta),
            causal: Some(true),
            ..ConfigSpec::default()
        }
        .resolve()?;
        let total = cfg.total_len();
        if total > c.max_position_embeddings {
            return Err(CheckpointError::TextTooLong {
                tokens: total,
                max: c.max_position_embeddings,
            });
        }
        if let Some(labels) = &labels {
            self.check_steps(labels.len(), steps)?;
        }
        cfg.tokens = labels;
        Ok(cfg)
    }

    /// Layer `n`'s attention weights, as attnstep's engine takes them.
    pub fn layer_weights(&self, n: usize) -> Result<Weights<Tensor>, CheckpointError> {
        self.check_layer(n)?;
        let c = &self.config;
        let p = format!("model.layers.{n}.self_attn");
        let hidden = Dim::new(DimName::Hidden, c.hidden_size);
        let q = Dim::new(DimName::QFeatures, c.q_features());
        let kv = Dim::new(DimName::KvFeatures, c.kv_features());
        let head_dim = Dim::new(DimName::HeadDim, c.head_dim);
        let get = |name: &str, dims: &[Dim]| {
            Tensor::new(
                Shape::new(dims.to_vec()),
                self.tensors.f32(&format!("{p}.{name}.weight")),
            )
        };
        Ok(Weights {
            q_proj: get("q_proj", &[q, hidden]),
            k_proj: get("k_proj", &[kv, hidden]),
            v_proj: get("v_proj", &[kv, hidden]),
            o_proj: get("o_proj", &[hidden, q]),
            qk_norm: self
                .style
                .qk_norm
                .then(|| (get("q_norm", &[head_dim]), get("k_norm", &[head_dim]))),
        })
    }

    /// Bytes a [`Checkpoint::run`] allocates for `cfg` (its attention configuration): one
    /// layer's recorded attention trace, the hidden states of every layer, one layer's MLP
    /// weights in f32 and its activations, and the logits. The mapped weights are not counted:
    /// the operating system pages them in and out like a file. A trace of the chosen layer made
    /// afterwards for the stage views is not included ([`crate::memory::numeric_trace_bytes`]).
    pub fn activation_bytes(&self, cfg: &Config) -> u128 {
        let c = &self.config;
        let total = cfg.total_len() as u128;
        let widest = cfg.steps.iter().copied().max().unwrap_or(0) as u128;
        let hidden = c.hidden_size as u128;
        let (mlp_weights, inter) = match &c.moe {
            None => (
                3 * hidden * c.intermediate_size as u128,
                c.intermediate_size as u128,
            ),
            Some(m) => {
                let per = 3 * hidden * m.moe_intermediate_size as u128 + hidden;
                (
                    per.saturating_mul(m.num_experts as u128),
                    m.moe_intermediate_size as u128,
                )
            }
        };
        let states = (c.num_hidden_layers as u128 + 3)
            .saturating_mul(total)
            .saturating_mul(hidden);
        let mlp_acts = widest.saturating_mul(inter).saturating_mul(3);
        // Logits in f32 plus the ranking's indices (8 bytes, counted as two f32s).
        let logits = (c.vocab_size as u128).saturating_mul(3);
        crate::memory::estimate(cfg).total().saturating_add(
            states
                .saturating_add(mlp_weights)
                .saturating_add(mlp_acts)
                .saturating_add(logits)
                .saturating_mul(4),
        )
    }

    /// An RMSNorm weight `[hidden]` (or `[head_dim]`) as a tensor.
    pub(super) fn norm_weight(&self, name: &str) -> Tensor {
        let len = self.tensors.shape(name)[0];
        Tensor::new(
            Shape::new([Dim::new(DimName::Hidden, len)]),
            self.tensors.f32(name),
        )
    }

    pub(super) fn check_layer(&self, layer: usize) -> Result<(), CheckpointError> {
        let layers = self.config.num_hidden_layers;
        if layer >= layers {
            return Err(CheckpointError::LayerOutOfRange { layer, layers });
        }
        Ok(())
    }

    pub(super) fn check_ids(&self, ids: &[u32]) -> Result<(), CheckpointError> {
        if ids.is_empty() {
            return Err(CheckpointError::NoTokens);
        }
        let max = self.config.max_position_embeddings;
        if ids.len() > max {
            return Err(CheckpointError::TextTooLong {
                tokens: ids.len(),
                max,
            });
        }
        let vocab_size = self.config.vocab_size;
        match ids.iter().find(|&&id| id as usize >= vocab_size) {
            Some(&id) => Err(CheckpointError::TokenOutOfRange { id, vocab_size }),
            None => Ok(()),
        }
    }

    pub(super) fn check_steps(
        &self,
        tokens: usize,
        steps: &[usize],
    ) -> Result<(), CheckpointError> {
        let covered = steps.iter().fold(0usize, |a, &s| a.saturating_add(s));
        if covered != tokens {
            return Err(CheckpointError::StepsMismatch {
                steps: steps
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join("+"),
                covered,
                tokens,
            });
        }
        Ok(())
    }
}

/// Refuses a path that is not a directory, saying what it looks like instead.
fn check_directory(path: &Path) -> Result<(), CheckpointError> {
    let meta = std::fs::metadata(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => CheckpointError::NotFound { path: path.into() },
        _ => CheckpointError::Io {
            path: path.into(),
            source,
        },
    })?;
    if meta.is_dir() {
        return Ok(());
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let path = path.to_owned();
    // PyTorch's .pth/.bin files are pickles. No well-kept Rust crate reads them that is worth
    // the dependency (and unpickling is code execution in Python's own reader), so attnstep
    // asks for the safetensors layout MiniMind's converter writes instead.
    Err(match ext.as_str() {
        "pth" | "pt" | "bin" | "ckpt" => CheckpointError::PytorchFile { path: path.into() },
        "safetensors" => CheckpointError::SafetensorsFile { path: path.into() },
        _ => CheckpointError::NotADirectory { path: path.into() },
    })
}

/// `dir/file`, or an error saying it is missing (and what is there instead, if telling).
fn require(dir: &Path, file: &'static str) -> Result<PathBuf, CheckpointError> {
    let path = dir.join(file);
    if path.exists() {
        return Ok(path);
    }
    let hint = match file {
        "model.safetensors" if dir.join("pytorch_model.bin").exists() => Some(
            "it has pytorch_model.bin, PyTorch's pickled weights: save the model again with \
             save_pretrained(dir, safe_serialization=True)"
                .to_owned(),
        ),
        "model.safetensors" if dir.join("model.safetensors.index.json").exists() => Some(
            "its weights are split in shards (model.safetensors.index.json); attnstep reads one \
             model.safetensors: save again with a max_shard_size larger than the model"
                .to_owned(),
        ),
        _ => None,
    };
    Err(CheckpointError::MissingFile {
        dir: dir.into(),
        file,
        hint,
    })
}

/// Refuses a directory, device or pipe where a plain file belongs.
fn regular(path: &Path, what: &'static str) -> Result<std::fs::Metadata, CheckpointError> {
    let meta = std::fs::metadata(path).map_err(|source| CheckpointError::Io {
        path: path.into(),
        source,
    })?;
    if !meta.is_file() {
        return Err(CheckpointError::NotRegularFile {
            path: path.into(),
            what,
        });
    }
    Ok(meta)
}

/// Reads a regular file of at most `limit` bytes.
fn read_bounded(path: &Path, what: &'static str, limit: u64) -> Result<Vec<u8>, CheckpointError> {
    let too_large = |size| CheckpointError::FileTooLarge {
        path: path.into(),
        what,
        size,
        limit,
    };
    let meta = regular(path, what)?;
    if meta.len() > limit {
        return Err(too_large(meta.len()));
    }
    let io = |source| CheckpointError::Io {
        path: path.into(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    // The file may have grown since it was measured.
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}
