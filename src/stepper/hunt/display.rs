//! What the bug hunt draws: the question screen (the steps and stages to choose from, then
//! the slip revealed beside MiniMind's faithful run at the stage where they first differ and
//! the four lines to choose from) and the hunt's part of the end screen.

use crate::diff::SLIP_TOL;
use crate::render::{self, View};
use crate::stepper::screen::wrap;

use super::choices::letter;
use super::{Hunt, Phase, Tries};

impl Hunt<'_> {
    /// The screen while a question is pending.
    pub fn question_lines(&self, view: &View) -> Vec<String> {
        let width = view.width.max(20);
        let mut lines = Vec::new();
        match self.phase {
            Some(Phase::Stage) => {
                lines.push("Bug hunt: a slip is planted somewhere in this run.".into());
                lines.extend(wrap(
                    "Every table you walked through came from the planted run. Which stage is \
                     the first whose numbers (or shapes) are not what MiniMind's code computes?",
                    width,
                ));
                lines.push(String::new());
                for (i, st) in self.trace.steps.iter().enumerate() {
                    let pos = if st.seq_len == 1 {
                        format!("position {}", st.start_pos)
                    } else {
                        format!("positions {}…{}", st.start_pos, st.kv_len() - 1)
                    };
                    lines.push(format!("  step {}: {} ({pos})", i + 1, st.kind.as_str()));
                }
                let numbered: Vec<String> = self.shown[0]
                    .iter()
                    .enumerate()
                    .map(|(i, s)| format!("{} {s}", i + 1))
                    .collect();
                lines.extend(wrap(&format!("  stages: {}", numbered.join(" · ")), width));
            }
            Some(Phase::Line) => {
                lines.extend(self.reveal_lines(view));
                lines.push(String::new());
                for (i, l) in self.choices.iter().enumerate() {
                    let text = format!("  {}) {}", letter(i), l.code());
                    lines.extend(crate::text::wrap_paragraph(&text, width, "     "));
                }
            }
            _ => {}
        }
        lines
    }

    /// What the learner sees once the stage is found: the slip, the explanation and the
    /// comparison at that stage.
    fn reveal_lines(&self, view: &View) -> Vec<String> {
        let Some((step, stage)) = self.first() else {
            return Vec::new();
        };
        let width = view.width.max(20);
        let mut lines = vec![format!("The slip: {} ({})", self.bug, self.bug.symptom())];
        lines.extend(wrap(&capitalised(self.bug.explanation()), width));
        lines.push(String::new());
        let index = self.trace.steps[step]
            .stages
            .iter()
            .position(|s| s.id == stage)
            .unwrap_or(0);
        let cmp =
            render::diff::stage_comparison(&self.faithful, &self.diff, step, index, SLIP_TOL, view);
        lines.extend(cmp.lines().map(str::to_string));
        lines.push(String::new());
        lines.extend(wrap(
            render::diff::summary(&self.diff, SLIP_TOL).trim(),
            width,
        ));
        lines
    }

    /// What the end screen says about the hunt.
    pub fn end_lines(&self, width: usize) -> Vec<String> {
        match self.phase {
            None => Vec::new(),
            Some(_) if self.first().is_none() => {
                let why = self.bug.hidden_by(&self.trace.config).unwrap_or_else(|| {
                    format!(
                        "the slip {} leaves every number of this run as it is",
                        self.bug
                    )
                });
                wrap(&format!("{why}. Nothing to hunt in this run."), width)
            }
            Some(Phase::Done) => {
                let mut lines = self.score_lines();
                lines.extend(wrap(
                    &format!(
                        "The slip was {}: MiniMind writes {}; the planted run has {}.",
                        self.bug,
                        self.bug.line().code(),
                        self.bug.slip_code()
                    ),
                    width,
                ));
                lines
            }
            Some(_) => vec!["Bug hunt: not finished (the question waits here).".into()],
        }
    }

    /// `Bug hunt: 1/2 first try` and how each question went.
    pub fn score_lines(&self) -> Vec<String> {
        let Some(score) = self.score() else {
            return Vec::new();
        };
        let how = |t: Tries| match (t.found, t.wrong) {
            (true, 0) => "on the first try".to_string(),
            (true, n) => format!("after {n} wrong"),
            (false, _) => "revealed".to_string(),
        };
        vec![format!(
            "Bug hunt: {score} (the stage {}, the line {})",
            how(self.stage),
            how(self.line)
        )]
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}
