//! Front ends that walk a trace stage by stage: the interactive stepper and the printer.
//!
//! [`present`] picks how to walk from what standard input and output are:
//!
//! - both terminals: the one-key stepper in raw mode ([`term`]), redrawn in place;
//! - standard input not a terminal (a script, a test, a pipe, `/dev/null`): line mode
//!   ([`line`]), one command per line, each screen printed below the last; it never waits for a
//!   key nobody can press, and with no input at all it prints the whole walk;
//! - standard input a terminal but output not (`attnstep run | less`): everything printed at
//!   once ([`print_all`]), since nobody can see a stepper; except with the quiz, which then runs
//!   in line mode so the learner can still type answers.
//!
//! The walk is: the presentation's welcome, every shown stage of every step (with its notes),
//! and an end screen with the closing text and the quiz score. The pieces: [`nav`] the pure
//! navigation state machine, [`keys`] the key map, [`quiz`] the shape quiz, [`walk`] the screens
//! they share.

pub mod keys;
pub mod line;
pub mod nav;
pub mod quiz;
pub mod term;
pub mod walk;

use std::io::{self, IsTerminal, Write};

use anyhow::Result;

pub use nav::Position;
pub use quiz::QuizScore;

use crate::numeric::Tensor;
use crate::presentation::Presentation;
use crate::render::{self, View};
use crate::trace::Trace;
use walk::Walk;

/// How to walk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Ask for each new shape before showing it.
    pub quiz: bool,
    /// Start at this stage instead of the welcome (to resume a lesson).
    pub start: Option<Position>,
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

/// Walks the trace for a reader, interactively when a person is at a terminal (see the module
/// doc for how the mode is chosen). The head and batch row start at the view's, or the
/// presentation's when the view has 0.
pub fn present(
    out: &mut dyn Write,
    trace: &Trace<Tensor>,
    pres: &Presentation,
    view: &View,
    opts: &Options,
) -> Result<Outcome> {
    let stdin_tty = io::stdin().is_terminal();
    let stdout_tty = io::stdout().is_terminal();
    if stdin_tty && stdout_tty {
        let mut walk = Walk::new(trace, pres, view, opts);
        term::run(out, &mut walk)?;
        Ok(walk.outcome())
    } else if !stdin_tty || opts.quiz {
        present_lines(&mut io::stdin().lock(), out, trace, pres, view, opts)
    } else {
        print_all(out, trace, pres, view)?;
        let last = trace
            .steps
            .iter()
            .enumerate()
            .flat_map(|(i, st)| {
                st.stages
                    .iter()
                    .enumerate()
                    .filter(|(_, sg)| pres.shows(sg.id))
                    .map(move |(j, _)| Position { step: i, stage: j })
            })
            .last()
            .unwrap_or(Position { step: 0, stage: 0 });
        Ok(Outcome {
            position: last,
            finished: true,
            quiz: None,
        })
    }
}

/// Line mode on any input: what [`present`] does when standard input is not a terminal.
pub fn present_lines(
    input: &mut dyn io::BufRead,
    out: &mut dyn Write,
    trace: &Trace<Tensor>,
    pres: &Presentation,
    view: &View,
    opts: &Options,
) -> Result<Outcome> {
    let mut walk = Walk::new(trace, pres, view, opts);
    line::run(input, out, &mut walk)?;
    Ok(walk.outcome())
}

/// Prints the welcome, every shown stage of every step with its notes, and the closing.
pub fn print_all(
    out: &mut dyn Write,
    trace: &Trace<Tensor>,
    pres: &Presentation,
    view: &View,
) -> io::Result<()> {
    if let Some(w) = &pres.welcome {
        writeln!(out, "{w}\n")?;
    }
    for (i, step) in trace.steps.iter().enumerate() {
        for (j, stage) in step.stages.iter().enumerate() {
            if !pres.shows(stage.id) {
                continue;
            }
            write!(out, "{}", render::render_stage(trace, i, j, view))?;
            for note in pres.notes_for(i, stage.id) {
                writeln!(out, "  {note}")?;
            }
            writeln!(out)?;
        }
    }
    if let Some(c) = &pres.closing {
        writeln!(out, "{c}")?;
    }
    Ok(())
}
