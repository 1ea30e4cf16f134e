//! model.safetensors: memory-mapped, checked against config.json, read as f32 on demand.
//!
//! The file is mapped, not read, so a checkpoint's weights cost address space rather than
//! memory, and only the tensors a run touches are copied out (converted to f32). Every tensor
//! MiniMind's model would create must be present with the shape config.json implies, and no other
//! may be: a checkpoint that does not match its config is refused with the names, never run.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::path::Path;

use memmap2::Mmap;
use ndarray::{Array2, ArrayD, IxDyn};
use safetensors::{Dtype, SafeTensors, tensor::TensorInfo};

use super::config::ModelConfig;
use super::error::{CheckpointError, name_list};

/// The variant of MiniMind the tensors hold, read from the tensors themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    /// q_norm/k_norm in every layer (MiniMind-3) or in none (MiniMind2).
    pub qk_norm: bool,
    /// The file has its own `lm_head.weight`; otherwise the head is the embedding matrix.
    pub separate_head: bool,
}

/// Where a checkpoint's bytes live: a mapped file, or data built into the binary.
enum Bytes {
    Mapped(Mmap),
    Static(&'static [u8]),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Static(s) => s,
        }
    }
}

/// The mapped file and where each tensor lies in it.
pub struct Tensors {
    map: Bytes,
    /// Offset of the data section (8-byte length + JSON header).
    data_start: usize,
    infos: HashMap<String, TensorInfo>,
}

