//! The stage descriptor: what each stage of MiniMind's `Attention.forward` is, written once.
//!
//! A stage's title, the MiniMind line it mirrors, the tensors it writes (each with the tensor it
//! is made from and the Python expression that makes it), what else it reads, which weights it
//! uses, whether it changes a shape, how its numbers are shown and its explanation all live in
//! one [`StageSpec`] entry of [`SPECS`]. The forward pass records tensors in the order the entry
//! lists them; rendering, the quiz, the shape tables and export read the entry. Tensors are
//! named by [`TensorId`]; their strings appear only where a trace is written or read as text.
//!
//! Adding a stage: a [`StageId`] variant, its [`StageSpec`] entry (with its prose in
//! [`prose`]), and the lines in `forward.rs` that compute and record it.

pub mod concepts;
pub mod condition;
pub mod facts;
pub mod prose;
mod specs;
pub mod template;

pub mod descriptor;
pub mod id;

pub use descriptor::{HeadOf, Heat, Output, Show, StageSpec};
pub use facts::Facts;
pub use id::{StageId, TensorId, WeightId};

pub use specs::SPECS;

impl TensorId {
    /// The stage that writes this tensor.
    pub fn stage(self) -> StageId {
        SPECS
            .iter()
            .find(|s| s.outputs.iter().any(|o| o.id == self))
            .map(|s| s.id)
            .expect("every tensor is written by one stage")
    }
}

impl StageId {
    /// The stages a run of `cfg` has, in order: QK-norm only with it, the padding mask only
    /// with a mask, and the checkpoint's source and prediction stages only with a checkpoint.
    pub fn present(cfg: &crate::config::Config, checkpoint: bool) -> Vec<StageId> {
        StageId::ALL
            .into_iter()
            .filter(|id| match id {
                StageId::QkNorm => cfg.qk_norm,
                StageId::PaddingMask => cfg.attention_mask.is_some(),
                StageId::Source | StageId::Predict => checkpoint,
                _ => true,
            })
            .collect()
    }

    /// This stage's descriptor.
    pub fn spec(self) -> &'static StageSpec {
        &SPECS[self as usize]
    }

    /// The stage id used on the command line and in lessons (`softmax`, `repeat_kv`, …).
    pub fn as_str(self) -> &'static str {
        self.spec().name
    }

    /// Parses a stage id, accepting `-` for `_`.
    pub fn parse(s: &str) -> Option<StageId> {
        let key = s.trim().to_ascii_lowercase().replace('-', "_");
        StageId::ALL.into_iter().find(|id| id.as_str() == key)
    }

    pub fn title(self) -> &'static str {
        self.spec().title
    }

    pub fn code(self) -> &'static str {
        self.spec().code
    }

    pub fn changes_shape(self) -> bool {
        self.spec().changes_shape
    }
}

impl std::fmt::Display for StageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_in_stage_order_and_every_tensor_has_one_writer() {
        for (i, id) in StageId::ALL.into_iter().enumerate() {
            assert_eq!(SPECS[i].id, id);
            assert_eq!(StageId::parse(SPECS[i].name), Some(id));
        }
        for t in TensorId::ALL {
            let writers = SPECS
                .iter()
                .filter(|s| s.outputs.iter().any(|o| o.id == t))
                .count();
            assert_eq!(writers, 1, "{t} is written by {writers} stages");
            assert_eq!(TensorId::parse(t.name()), Some(t));
        }
    }

    #[test]
    fn every_source_is_written_no_later_than_its_use() {
        for spec in &SPECS {
            for o in spec.outputs {
                for f in o.from.iter().chain(spec.reads) {
                    assert!(
                        f.stage() <= spec.id,
                        "{} reads {f}, written later by {}",
                        o.id,
                        f.stage()
                    );
                }
                if o.given {
                    assert!(o.from.is_empty() && o.op.is_empty(), "{} is given", o.id);
                }
            }
        }
    }
}
