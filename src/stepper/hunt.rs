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
//! hooks; everything about slips in the stepper is here.

use crate::bugs::{Bug, Line};
use crate::diff::{self, SLIP_TOL, TraceDiff};
use crate::numeric::Tensor;
use crate::presentation::Presentation;
use crate::render::{self, View};
use crate::trace::{StageId, Trace};

use super::nav::Position;
use super::quiz::QuizScore;
use super::screen::wrap;

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
            phase: pres.hunt.then_some(Phase::Waiting),
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

    /// The line asking the pending question; `with_keys` adds what can be typed.
    pub fn prompt(&self, with_keys: bool) -> String {
        match self.phase {
            Some(Phase::Stage) => {
                let again = if self.stage.wrong > 0 {
                    "Try again: w"
                } else {
                    "W"
                };
                let keys = if with_keys {
                    "  [a stage number or name, e.g. 9 or scores · step 2 to name the call · h \
                     hint · skip · b back]"
                } else {
                    ""
                };
                format!("{again}here does the run first go wrong?{keys}")
            }
            Some(Phase::Line) => {
                let keys = if with_keys {
                    "  [a, b, c or d · skip · back]"
                } else {
                    ""
                };
                format!("Which MiniMind line did the slip break?{keys}")
            }
            _ => String::new(),
        }
    }

    /// The status line under a question.
    pub fn status(&self) -> String {
        match self.phase {
            Some(Phase::Line) => "type a, b, c or d, Enter · → skip · Esc quits".into(),
            _ => "type a stage number or name, Enter · h hint · → give up · ← back to the \
                  tables · Esc quits"
                .into(),
        }
    }

    /// What to show in an empty answer field.
    pub fn placeholder(&self) -> &'static str {
        match self.phase {
            Some(Phase::Line) => "(a letter, like b)",
            _ => "(a stage, like 9 or scores)",
        }
    }

    /// A nudge, sharper each time: the symptom, then the call, then three stages to choose from.
    pub fn hint(&mut self) -> String {
        let Some((step, stage)) = self.first() else {
            return String::new();
        };
        if self.phase == Some(Phase::Line) {
            return format!(
                "the slip changes {stage}; which of these lines computes what {stage} shows?"
            );
        }
        self.hints = self.hints.saturating_add(1);
        match self.hints {
            1 => format!("hint: {}", self.bug.symptom()),
            2 => format!("hint: {}", self.call_hint(step)),
            _ => {
                let ids = &self.shown[step];
                let k = ids.iter().position(|&s| s == stage).unwrap_or(0);
                let from = k.saturating_sub(1).min(ids.len().saturating_sub(3));
                let few: Vec<String> = ids
                    .iter()
                    .enumerate()
                    .skip(from)
                    .take(3)
                    .map(|(i, s)| format!("{} {s}", i + 1))
                    .collect();
                format!("hint: it is one of {} in step {}", few.join(", "), step + 1)
            }
        }
    }

    /// Which call to look at.
    fn call_hint(&self, step: usize) -> String {
        let st = &self.trace.steps[step];
        if step == 0 {
            "it already shows in the prefill, step 1".into()
        } else {
            format!(
                "the prefill agrees with MiniMind's run; it first shows in step {} (the {}, \
                 after {} cached tokens)",
                step + 1,
                st.kind.as_str(),
                st.start_pos
            )
        }
    }

    /// Takes a typed answer to the pending question; returns what to tell the learner.
    pub fn answer(&mut self, text: &str) -> String {
        let text = text.trim();
        let give_up = matches!(
            text.to_ascii_lowercase().as_str(),
            "s" | "skip" | "give up" | "giveup" | "reveal"
        );
        match self.phase {
            Some(Phase::Stage) if give_up => self.reveal_stage(false),
            Some(Phase::Stage) => self.answer_stage(text),
            Some(Phase::Line) if give_up => self.reveal_line(false),
            Some(Phase::Line) => self.answer_line(text),
            _ => String::new(),
        }
    }

    fn answer_stage(&mut self, text: &str) -> String {
        let Some(first) = self.first() else {
            return String::new();
        };
        let guess = match parse_guess(text).and_then(|g| self.resolve(g, first.0)) {
            Ok(g) => g,
            Err(why) => return format!("? {why}"),
        };
        if guess.1 == first.1 && guess.0.is_none_or(|s| s == first.0) {
            return self.reveal_stage(true);
        }
        self.stage.wrong = self.stage.wrong.saturating_add(1);
        let named = match guess.0 {
            Some(s) => format!("{} in step {}", guess.1, s + 1),
            None => guess.1.to_string(),
        };
        let mut msg = format!("✗ not {named}.");
        if self.stage.wrong == 1 {
            msg.push_str(&format!("\n  hint: {}", self.bug.symptom()));
            msg.push_str("\n  b goes back to the tables; h for another hint; skip gives up");
        } else {
            let at = (guess.0.unwrap_or(first.0), guess.1);
            msg.push_str(&format!("\n  {}", self.direction(at, first)));
        }
        msg
    }

    /// Whether a wrong guess is before or after the first difference.
    fn direction(&self, (step, stage): Spot, first: Spot) -> String {
        let order = |s: StageId| StageId::ALL.iter().position(|&x| x == s);
        if (step, order(stage)) < (first.0, order(first.1)) {
            let mut m = format!(
                "{stage} of step {} still has MiniMind's numbers: it goes wrong later",
                step + 1
            );
            if step < first.0 {
                m.push_str(&format!(" (in step {})", first.0 + 1));
            }
            m
        } else if step > first.0 {
            format!(
                "by step {} the run is already wrong: {}",
                step + 1,
                self.call_hint(first.0)
            )
        } else {
            format!("by {stage} the run is already wrong: look earlier")
        }
    }

    /// A guess in the trace's terms: the step named (if any) and the stage.
    fn resolve(&self, g: Guess, default_step: usize) -> Result<(Option<usize>, StageId), String> {
        let steps = self.trace.steps.len();
        if let Some(s) = g.step
            && (s == 0 || s > steps)
        {
            return Err(format!(
                "there is no step {s}: this run has steps 1 to {steps}"
            ));
        }
        let step = g.step.map(|s| s - 1);
        let id = match g.stage {
            StageGuess::Id(id) => id,
            StageGuess::Number(n) => {
                let ids = &self.shown[step.unwrap_or(default_step)];
                *n.checked_sub(1).and_then(|k| ids.get(k)).ok_or_else(|| {
                    format!(
                        "there is no stage {n}: the steps show stages 1 to {}",
                        ids.len()
                    )
                })?
            }
        };
        Ok((step, id))
    }

    fn reveal_stage(&mut self, found: bool) -> String {
        let Some((step, stage)) = self.first() else {
            return String::new();
        };
        self.stage.found = found;
        self.phase = Some(Phase::Line);
        let st = &self.trace.steps[step];
        let k = self.shown[step].iter().position(|&s| s == stage);
        let number = k.map_or(String::new(), |k| format!("stage {} ", k + 1));
        let head = if found { "✓ right" } else { "the answer" };
        format!(
            "{head}: the run first goes wrong at {number}{stage}, step {} ({}); everything before \
             it has MiniMind's numbers",
            step + 1,
            st.kind.as_str()
        )
    }

    fn answer_line(&mut self, text: &str) -> String {
        let t = text
            .trim()
            .trim_matches(|c| c == '(' || c == ')' || c == '.');
        let pick = match t.to_ascii_lowercase().as_str() {
            "a" | "1" => 0,
            "b" | "2" => 1,
            "c" | "3" => 2,
            "d" | "4" => 3,
            _ => return "? type the letter of a line: a, b, c or d (skip gives up)".into(),
        };
        if self.choices[pick] == self.bug.line() {
            return self.reveal_line(true);
        }
        self.line.wrong = self.line.wrong.saturating_add(1);
        if self.line.wrong >= 2 {
            return format!("✗ not that one either.\n{}", self.reveal_line(false));
        }
        format!(
            "✗ not {}: the planted run keeps that line as MiniMind writes it; one more try",
            letter(pick)
        )
    }

    fn reveal_line(&mut self, found: bool) -> String {
        self.line.found = found;
        self.phase = Some(Phase::Done);
        self.open = false;
        let line = self.bug.line();
        let k = self.choices.iter().position(|&l| l == line).unwrap_or(0);
        let head = if found { "✓ right" } else { "the answer" };
        format!(
            "{head}: {}) in {}\n  MiniMind: {}\n  planted:  {}\n  d now shows MiniMind's \
             numbers under every stage",
            letter(k),
            line.place(),
            line.code(),
            self.bug.slip_code()
        )
    }

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