/// One tensor MiniMind's model has: its name and expected shape, with the config keys each
/// axis comes from.
struct Expected {
    name: String,
    shape: Vec<(usize, &'static str)>,
}

impl Tensors {
    /// Maps `path` and reads its header (the crate checks that every tensor lies inside the file).
    pub fn open(path: &Path) -> Result<Tensors, CheckpointError> {
        let io = |source| CheckpointError::Io {
            path: path.into(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        // SAFETY: the map is only read. Like every reader of mapped weights (safetensors'
        // own examples, candle), this trusts that no one truncates or rewrites the file while
        // attnstep runs; the header's offsets are checked against the file's length below.
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        Tensors::read(Bytes::Mapped(map), path)
    }

    /// A safetensors file built into the binary (the bundled model); `path` names it in errors.
    pub fn from_static(bytes: &'static [u8], path: &Path) -> Result<Tensors, CheckpointError> {
        Tensors::read(Bytes::Static(bytes), path)
    }

    fn read(map: Bytes, path: &Path) -> Result<Tensors, CheckpointError> {
        let (header_len, metadata) =
            SafeTensors::read_metadata(&map).map_err(|e| CheckpointError::Safetensors {
                path: path.into(),
                reason: e.to_string(),
            })?;
        let infos = metadata
            .tensors()
            .into_iter()
            .map(|(name, info)| (name, info.clone()))
            .collect();
        Ok(Tensors {
            map,
            data_start: 8 + header_len,
            infos,
        })
    }

    /// Decides MiniMind2 or MiniMind-3 and tied or untied from the tensors present, then checks
    /// that the names, shapes and dtypes are exactly those of that model.
    pub fn validate(&self, cfg: &ModelConfig) -> Result<Style, CheckpointError> {
        // A config.json that implies far more tensors than the file holds is refused before
        // its names are listed (a typo of 8000 layers must not build millions of names).
        let implied = implied_count(cfg);
        if implied > self.infos.len() as u128 + 1000 {
            return Err(CheckpointError::MissingTensors {
                count: usize::try_from(implied - self.infos.len() as u128).unwrap_or(usize::MAX),
                names: format!(
                    "config.json implies {implied} tensors (num_hidden_layers {}{}) and the file \
                     holds {}",
                    cfg.num_hidden_layers,
                    cfg.moe
                        .as_ref()
                        .map(|m| format!(", num_experts {}", m.num_experts))
                        .unwrap_or_default(),
                    self.infos.len()
                ),
                extra: None,
            });
        }
        let style = self.style(cfg)?;
        let expected = expected(cfg, style);
        let wanted: BTreeSet<&str> = expected.iter().map(|e| e.name.as_str()).collect();
        let missing: Vec<String> = expected
            .iter()
            .filter(|e| !self.infos.contains_key(&e.name))
            .map(|e| e.name.clone())
            .collect();
        let mut extra: Vec<String> = self
            .infos
            .keys()
            .filter(|n| !wanted.contains(n.as_str()))
            .cloned()
            .collect();
        extra.sort_by_key(|n| natural(n));
        if !missing.is_empty() {
            return Err(CheckpointError::MissingTensors {
                count: missing.len(),
                names: name_list(&missing),
                extra: (!extra.is_empty()).then(|| name_list(&extra)),
            });
        }
        if !extra.is_empty() {
            return Err(CheckpointError::UnexpectedTensors {
                count: extra.len(),
                names: name_list(&extra),
            });
        }
        for e in &expected {
            self.check(e)?;
        }
        // Bit for bit (a NaN in both copies is still the same matrix).
        let same = |a: &ArrayD<f32>, b: &ArrayD<f32>| {
            a.shape() == b.shape() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
        };
        if cfg.tie_word_embeddings
            && style.separate_head
            && !same(
                &self.f32("lm_head.weight"),
                &self.f32("model.embed_tokens.weight"),
            )
        {
            return Err(CheckpointError::TiedHeadDiffers);
        }
        Ok(style)
    }

    fn style(&self, cfg: &ModelConfig) -> Result<Style, CheckpointError> {
        let (with, without): (Vec<usize>, Vec<usize>) = (0..cfg.num_hidden_layers).partition(|i| {
            let attn = format!("model.layers.{i}.self_attn");
            self.infos.contains_key(&format!("{attn}.q_norm.weight"))
                || self.infos.contains_key(&format!("{attn}.k_norm.weight"))
        });
        if !with.is_empty() && !without.is_empty() {
            let list = |v: &[usize]| {
                v.iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(CheckpointError::QkNormMixed {
                with: list(&with),
                without: list(&without),
            });
        }
        Ok(Style {
            qk_norm: without.is_empty(),
            // An untied model needs its own head; a tied one may carry a copy of the embedding.
            separate_head: !cfg.tie_word_embeddings || self.infos.contains_key("lm_head.weight"),
        })
    }

    fn check(&self, e: &Expected) -> Result<(), CheckpointError> {
        let info = &self.infos[&e.name];
        let expected: Vec<usize> = e.shape.iter().map(|d| d.0).collect();
        if info.shape != expected {
            let dims: Vec<&str> = e.shape.iter().map(|d| d.1).collect();
            return Err(CheckpointError::ShapeMismatch {
                name: e.name.clone(),
                expected,
                found: info.shape.clone(),
                dims: format!("[{}]", dims.join(", ")),
            });
        }
        if !matches!(info.dtype, Dtype::F32 | Dtype::F16 | Dtype::BF16) {
            return Err(CheckpointError::Dtype {
                name: e.name.clone(),
                dtype: info.dtype.to_string(),
            });
        }
        Ok(())
    }

    /// The shape stored for `name`.
    pub fn shape(&self, name: &str) -> &[usize] {
        &self.infos[name].shape
    }

    /// The whole tensor as f32, in its stored shape. `name` must be one [`Tensors::validate`]
    /// accepted.
    pub fn f32(&self, name: &str) -> ArrayD<f32> {
        let info = &self.infos[name];
        let values = self.convert(info, info.data_offsets.0, info.data_offsets.1);
        ArrayD::from_shape_vec(IxDyn(&info.shape), values).expect("the header's shape")
    }

    /// A matrix `[out, in]` as f32.
    pub fn matrix(&self, name: &str) -> Array2<f32> {
        let info = &self.infos[name];
        let (rows, cols) = (info.shape[0], info.shape[1]);
        let values = self.convert(info, info.data_offsets.0, info.data_offsets.1);
        Array2::from_shape_vec((rows, cols), values).expect("the header's shape")
    }

    /// Row `row` of a matrix as f32 (an embedding, or one vocabulary entry of the head), read
    /// without converting the rest.
    pub fn row(&self, name: &str, row: usize) -> Vec<f32> {
        let info = &self.infos[name];
        let cols = info.shape[1];
        let width = info.dtype.bitsize() / 8;
        let start = info.data_offsets.0 + row * cols * width;
        self.convert(info, start, start + cols * width)
    }

    fn convert(&self, info: &TensorInfo, start: usize, end: usize) -> Vec<f32> {
        let bytes = &self.map[self.data_start + start..self.data_start + end];
        match info.dtype {
            Dtype::F32 => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F16 => bytes
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::BF16 => bytes
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            other => unreachable!("validate refuses {other}"),
        }
    }
}

/// How many tensors MiniMind's model has for `cfg`, at least (without lm_head or q/k norms).
fn implied_count(cfg: &ModelConfig) -> u128 {
    let mlp = match &cfg.moe {
        None => 3,
        Some(m) => 1 + 3 * m.num_experts as u128,
    };
    (cfg.num_hidden_layers as u128).saturating_mul(6 + mlp) + 2
}

/// Sorts `layers.10` after `layers.9`.
fn natural(name: &str) -> Vec<(String, usize)> {
    name.split('.')
        .map(|part| match part.parse::<usize>() {
            Ok(n) => (String::new(), n),
            Err(_) => (part.to_owned(), 0),
        })
        .collect()
}

/// Every tensor of MiniMindForCausalLM for this config and style, as its state_dict names it.
fn expected(cfg: &ModelConfig, style: Style) -> Vec<Expected> {
    let hidden = (cfg.hidden_size, "hidden_size");
    let vocab = (cfg.vocab_size, "vocab_size");
    let e = |name: String, shape: Vec<(usize, &'static str)>| Expected { name, shape };
    let mut out = vec![e("model.embed_tokens.weight".into(), vec![vocab, hidden])];
    for i in 0..cfg.num_hidden_layers {
        out.extend(layer(cfg, style, i));
    }
    out.push(e("model.norm.weight".into(), vec![hidden]));
    if style.separate_head {
        out.push(e("lm_head.weight".into(), vec![vocab, hidden]));
    }
    out
}

fn layer(cfg: &ModelConfig, style: Style, i: usize) -> Vec<Expected> {
    let hidden = (cfg.hidden_size, "hidden_size");
    let q = (cfg.q_features(), "num_attention_heads·head_dim");
    let kv = (cfg.kv_features(), "num_key_value_heads·head_dim");
    let p = format!("model.layers.{i}");
    let e = |name: String, shape: Vec<(usize, &'static str)>| Expected { name, shape };
    let mut out = vec![
        e(format!("{p}.input_layernorm.weight"), vec![hidden]),
        e(format!("{p}.post_attention_layernorm.weight"), vec![hidden]),
        e(format!("{p}.self_attn.q_proj.weight"), vec![q, hidden]),
        e(format!("{p}.self_attn.k_proj.weight"), vec![kv, hidden]),
        e(format!("{p}.self_attn.v_proj.weight"), vec![kv, hidden]),
        e(format!("{p}.self_attn.o_proj.weight"), vec![hidden, q]),
    ];
    if style.qk_norm {
        let head_dim = (cfg.head_dim, "head_dim");
        out.push(e(format!("{p}.self_attn.q_norm.weight"), vec![head_dim]));
        out.push(e(format!("{p}.self_attn.k_norm.weight"), vec![head_dim]));
    }
    match &cfg.moe {
        None => {
            let inter = (cfg.intermediate_size, "intermediate_size");
            out.extend(mlp(&format!("{p}.mlp"), hidden, inter));
        }
        Some(moe) => {
            let experts = (moe.num_experts, "num_experts");
            out.push(e(format!("{p}.mlp.gate.weight"), vec![experts, hidden]));
            let inter = (moe.moe_intermediate_size, "moe_intermediate_size");
            for x in 0..moe.num_experts {
                out.extend(mlp(&format!("{p}.mlp.experts.{x}"), hidden, inter));
            }
        }
    }
    out
}

/// A SwiGLU FeedForward's three projections.
fn mlp(p: &str, hidden: (usize, &'static str), inter: (usize, &'static str)) -> [Expected; 3] {
    [
        Expected {
            name: format!("{p}.gate_proj.weight"),
            shape: vec![inter, hidden],
        },
        Expected {
            name: format!("{p}.up_proj.weight"),
            shape: vec![inter, hidden],
        },
        Expected {
            name: format!("{p}.down_proj.weight"),
            shape: vec![hidden, inter],
        },
    ]
}
