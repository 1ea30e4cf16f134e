//! A diff of two runs as text: for each pair of calls, stage by stage, whether the tensors
//! agree, differ in their numbers (with the largest difference), or differ in shape, with the
//! first stage that differs marked. Reads only the [`TraceDiff`].

use std::fmt::Write;

use super::palette::{Palette, Role};
use crate::diff::{TensorDiff, TraceDiff};
use crate::stage::StageId;

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

fn summary(d: &TraceDiff, tol: f32) -> String {
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
