//! What a walk through a trace shows besides the tensors: a title, a welcome screen, notes on
//! particular stages, quiz hints, which stages to show and a closing screen. (The first head and batch
//! row shown are the [`crate::render::View`]'s.)
//!
//! `attnstep run` uses [`Presentation::default`]; a lesson file fills one in. The stepper and
//! the printers read it; nothing here touches the terminal.

use crate::trace::StageId;

/// A note shown with a stage: for one step (0-based) or, with `step: None`, for every step.
#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    pub stage: StageId,
    pub step: Option<usize>,
    pub text: String,
}

/// A hint for the predict-the-shape quiz at a stage.
#[derive(Clone, Debug, PartialEq)]
pub struct Hint {
    pub stage: StageId,
    pub text: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Presentation {
    pub title: Option<String>,
    pub summary: Option<String>,
    /// Shown before the first stage.
    pub welcome: Option<String>,
    pub notes: Vec<Note>,
    pub hints: Vec<Hint>,
    /// Stages to show, in trace order; `None` shows all.
    pub stages: Option<Vec<StageId>>,
    /// Shown after the last stage: what was learned, what to take next.
    pub closing: Option<String>,
    /// Ask the learner to find the slip planted in the run (a bug-hunt lesson).
    pub hunt: bool,
}

impl Presentation {
    /// Notes for `stage` of step `step`, in file order.
    pub fn notes_for(&self, step: usize, stage: StageId) -> impl Iterator<Item = &str> {
        self.notes
            .iter()
            .filter(move |n| n.stage == stage && n.step.is_none_or(|s| s == step))
            .map(|n| n.text.as_str())
    }

    pub fn hint_for(&self, stage: StageId) -> Option<&str> {
        self.hints
            .iter()
            .find(|h| h.stage == stage)
            .map(|h| h.text.as_str())
    }

    pub fn shows(&self, stage: StageId) -> bool {
        self.stages.as_ref().is_none_or(|s| s.contains(&stage))
    }
}
