//! A diff of two runs as text: for each pair of calls, stage by stage, whether the tensors
//! agree, differ in their numbers (with the largest difference), or differ in shape, with the
//! first stage that differs marked ([`report`]); and one stage of a run with a planted slip
//! set beside MiniMind's faithful numbers ([`stage_comparison`]), for `run --diff` and the
//! stepper's `d`.

use std::fmt::Write;

use super::palette::{Palette, Role};
use super::stages;
use super::view::View;
use crate::diff::{TensorDiff, TraceDiff};
use crate::numeric::Tensor;
use crate::stage::StageId;
use crate::trace::Trace;

/// Writes the diff of run `a` against run `b` (named by `labels`), counting numbers that differ
/// by at most `tol` as equal.
pub fn report(d: &TraceDiff, labels: (&str, &str), tol: f32, pal: &Palette) -> String {
    let mut out = String::new();
    let first = d.first_difference(tol).map(|t| (t.steps, t.stage));
    let mut pairs: Vec<(usize, usize)> = d.tensors.iter().map(|t| t.steps).collect();
    pairs.dedup();
    for pair in pairs {
        let _ = writeln!(
            out,
            "{}",
            pal.paint(
                &format!(
                    "{} call {} ↔ {} call {}",
                    labels.0,
                    pair.0 + 1,
                    labels.1,
                    pair.1 + 1
                ),
                Role::Heading
            )
        );
        let tensors: Vec<&TensorDiff> = d.tensors.iter().filter(|t| t.steps == pair).collect();
        let mut stages: Vec<StageId> = tensors.iter().map(|t| t.stage).collect();
        stages.dedup();
        for stage in stages {
            let of_stage: Vec<&&TensorDiff> = tensors.iter().filter(|t| t.stage == stage).collect();
            let mark = if first == Some((pair, stage)) {
                "▶"
            } else {
                " "
            };
            let _ = writeln!(
                out,
                "{mark} {:<13} {}",
                stage.as_str(),
                verdict(&of_stage, tol, pal)
            );
        }
    }
    for (label, steps) in [(labels.0, &d.unpaired.0), (labels.1, &d.unpaired.1)] {
        for s in steps.iter() {
            let _ = writeln!(
                out,
                "{}",
                pal.paint(
                    &format!(
                        "{label} call {} ends where the other run has no call",
                        s + 1
                    ),
                    Role::Muted
                )
            );
        }
    }
    out.push_str(&summary(d, tol));
    out
}

/// One stage's verdict: the shape differences and the largest numeric difference.
fn verdict(tensors: &[&&TensorDiff], tol: f32, pal: &Palette) -> String {
    let mut parts = Vec::new();
    for t in tensors.iter().filter(|t| t.shapes.is_some()) {
        let (a, b) = t.shapes.as_ref().expect("filtered");
        parts.push(format!("{} shape {a} vs {b}", t.tensor));
    }
    let worst = tensors
        .iter()
        .filter_map(|t| t.max_abs.map(|m| (m, t.tensor)))
        .max_by(|x, y| x.0.total_cmp(&y.0));
    match worst {
        Some((m, t)) if m > tol => {
            parts.push(pal.paint(&format!("{t} differs by {m:.3e}"), Role::Blocked))
        }
        Some(_) if parts.is_empty() => parts.push(pal.paint("same numbers", Role::Muted)),
        Some(_) => parts.push("numbers agree where both have them".into()),
        None => {}
    }
    parts.join("; ")
}

/// The closing verdict: where the runs first differ, by how much, and whether shapes differ.
pub fn summary(d: &TraceDiff, tol: f32) -> String {
    let shapes_differ = d.first_shape_difference().is_some();
    match d.first_difference(tol) {
        None if shapes_differ => format!(
            "The runs agree within {tol:e} wherever both compute the same tokens; some shapes \
             differ (the calls split the tokens differently).\n"
        ),
        None => format!("The runs agree within {tol:e} at every stage of every paired call.\n"),
        Some(t) => format!(
            "First difference: call {} stage {} ({}, largest |Δ| {:.3e}){}.\n",
            t.steps.0 + 1,
            t.stage.as_str(),
            t.tensor,
            t.max_abs.unwrap_or(f32::NAN),
            if shapes_differ {
                ""
            } else {
                "; every shape agrees, only the numbers are wrong"
            }
        ),
    }
}

/// What the comparison of one stage says: the planted run (`b` in `d`) beside MiniMind's
/// faithful run (`a`), for stage `stage` of step `step` (indices into the planted trace, whose
/// steps and stages line up with the faithful one's: same configuration, same seed).
///
/// Where the stage agrees it says so in one line; where it differs it names the tensor and the
/// largest difference, marks the first stage that goes wrong (`▶`), says "shapes right, numbers
/// wrong" when no shape anywhere differs, and draws MiniMind's numbers for the stage under a
/// "faithful" heading, in the view's head and batch row, to set beside the planted ones above.
pub fn stage_comparison(
    faithful: &Trace<Tensor>,
    d: &TraceDiff,
    step: usize,
    stage: usize,
    tol: f32,
    view: &View,
) -> String {
    let pal = view.palette();
    let id = faithful.steps[step].stages[stage].id;
    let here: Vec<&TensorDiff> = d
        .tensors
        .iter()
        .filter(|t| t.steps.0 == step && t.stage == id)
        .collect();
    let first = d.first_difference(tol);
    let is_first = first.is_some_and(|t| t.steps.0 == step && t.stage == id);
    let shapes_right = d.first_shape_difference().is_none();
    let mut out = String::new();
    let differs = here.iter().any(|t| t.differs(tol) || t.shapes.is_some());
    let mark = if is_first { "▶" } else { "⇄" };
    let heading = if differs {
        format!("{mark} beside MiniMind's faithful run: this stage differs")
    } else {
        format!("{mark} beside MiniMind's faithful run: same numbers here")
    };
    let _ = writeln!(out, "{}", pal.paint(&heading, Role::Heading));
    if is_first {
        let _ = writeln!(
            out,
            "  {}",
            pal.paint(
                "the first stage where the run goes wrong: every stage before it agrees",
                Role::Blocked
            )
        );
    }
    if !differs {
        return out;
    }
    for t in &here {
        let line = match (&t.shapes, t.max_abs) {
            (Some((a, b)), _) => format!("{} is {b} here, {a} in MiniMind's run", t.tensor),
            (None, Some(m)) if m > tol => {
                format!("{} differs by up to {m:.3e}", t.tensor)
            }
            _ => format!("{} agrees", t.tensor),
        };
        let _ = writeln!(out, "  {line}");
    }
    if shapes_right {
        let _ = writeln!(
            out,
            "  {}",
            pal.paint(
                "shapes right, numbers wrong: every shape agrees with MiniMind's",
                Role::Changed
            )
        );
    }
    let _ = writeln!(
        out,
        "\n{}",
        pal.paint(
            &format!("faithful: MiniMind's numbers for {id}, step {}", step + 1),
            Role::Heading
        )
    );
    for section in stages::numbers(faithful, step, stage, view, &pal) {
        out.push_str(&section);
        if !section.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}
