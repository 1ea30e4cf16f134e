//! A real MiniMind checkpoint: a directory in the Hugging Face layout, read, checked and run.
//!
//! The directory holds `config.json` (MiniMindConfig's keys), `model.safetensors` (memory-mapped)
//! and `tokenizer.json`. [`Checkpoint::open`] refuses anything that does not describe one
//! consistent MiniMind model, naming what is wrong; after that, [`Checkpoint::tokenize`] turns
//! text into ids and labels, [`Checkpoint::run`] computes every layer (attention through
//! attnstep's own [`crate::forward::trace_with`]), and [`Checkpoint::attention_config`] and
//! [`Checkpoint::layer_weights`] give the stage views one layer's attention.
//!
//! Whether the model is MiniMind2-style (no QK-norm) or MiniMind-3-style is read from the
//! tensors present, never from the directory's name.
//!
//! This file only declares the modules and re-exports: [`Checkpoint`] itself lives in `open`.

mod bundled;
mod config;
mod error;
mod model;
mod open;
mod tensors;
mod tokenizer;
mod trace;

pub use bundled::{NAMES as BUNDLED, bundled, open_named};
pub use config::{ModelConfig, MoeConfig};
pub use error::CheckpointError;
pub use model::{ModelRun, Prediction};
pub use open::{Checkpoint, Tokens};
pub use tensors::Style;
pub use tokenizer::label_text;
