//! Checkpoints built into the binary, so `--weights tiny` works with no download: a 2-layer
//! MiniMind trained by `scripts/train_tiny.py` on sentences from a small grammar with repeated
//! phrases, whose heads show a previous-token pattern in layer 0 and induction in layer 1
//! (assets/tiny/TRAINING.md).

use std::path::Path;

use super::error::CheckpointError;
use super::open::Checkpoint;

/// The names `--weights` accepts for a built-in checkpoint.
pub const NAMES: [&str; 1] = ["tiny"];

static TINY_CONFIG: &str = include_str!("../../assets/tiny/config.json");
static TINY_WEIGHTS: &[u8] = include_bytes!("../../assets/tiny/model.safetensors");
static TINY_TOKENIZER: &[u8] = include_bytes!("../../assets/tiny/tokenizer.json");

/// The built-in checkpoint called `name`, if there is one.
pub fn bundled(name: &str) -> Option<Result<Checkpoint, CheckpointError>> {
    match name {
        "tiny" => Some(Checkpoint::from_static(
            "tiny",
            TINY_CONFIG,
            TINY_WEIGHTS,
            TINY_TOKENIZER,
        )),
        _ => None,
    }
}

/// A checkpoint by the name `--weights` (or a lesson's `[model]`) gives it: a built-in name, or
/// else a directory.
pub fn open_named(weights: &str) -> Result<Checkpoint, CheckpointError> {
    match bundled(weights) {
        Some(built_in) => built_in,
        None => Checkpoint::open(Path::new(weights)),
    }
}
