//! A planted slip in the stepper: the comparison with MiniMind's faithful run under each stage
//! (`d`, or `diff` in line mode), and the bug hunt of a lesson that plants a slip.
//!
//! The hunt is asked on the end screen, once the learner has walked the tables: first "where
//! does the run first go wrong?" (a stage by its number as the status line shows it, or by
//! name, with `step N` to name the call), with the slip's symptom after a wrong guess and more
//! pointed hints after that; only once it is found (or given up with `skip`) come the diff at
//! that stage and the explanation, then "which MiniMind line did the slip break?" (one of four
//! lines, by letter). In a hunt the comparison stays closed until the stage is found: it would
//! give the answer away.
//!
//! [`super::walk::Walk`] holds a [`Hunt`] when the trace has a slip and calls it from a few
//! hooks; everything about slips in the stepper is in this module.
//!
//! This file holds the hunt's state and the comparison under each stage; `questions` asks the
//! two questions and judges the answers, `display` draws the question and end screens.

mod choices;
mod display;
mod questions;

use crate::bugs::{Bug, Line};
use crate::diff::{self, SLIP_TOL, TraceDiff};
use crate::numeric::Tensor;
use crate::presentation::Presentation;
use crate::render::{self, View};
use crate::trace::{StageId, Trace};

use super::nav::Position;
use super::quiz::QuizScore;
use choices::choices;

/// Where the hunt stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Not asked yet: the learner has not reached the end screen.
    Waiting,
    /// Asking for the first stage that goes wrong.
    Stage,
    /// Asking which line the slip broke.
    Line,
    Done,
}

/// How one question went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tries {
    wrong: u8,
    /// Found (rather than given up or revealed after two wrong answers).
    found: bool,
}

/// The slip planted in a walk's trace, MiniMind's faithful run beside it, and the hunt.
pub struct Hunt<'a> {
    trace: &'a Trace<Tensor>,
    faithful: Trace<Tensor>,
    diff: TraceDiff,
    bug: Bug,
    /// For each step, the ids of its shown stages (numbered from 1 as the status line does).
    shown: Vec<Vec<StageId>>,
    /// The comparison is drawn under each stage.
    open: bool,
    /// `None` outside a bug-hunt lesson (`run --bug`: nothing to find, only to compare).
    phase: Option<Phase>,
    stage: Tries,
    line: Tries,
    hints: u8,
    choices: [Line; 4],
}

/// The first stage that goes wrong: (step index, stage id).
type Spot = (usize, StageId);

impl<'a> Hunt<'a> {
    /// The hunt for `trace`'s slip, if one is planted; the questions only if the presentation
    /// asks for them.
    pub fn new(trace: &'a Trace<Tensor>, pres: &Presentation) -> Option<Hunt<'a>> {
        let bug = trace.config.bug?;
        let faithful = diff::faithful_twin(trace)?;
        let diff = diff::diff(&faithful, trace);
        let shown = trace
            .steps
            .iter()
            .map(|st| {
                st.stages
                    .iter()
                    .map(|s| s.id)
                    .filter(|id| pres.shows(*id))
                    .collect()
            })
            .collect();
        Some(Hunt {
            trace,
            faithful,
            diff,
            bug,
            shown,
            open: false,
            phase: pres.hunt.is_some().then_some(Phase::Waiting),
            stage: Tries::default(),
            line: Tries::default(),
            hints: 0,
            choices: choices(bug),
        })
    }

    /// Whether this walk asks the learner to find the slip.
    pub fn has_questions(&self) -> bool {
        self.phase.is_some()
    }

    /// A question is pending (the walk asks it on the end screen).
    pub fn asking(&self) -> bool {
        matches!(self.phase, Some(Phase::Stage | Phase::Line))
    }

    /// The pending question is the line one, answered by letter (so `b` is an answer there).
    pub fn choosing_line(&self) -> bool {
        self.phase == Some(Phase::Line)
    }

    /// The end screen was reached: ask, unless already asked.
    pub fn enter(&mut self) {
        if self.phase == Some(Phase::Waiting) && self.first().is_some() {
            self.phase = Some(Phase::Stage);
        }
    }

    /// A number that changes whenever what the hunt draws changes (for redraw decisions).
    pub fn state(&self) -> u8 {
        let phase = match self.phase {
            None => 0,
            Some(Phase::Waiting) => 1,
            Some(Phase::Stage) => 2,
            Some(Phase::Line) => 3,
            Some(Phase::Done) => 4,
        };
        phase * 2 + u8::from(self.open)
    }

    /// Where the run first goes wrong, if anywhere.
    fn first(&self) -> Option<Spot> {
        self.diff
            .first_difference(SLIP_TOL)
            .map(|t| (t.steps.0, t.stage))
    }

    /// The comparison may be shown: always with `run --bug`, in a hunt once the stage is found.
    fn comparable(&self) -> bool {
        matches!(self.phase, None | Some(Phase::Line | Phase::Done))
    }

    /// `d`: shows or hides the comparison under each stage.
    pub fn toggle(&mut self) -> Result<(), String> {
        if !self.comparable() {
            return Err(
                "the comparison with MiniMind's run opens once you have found where \
                 this run goes wrong: G goes to the question"
                    .into(),
            );
        }
        self.open = !self.open;
        Ok(())
    }

    /// The comparison to draw under stage `p`, when it is open.
    pub fn comparison(&self, p: Position, view: &View) -> Option<String> {
        self.open.then(|| {
            render::diff::stage_comparison(
                &self.faithful,
                &self.diff,
                p.step,
                p.stage,
                SLIP_TOL,
                view,
            )
        })
    }

    /// What the status line says about it.
    pub fn status_hint(&self) -> &'static str {
        match (self.comparable(), self.open) {
            (false, _) => "G: find the slip",
            (true, false) => "d diff",
            (true, true) => "d hide diff",
        }
    }

    /// The score, once both questions are settled: two questions, right first time or not.
    pub fn score(&self) -> Option<QuizScore> {
        (self.phase == Some(Phase::Done)).then(|| QuizScore {
            asked: 2,
            first_try: [self.stage, self.line]
                .iter()
                .filter(|t| t.found && t.wrong == 0)
                .count(),
            missed: Vec::new(),
        })
    }
}

/// The shape quiz's score with the hunt's added, for the progress record.
pub fn merged_score(quiz: Option<&QuizScore>, hunt: Option<&Hunt>) -> Option<QuizScore> {
    match (quiz.cloned(), hunt.and_then(Hunt::score)) {
        (Some(mut q), Some(h)) => {
            q.asked += h.asked;
            q.first_try += h.first_try;
            Some(q)
        }
        (q, h) => q.or(h),
    }
}
