//! What a walk is given (its runs and options) and what it gives back (where it ended).

use super::nav::Position;
use super::quiz::QuizScore;
use crate::numeric::Tensor;
use crate::trace::Trace;

/// How to walk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Ask the lesson's quiz questions before showing what answers them.
    pub quiz: bool,
    /// Start at this stage instead of the welcome (to resume a lesson).
    pub start: Option<Position>,
    /// The run to start with (an index into the runs: the variant chosen).
    pub variant: usize,
}

/// One configuration a walk can show: a lesson's named variant, or the run.
#[derive(Clone, Debug)]
pub struct Run {
    /// The variant's name (`None` for a walk without variants).
    pub name: Option<String>,
    pub trace: Trace<Tensor>,
}

impl Run {
    /// A walk's only run.
    pub fn single(trace: Trace<Tensor>) -> Vec<Run> {
        vec![Run { name: None, trace }]
    }
}

/// Where a walk ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The stage last shown (the first one if the walk never left the welcome).
    pub position: Position,
    /// The last screen was reached.
    pub finished: bool,
    /// The quiz result, when the quiz was on.
    pub quiz: Option<QuizScore>,
}
