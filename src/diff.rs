//! Comparing two runs tensor by tensor: a run with a planted slip against the faithful one, or
//! two configurations with the same seed (chunked against one-shot prefill, MHA against GQA).
//!
//! Steps are paired by the position they end at, so `--steps 6,1` and `--steps 3,3,1` compare
//! their calls that end at 6 and at 7. Within a pair, tensors of the same name are compared over
//! what both hold: equal shapes element by element; shapes that differ only in how many new
//! tokens the call has (`seq_len`) over the trailing tokens both calls computed; anything else
//! is reported as a shape difference.

use ndarray::{ArrayViewD, Axis, Slice};

use crate::dims::DimName;
use crate::numeric::Tensor;
use crate::stage::{StageId, TensorId};
use crate::trace::{Step, Trace};

/// How one tensor of one step pair compares.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorDiff {
    /// Step indices in the first and the second run.
    pub steps: (usize, usize),
    pub stage: StageId,
    pub tensor: TensorId,
    /// The shapes as each run has them, if they differ.
    pub shapes: Option<(String, String)>,
    /// Largest |a − b| over the compared elements (∞ where one is NaN or infinite and the other
    /// is not); `None` when nothing could be compared.
    pub max_abs: Option<f32>,
    /// How many elements were compared.
    pub compared: usize,
}

impl TensorDiff {
    /// Whether the numbers that could be compared differ by more than `tol`.
    pub fn differs(&self, tol: f32) -> bool {
        self.max_abs.is_some_and(|d| d > tol)
    }
}

/// Every tensor of every paired step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceDiff {
    pub tensors: Vec<TensorDiff>,
    /// Steps of either run that end at a position the other run has no step ending at.
    pub unpaired: (Vec<usize>, Vec<usize>),
}

impl TraceDiff {
    /// The first tensor, in run order, whose numbers differ by more than `tol`.
    pub fn first_difference(&self, tol: f32) -> Option<&TensorDiff> {
        self.tensors.iter().find(|t| t.differs(tol))
    }

    /// The first tensor whose shapes differ.
    pub fn first_shape_difference(&self) -> Option<&TensorDiff> {
        self.tensors.iter().find(|t| t.shapes.is_some())
    }
}

/// Largest difference counted as equal between a run with a planted slip and MiniMind's: both
/// run the same operations on the same numbers up to the slip, so what agrees agrees exactly.
pub const SLIP_TOL: f32 = 1e-6;

/// MiniMind's faithful run of the configuration `planted` was run with: the same seed, so the
/// same weights and inputs, without its slip. `None` when no slip is planted.
pub fn faithful_twin(planted: &Trace<Tensor>) -> Option<Trace<Tensor>> {
    planted.config.bug?;
    let cfg = crate::config::Config {
        bug: None,
        ..planted.config.clone()
    };
    Some(crate::forward::trace(
        &cfg,
        &mut crate::numeric::Numeric::new(cfg.seed),
    ))
}

/// Compares two runs of the same layer.
pub fn diff(a: &Trace<Tensor>, b: &Trace<Tensor>) -> TraceDiff {
    let mut out = TraceDiff::default();
    let end = |st: &Step<Tensor>| st.kv_len();
    for (i, sa) in a.steps.iter().enumerate() {
        match b.steps.iter().position(|sb| end(sb) == end(sa)) {
            Some(j) => compare_steps(&mut out, (i, j), sa, &b.steps[j]),
            None => out.unpaired.0.push(i),
        }
    }
    out.unpaired.1 = (0..b.steps.len())
        .filter(|&j| !a.steps.iter().any(|sa| end(sa) == end(&b.steps[j])))
        .collect();
    out
}

fn compare_steps(out: &mut TraceDiff, steps: (usize, usize), a: &Step<Tensor>, b: &Step<Tensor>) {
    for stage in &a.stages {
        for t in &stage.tensors {
            let Some(other) = b.tensor(t.id) else {
                continue;
            };
            out.tensors
                .push(compare(steps, stage.id, t.id, &t.value, other));
        }
    }
}

fn compare(
    steps: (usize, usize),
    stage: StageId,
    tensor: TensorId,
    a: &Tensor,
    b: &Tensor,
) -> TensorDiff {
    let shapes = (a.shape != b.shape).then(|| (a.shape.to_string(), b.shape.to_string()));
    let (va, vb) = match trailing_overlap(a, b) {
        Some(views) => views,
        None => {
            return TensorDiff {
                steps,
                stage,
                tensor,
                shapes,
                max_abs: None,
                compared: 0,
            };
        }
    };
    let mut max_abs = 0.0f32;
    for (x, y) in va.iter().zip(vb.iter()) {
        max_abs = max_abs.max(distance(*x, *y));
    }
    TensorDiff {
        steps,
        stage,
        tensor,
        shapes,
        max_abs: Some(max_abs),
        compared: va.len(),
    }
}

/// |x − y|, with equal infinities and two NaNs counting as equal.
fn distance(x: f32, y: f32) -> f32 {
    if x == y || (x.is_nan() && y.is_nan()) {
        0.0
    } else if x.is_finite() && y.is_finite() {
        (x - y).abs()
    } else {
        f32::INFINITY
    }
}

/// Views of `a` and `b` over what both hold: the whole tensors when their sizes agree, or the
/// trailing tokens of each `seq_len` axis when only those sizes differ.
fn trailing_overlap<'a>(
    a: &'a Tensor,
    b: &'a Tensor,
) -> Option<(ArrayViewD<'a, f32>, ArrayViewD<'a, f32>)> {
    let (da, db) = (a.shape.dims(), b.shape.dims());
    if da.len() != db.len() {
        return None;
    }
    let mut va = a.data.view();
    let mut vb = b.data.view();
    for (axis, (x, y)) in da.iter().zip(db).enumerate() {
        if x.size == y.size {
            continue;
        }
        if x.name != DimName::SeqLen || y.name != DimName::SeqLen {
            return None;
        }
        let n = x.size.min(y.size) as isize;
        va.slice_axis_inplace(Axis(axis), Slice::from(-n..));
        vb.slice_axis_inplace(Axis(axis), Slice::from(-n..));
    }
    Some((va, vb))
}
