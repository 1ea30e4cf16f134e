//! The bug hunt's two questions: where the run first goes wrong (a stage, perhaps with its
//! step) and which MiniMind line the slip broke. Reads the learner's answers, judges them,
//! gives hints, and moves the hunt from one question to the next.

use crate::trace::StageId;

use super::choices::letter;
use super::{Hunt, Phase, Spot};

impl Hunt<'_> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bugs::Bug;
    use crate::stepper::hunt::choices::choices;

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
