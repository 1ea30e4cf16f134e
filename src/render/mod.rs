//! Turning a trace into text for the terminal.
//!
//! [`render_stage`] is the one entry point every front end uses (the `run --all` printer, the
//! interactive stepper, lessons): it draws one stage of one step into a `String` according to a
//! [`View`]. For now the view is plain: id, title, MiniMind line and tensor shapes.

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::numeric::Tensor;
use crate::trace::{StageId, Trace};

/// How to draw a stage: which head and batch row the matrices show, colour, and size limits.
#[derive(Clone, Debug, PartialEq)]
pub struct View {
    /// Query head shown in per-head matrices (0-based).
    pub head: usize,
    /// Batch row shown (0-based).
    pub batch: usize,
    /// Emit ANSI colour.
    pub color: bool,
    /// Terminal width in columns.
    pub width: usize,
    pub max_rows: usize,
    pub max_cols: usize,
    /// Decimals shown.
    pub precision: usize,
}

impl Default for View {
    fn default() -> Self {
        View {
            head: 0,
            batch: 0,
            color: false,
            width: 100,
            max_rows: 8,
            max_cols: 8,
            precision: 3,
        }
    }
}

/// Draws stage `stage` (index into `trace.steps[step].stages`) of step `step`.
pub fn render_stage(trace: &Trace<Tensor>, step: usize, stage: usize, view: &View) -> String {
    let _ = view;
    let st = &trace.steps[step];
    let sg = &st.stages[stage];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "── step {}/{} {} (pos {}..{}) · stage {}/{} {}: {}",
        step + 1,
        trace.steps.len(),
        st.kind.as_str(),
        st.start_pos,
        st.kv_len() - 1,
        stage + 1,
        st.stages.len(),
        sg.id,
        sg.id.title()
    );
    for line in sg.id.code().lines() {
        let _ = writeln!(out, "    {line}");
    }
    for t in &sg.tensors {
        let _ = match t.from.and_then(|f| st.tensor(f)) {
            Some(src) if src.shape != t.value.shape => {
                writeln!(out, "  {:<14} {} → {}", t.name, src.shape, t.value.shape)
            }
            _ => writeln!(out, "  {:<14} {}", t.name, t.value.shape),
        };
    }
    for (label, shape) in &sg.via {
        let _ = writeln!(out, "  (via {label}: {shape})");
    }
    out
}

/// Which stages of which steps to print.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// 0-based step index; `None` for every step.
    pub step: Option<usize>,
    /// Stage id; `None` for every stage.
    pub stage: Option<StageId>,
}

/// Prints the selected stages, one after another, separated by blank lines.
pub fn print_trace(
    out: &mut dyn Write,
    trace: &Trace<Tensor>,
    sel: &Selection,
    view: &View,
) -> io::Result<()> {
    for (i, step) in trace.steps.iter().enumerate() {
        if sel.step.is_some_and(|s| s != i) {
            continue;
        }
        for (j, stage) in step.stages.iter().enumerate() {
            if sel.stage.is_some_and(|s| s != stage.id) {
                continue;
            }
            writeln!(out, "{}", render_stage(trace, i, j, view))?;
        }
    }
    Ok(())
}