/// A stage as the learner named it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StageGuess {
    /// 1-based, among the shown stages of a step.
    Number(usize),
    Id(StageId),
}

/// A guess: a stage, and the step (1-based) if named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Guess {
    step: Option<usize>,
    stage: StageGuess,
}

/// Reads `scores`, `9`, `stage 9`, `:softmax`, `step 2 causal_mask`, `causal_mask in step 2`.
fn parse_guess(text: &str) -> Result<Guess, String> {
    const HOW: &str = "type a stage as its number or name, like 9 or scores (add step 2 to name \
                       the call)";
    let lower = text.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ':' | '·' | '/'))
        .filter(|w| !w.is_empty())
        .collect();
    let mut step = None;
    let mut stage = None;
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        match w {
            "step" | "call" => {
                let n = words.get(i + 1).and_then(|n| n.parse().ok());
                step = Some(n.ok_or_else(|| format!("'{w}' needs a number: {HOW}"))?);
                i += 1;
            }
            "stage" | "g" | "at" | "in" | "of" | "the" => {}
            _ => {
                let found = match w.parse::<usize>() {
                    Ok(n) => StageGuess::Number(n),
                    Err(_) => StageId::parse(w).map(StageGuess::Id).ok_or_else(|| {
                        format!("'{}' is not a stage: {HOW}", crate::text::printable_line(w))
                    })?,
                };
                if stage.replace(found).is_some() {
                    return Err(format!("name one stage: {HOW}"));
                }
            }
        }
        i += 1;
    }
    stage
        .map(|stage| Guess { step, stage })
        .ok_or_else(|| HOW.to_string())
}

