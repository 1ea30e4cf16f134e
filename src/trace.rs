//! The trace: plain data that records a run. Steps (forward calls) hold stages (MiniMind
//! lines) which hold named tensors. Rendering, stepping, export and the quiz only read it.

use crate::config::Config;
use crate::dims::Shape;
pub use crate::stage::id::{StageId, TensorId, WeightId};

/// A tensor of a step, with the tensor it was computed from (for `before → after`).
#[derive(Clone, Debug, PartialEq)]
pub struct Named<T> {
    pub id: TensorId,
    pub value: T,
    /// The tensor this one was made from, if the stage transforms one.
    pub from: Option<TensorId>,
}

impl<T> Named<T> {
    /// The export name.
    pub fn name(&self) -> &'static str {
        self.id.name()
    }
}

/// A parameter of the layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Weight<T> {
    pub id: WeightId,
    pub value: T,
}

/// One stage of one forward call.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage<T> {
    pub id: StageId,
    /// The tensors this stage writes, under their export names.
    pub tensors: Vec<Named<T>>,
    /// Intermediate shapes the Python goes through without keeping a tensor (repeat_kv's 5-D
    /// expand), as `(label, shape)`.
    pub via: Vec<(&'static str, Shape)>,
}

impl<T> Stage<T> {
    pub fn tensor(&self, id: TensorId) -> Option<&T> {
        self.tensors.iter().find(|n| n.id == id).map(|n| &n.value)
    }
}

/// What kind of forward call a step is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// The first call: nothing cached yet.
    Prefill,
    /// A later call of exactly one token.
    Decode,
    /// A later call of several tokens.
    Chunk,
}

impl StepKind {
    pub fn of(index: usize, seq_len: usize) -> StepKind {
        match (index, seq_len) {
            (0, _) => StepKind::Prefill,
            (_, 1) => StepKind::Decode,
            _ => StepKind::Chunk,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Prefill => "prefill",
            StepKind::Decode => "decode",
            StepKind::Chunk => "chunk",
        }
    }
}

/// One forward call through the attention layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Step<T> {
    pub kind: StepKind,
    /// Tokens already in the cache before this call (= past_len; the first new position).
    pub start_pos: usize,
    /// New tokens in this call.
    pub seq_len: usize,
    pub stages: Vec<Stage<T>>,
}

impl<T> Step<T> {
    pub fn kv_len(&self) -> usize {
        self.start_pos + self.seq_len
    }

    /// A tensor of this step, from whichever stage wrote it.
    pub fn tensor(&self, id: TensorId) -> Option<&T> {
        self.stages.iter().find_map(|s| s.tensor(id))
    }

    pub fn stage(&self, id: StageId) -> Option<&Stage<T>> {
        self.stages.iter().find(|s| s.id == id)
    }

    /// Every tensor of the step, in stage order.
    pub fn tensors(&self) -> impl Iterator<Item = &Named<T>> + Clone {
        self.stages.iter().flat_map(|s| s.tensors.iter())
    }
}

/// A whole run: the configuration, the layer's weights and every forward call.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace<T> {
    pub config: Config,
    pub weights: Vec<Weight<T>>,
    pub steps: Vec<Step<T>>,
    /// Set when the run is one layer of a real checkpoint rather than random weights.
    pub model: Option<ModelInfo>,
}

/// Where a checkpoint run's layer sits and what the whole model made of the text.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ModelInfo {
    /// How the checkpoint was named (`tiny`, or its directory).
    pub name: String,
    /// The layer stepped through (0-based) and how many the model has.
    pub layer: usize,
    pub layers: usize,
    /// The token ids of the text, in order.
    pub token_ids: Vec<u32>,
    /// The five most likely next tokens after the last position: (id, label, probability).
    pub top5: Vec<(u32, String, f32)>,
}

impl<T> Trace<T> {
    pub fn weight(&self, id: WeightId) -> Option<&T> {
        self.weights.iter().find(|w| w.id == id).map(|w| &w.value)
    }
}
