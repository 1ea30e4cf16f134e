//! Front ends that walk a trace stage by stage.
//!
//! For now only the non-interactive one: every shown stage printed in order, with the
//! presentation's welcome, notes and closing.

use std::io::{self, Write};

use crate::numeric::Tensor;
use crate::presentation::Presentation;
use crate::render::{self, View};
use crate::trace::Trace;

/// Walks the trace for a reader. Currently prints everything at once.
pub fn present(
    out: &mut dyn Write,
    trace: &Trace<Tensor>,
    pres: &Presentation,
    view: &View,
) -> io::Result<()> {
    print_all(out, trace, pres, view)
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