/// The four lines offered for "which line is wrong": the slip's and three others, in the
/// order they run in MiniMind (so where the answer sits changes from slip to slip).
fn choices(bug: Bug) -> [Line; 4] {
    let right = bug.line();
    let others: Vec<Line> = Line::ALL.into_iter().filter(|&l| l != right).collect();
    let start = Bug::ALL.iter().position(|&b| b == bug).unwrap_or(0) * 3;
    let mut four = vec![right];
    four.extend((0..3).map(|i| others[(start + i * 2) % others.len()]));
    four.sort();
    four.dedup();
    let mut k = 0;
    while four.len() < 4 {
        if !four.contains(&others[k]) {
            four.push(others[k]);
        }
        k += 1;
    }
    four.sort();
    [four[0], four[1], four[2], four[3]]
}

fn letter(i: usize) -> char {
    (b'a' + i as u8) as char
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_read_numbers_names_and_steps() {
        let g = |t: &str| parse_guess(t).unwrap();
        assert_eq!(
            g("scores"),
            Guess {
                step: None,
                stage: StageGuess::Id(StageId::Scores)
            }
        );
        assert_eq!(g(" 9 ").stage, StageGuess::Number(9));
        assert_eq!(g(":softmax").stage, StageGuess::Id(StageId::Softmax));
        assert_eq!(g("stage 4").stage, StageGuess::Number(4));
        let both = g("causal_mask in step 2");
        assert_eq!(
            (both.step, both.stage),
            (Some(2), StageGuess::Id(StageId::CausalMask))
        );
        assert_eq!(g("step 3, repeat-kv").step, Some(3));
        assert!(parse_guess("").is_err());
        assert!(
            parse_guess("the sky")
                .unwrap_err()
                .contains("'sky' is not a stage")
        );
        assert!(
            parse_guess("scores softmax")
                .unwrap_err()
                .contains("one stage")
        );
        assert!(
            parse_guess("step x")
                .unwrap_err()
                .contains("needs a number")
        );
    }

    #[test]
    fn every_slip_is_offered_its_own_line_among_four_different_ones() {
        for bug in Bug::ALL {
            let c = choices(bug);
            assert!(c.contains(&bug.line()), "{bug}");
            for i in 1..4 {
                assert!(c[i - 1] < c[i], "{bug}: {c:?} not distinct and in order");
            }
        }
        // The answer does not always sit in the same place.
        let places: std::collections::HashSet<usize> = Bug::ALL
            .iter()
            .map(|&b| choices(b).iter().position(|&l| l == b.line()).unwrap())
            .collect();
        assert!(places.len() >= 3, "{places:?}");
    }
}
