//! Turning a trace into text for the terminal.
//!
//! For now a plain view: each stage's id, title, MiniMind line and tensor shapes.

use std::io::{self, Write};

use crate::numeric::Tensor;
use crate::trace::{Stage, Step, Trace};

/// Which stages of which steps to print.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// 0-based step index; `None` for every step.
    pub step: Option<usize>,
    /// Stage id; `None` for every stage.
    pub stage: Option<crate::trace::StageId>,
}

pub fn print_trace(out: &mut dyn Write, trace: &Trace<Tensor>, sel: &Selection) -> io::Result<()> {
    for (i, step) in trace.steps.iter().enumerate() {
        if sel.step.is_some_and(|s| s != i) {
            continue;
        }
        for (j, stage) in step.stages.iter().enumerate() {
            if sel.stage.is_some_and(|s| s != stage.id) {
                continue;
            }
            print_stage(out, trace, i, j, step, stage)?;
        }
    }
    Ok(())
}

fn print_stage(
    out: &mut dyn Write,
    trace: &Trace<Tensor>,
    step_index: usize,
    stage_index: usize,
    step: &Step<Tensor>,
    stage: &Stage<Tensor>,
) -> io::Result<()> {
    writeln!(
        out,
        "── step {}/{} {} (pos {}..{}) · stage {}/{} {}: {}",
        step_index + 1,
        trace.steps.len(),
        step.kind.as_str(),
        step.start_pos,
        step.kv_len() - 1,
        stage_index + 1,
        step.stages.len(),
        stage.id,
        stage.id.title()
    )?;
    for line in stage.id.code().lines() {
        writeln!(out, "    {line}")?;
    }
    for t in &stage.tensors {
        match t.from.and_then(|f| step.tensor(f)) {
            Some(src) if src.shape != t.value.shape => writeln!(
                out,
                "  {:<14} {} → {}",
                t.name, src.shape, t.value.shape
            )?,
            _ => writeln!(out, "  {:<14} {}", t.name, t.value.shape)?,
        }
    }
    for (label, shape) in &stage.via {
        writeln!(out, "  (via {label}: {shape})")?;
    }
    writeln!(out)
}
