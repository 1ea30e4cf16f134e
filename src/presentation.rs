//! What a walk through a trace shows besides the tensors: a title, a welcome screen, notes on
//! particular stages, quiz hints and the kinds of question asked, which stages to show, a
//! closing screen, the lesson's premise, labels per batch row and the names of its variants.
//! (The first head and batch row shown are the [`crate::render::View`]'s.)
//!
//! Lesson text holds `{placeholders}` ([`crate::stage::template`]): every text is filled from
//! the [`Facts`] of the step, head and batch row it is shown with, each time it is shown, so a
//! note stays true when the learner changes the head, the batch row, the step or the variant.
//! A note or hint can be limited to some steps, to runs where conditions hold (`when`) and to
//! some variants ([`Scope`]).
//!
//! `attnstep run` uses [`Presentation::default`]; a lesson file fills one in. The stepper and
//! the printers read it; nothing here touches the terminal.

use crate::backend::HasShape;
use crate::bugs::kind::Bug;
use crate::render::Prose;
use crate::stage::Facts;
use crate::stage::concepts;
use crate::stage::template::{self, Condition};
use crate::trace::{StageId, Trace};

/// The kinds of quiz question a lesson can ask. Shape questions are asked at every stage that
/// changes a shape; each concept question at the stage whose table holds its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuizKind {
    /// "What shape is xq_t after xq.transpose(1, 2)?"
    Shape,
    /// A question about what the numbers mean ([`concepts::Kind`]).
    Concept(concepts::Kind),
}

impl QuizKind {
    /// The kind with this name (`shape`, `kv_head`, `visible_keys`, …).
    pub fn parse(name: &str) -> Option<QuizKind> {
        if name.trim().eq_ignore_ascii_case("shape") {
            return Some(QuizKind::Shape);
        }
        concepts::Kind::parse(name).map(QuizKind::Concept)
    }

    pub fn name(self) -> &'static str {
        match self {
            QuizKind::Shape => "shape",
            QuizKind::Concept(k) => k.name(),
        }
    }

    /// Every kind's name, for messages.
    pub fn names() -> Vec<&'static str> {
        std::iter::once("shape")
            .chain(concepts::Kind::ALL.iter().map(|(n, _)| *n))
            .collect()
    }

    /// Whether this kind asks anything at `stage`.
    pub fn asks_at(self, stage: StageId) -> bool {
        match self {
            QuizKind::Shape => stage.changes_shape(),
            QuizKind::Concept(k) => k.stage() == stage,
        }
    }
}

/// Which steps a note or hint is for (0-based).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Steps {
    #[default]
    All,
    /// These steps.
    Only(Vec<usize>),
    /// This step and every later one.
    From(usize),
}

impl Steps {
    pub fn contains(&self, step: usize) -> bool {
        match self {
            Steps::All => true,
            Steps::Only(s) => s.contains(&step),
            Steps::From(first) => step >= *first,
        }
    }
}

/// When a note or hint is shown: on which steps, under which conditions (all must hold) and
/// in which variants (any; none listed: every variant).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    pub steps: Steps,
    pub when: Vec<Condition>,
    pub variants: Vec<String>,
}

impl Scope {
    /// Whether the scope holds for the step and view in `f`, of run `trace` (some conditions
    /// read its weights).
    pub fn applies<T: HasShape>(&self, f: &Facts, trace: &Trace<T>, variant: Option<&str>) -> bool {
        self.steps.contains(f.step)
            && self.when.iter().all(|c| c.holds(f, trace))
            && (self.variants.is_empty()
                || variant.is_some_and(|v| self.variants.iter().any(|n| n == v)))
    }
}

/// A note shown with a stage.
#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    pub stage: StageId,
    pub scope: Scope,
    pub text: String,
    /// How much of the stage's generic explanation to keep when this note is shown (`None`:
    /// the first sentence, since the note explains the rest).
    pub prose: Option<Prose>,
}

/// A hint for the quiz at a stage.
#[derive(Clone, Debug, PartialEq)]
pub struct Hint {
    pub stage: StageId,
    pub scope: Scope,
    /// Only for questions of this kind (`None`: any question of the stage).
    pub kind: Option<QuizKind>,
    pub text: String,
}

/// A named configuration of a lesson, as the walk shows it (its configuration is the plan's).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VariantInfo {
    pub name: String,
    /// One line saying what this variant is.
    pub about: Option<String>,
    /// Conditions the variant's notes assume, added to the lesson's premise.
    pub premise: Vec<Condition>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Presentation {
    pub title: Option<String>,
    pub summary: Option<String>,
    /// Shown before the first stage.
    pub welcome: Option<String>,
    pub notes: Vec<Note>,
    pub hints: Vec<Hint>,
    /// Stages to show, in trace order; `None` shows all.
    pub stages: Option<Vec<StageId>>,
    /// Shown after the last stage: what was learned, what to take next.
    pub closing: Option<String>,
    /// The kinds of question the quiz asks; empty means shapes only.
    pub quiz: Vec<QuizKind>,
    /// What the lesson's text assumes of the run (`premise = "gqa"`): a run that contradicts it
    /// is told so once, at the start.
    pub premise: Vec<Condition>,
    /// Labels for each batch row's positions, when the rows differ (one list per row).
    pub row_tokens: Option<Vec<Vec<String>>>,
    pub variants: Vec<VariantInfo>,
    /// The slip a bug-hunt lesson plants and its text is written about: the learner is asked
    /// to find the slip planted in the run.
    pub hunt: Option<Bug>,
}

/// Where a text is shown: the run, the step and the view's head and batch row, the variant.
#[derive(Clone, Copy)]
pub struct Context<'a, T> {
    pub trace: &'a Trace<T>,
    pub step: usize,
    pub head: usize,
    pub batch: usize,
    pub variant: Option<&'a str>,
}

impl<'a, T: HasShape> Context<'a, T> {
    pub fn facts(&self, pres: &'a Presentation) -> Facts<'a> {
        Facts::of(self.trace, self.step, self.head, self.batch)
            .with_rows(pres.rows_for(&self.trace.config))
    }

    fn fill(&self, pres: &'a Presentation, text: &str) -> String {
        template::fill(text, &self.facts(pres), self.trace)
    }
}

impl Presentation {
    /// The quiz kinds asked (shapes only when the lesson names none).
    pub fn quiz_kinds(&self) -> Vec<QuizKind> {
        if self.quiz.is_empty() {
            vec![QuizKind::Shape]
        } else {
            self.quiz.clone()
        }
    }

    /// The lesson's labels per batch row, when they fit this configuration (flags that change
    /// the batch or the length leave positions numbered instead).
    pub fn rows_for(&self, cfg: &crate::config::Config) -> Option<&[Vec<String>]> {
        self.row_tokens.as_deref().filter(|rows| {
            rows.len() == cfg.batch && rows.iter().all(|r| r.len() == cfg.total_len())
        })
    }

    /// Whether the run is one the lesson's own text was written for: it meets the premise and,
    /// in a bug hunt, plants the lesson's slip in a configuration where it shows. Exactly the
    /// runs [`Presentation::premise_warning`] has nothing to say about.
    fn own_setup<T: HasShape>(&self, ctx: &Context<T>) -> bool {
        self.premise_warning(ctx.trace, ctx.variant).is_none()
    }

    /// Whether a text of `scope` is shown in this context: its own scope holds, and either the
    /// text states its own conditions (`when`) or the run is the lesson's own setup (`own`,
    /// [`Presentation::own_setup`]), for which a text without conditions was written.
    fn shown<T: HasShape>(scope: &Scope, f: &Facts, ctx: &Context<T>, own: bool) -> bool {
        scope.applies(f, ctx.trace, ctx.variant) && (own || !scope.when.is_empty())
    }

    /// The notes shown with `stage` in this context, filled, in file order.
    pub fn notes_at<T: HasShape>(&self, stage: StageId, ctx: &Context<T>) -> Vec<String> {
        let (f, own) = (ctx.facts(self), self.own_setup(ctx));
        self.notes
            .iter()
            .filter(|n| n.stage == stage && Self::shown(&n.scope, &f, ctx, own))
            .map(|n| ctx.fill(self, &n.text))
            .collect()
    }

    /// How much of the stage's generic explanation to print: the first sentence when a note is
    /// shown (the note covers the rest), unless the last shown note that says says otherwise.
    pub fn prose_at<T: HasShape>(&self, stage: StageId, ctx: &Context<T>) -> Prose {
        let (f, own) = (ctx.facts(self), self.own_setup(ctx));
        let shown: Vec<&Note> = self
            .notes
            .iter()
            .filter(|n| n.stage == stage && Self::shown(&n.scope, &f, ctx, own))
            .collect();
        if shown.is_empty() {
            return Prose::Full;
        }
        shown
            .iter()
            .rev()
            .find_map(|n| n.prose)
            .unwrap_or(Prose::Short)
    }

    /// The hint for a question of `kind` at `stage` in this context, filled.
    pub fn hint_at<T: HasShape>(
        &self,
        stage: StageId,
        kind: QuizKind,
        ctx: &Context<T>,
    ) -> Option<String> {
        let (f, own) = (ctx.facts(self), self.own_setup(ctx));
        self.hints
            .iter()
            .filter(|h| h.stage == stage && h.kind.is_none_or(|k| k == kind))
            .find(|h| Self::shown(&h.scope, &f, ctx, own))
            .map(|h| ctx.fill(self, &h.text))
    }

    /// The welcome, filled for the first step.
    pub fn welcome_at<T: HasShape>(&self, ctx: &Context<T>) -> Option<String> {
        self.welcome.as_deref().map(|w| ctx.fill(self, w))
    }

    /// The closing, filled for the last step.
    pub fn closing_at<T: HasShape>(&self, ctx: &Context<T>) -> Option<String> {
        // The closing sums up the lesson's own setup: a run without it is told so at the start.
        let own = self.own_setup(ctx);
        self.closing
            .as_deref()
            .filter(|_| own)
            .map(|c| ctx.fill(self, c))
    }

    pub fn shows(&self, stage: StageId) -> bool {
        self.stages.as_ref().is_none_or(|s| s.contains(&stage))
    }

    /// The premise of variant `variant` (the lesson's, and the variant's own).
    pub fn premise_of(&self, variant: Option<&str>) -> Vec<Condition> {
        let own = self
            .variants
            .iter()
            .find(|v| Some(v.name.as_str()) == variant)
            .map(|v| v.premise.clone())
            .unwrap_or_default();
        self.premise.iter().copied().chain(own).collect()
    }

    /// The warning for a run that contradicts the premise outright (no step, no batch row
    /// where a premise condition holds), or `None`.
    pub fn premise_warning<T: HasShape>(
        &self,
        trace: &Trace<T>,
        variant: Option<&str>,
    ) -> Option<String> {
        let cfg = &trace.config;
        if let Some(own) = self.hunt.filter(|own| cfg.bug != Some(*own)) {
            let planted = cfg
                .bug
                .map_or("no slip".to_string(), |b| format!("--bug {}", b.name()));
            return Some(format!(
                "⚠ This lesson is written about the slip {}, but this run plants {planted}. The \
                 tables and the hunt follow this run; the lesson's explanation of its own slip \
                 does not apply to them.",
                own.name()
            ));
        }
        if let Some(why) = self.hunt.and_then(|own| own.hidden_by(cfg)) {
            let mut chars = why.chars();
            let why: String = chars
                .next()
                .map_or(String::new(), |c| c.to_uppercase().chain(chars).collect());
            return Some(format!(
                "⚠ {why}. Every table of this run is MiniMind's own; of the lesson's notes, only \
                 those that say when they hold are shown."
            ));
        }
        let broken: Vec<Condition> = self
            .premise_of(variant)
            .into_iter()
            .filter(|c| !c.holds_in(trace, 0))
            .collect();
        if broken.is_empty() {
            return None;
        }
        let about: Vec<&str> = broken.iter().map(|c| c.describe()).collect();
        Some(format!(
            "⚠ This lesson is written about {}, but this run does not have it (n_heads = {}, \
             n_kv_heads = {}, steps {:?}, {}). The tables are right for this run; of the \
             lesson's notes, only those that say when they hold are shown.",
            about.join(" and "),
            cfg.num_attention_heads,
            cfg.num_key_value_heads,
            cfg.steps,
            if cfg.attention_mask.is_some() {
                "with padding"
            } else {
                "no padding"
            }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Shapes;
    use crate::config::ConfigSpec;

    fn trace(kv: usize) -> Trace<crate::dims::Shape> {
        let cfg = ConfigSpec {
            hidden_size: Some(16),
            num_attention_heads: Some(4),
            num_key_value_heads: Some(kv),
            steps: Some(vec![3, 1]),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        crate::forward::trace(&cfg, &mut Shapes)
    }

    fn note(steps: Steps, when: Vec<Condition>, variants: &[&str], text: &str) -> Note {
        Note {
            stage: StageId::Scores,
            scope: Scope {
                steps,
                when,
                variants: variants.iter().map(|v| v.to_string()).collect(),
            },
            text: text.into(),
            prose: None,
        }
    }

    #[test]
    fn notes_are_filled_for_their_step_view_and_variant() {
        let pres = Presentation {
            notes: vec![
                note(
                    Steps::All,
                    vec![],
                    &[],
                    "head {head} reads KV head {kv_head}",
                ),
                note(Steps::Only(vec![1]), vec![], &[], "kv_len = {kv_len}"),
                note(Steps::From(0), vec![Condition::Gqa], &[], "grouped"),
                note(Steps::All, vec![], &["mqa"], "only in mqa"),
            ],
            ..Presentation::default()
        };
        let t = trace(2);
        let ctx = |step, head, variant| Context {
            trace: &t,
            step,
            head,
            batch: 0,
            variant,
        };
        assert_eq!(
            pres.notes_at(StageId::Scores, &ctx(0, 3, None)),
            vec!["head 3 reads KV head 1", "grouped"]
        );
        assert_eq!(
            pres.notes_at(StageId::Scores, &ctx(1, 0, Some("mqa"))),
            vec![
                "head 0 reads KV head 0",
                "kv_len = 4",
                "grouped",
                "only in mqa"
            ]
        );
        assert!(pres.notes_at(StageId::Softmax, &ctx(0, 0, None)).is_empty());
        assert_eq!(
            pres.prose_at(StageId::Scores, &ctx(0, 0, None)),
            Prose::Short
        );
        assert_eq!(
            pres.prose_at(StageId::Softmax, &ctx(0, 0, None)),
            Prose::Full
        );
    }

    #[test]
    fn a_run_against_the_premise_is_named_once() {
        let pres = Presentation {
            premise: vec![Condition::Shared],
            ..Presentation::default()
        };
        assert_eq!(pres.premise_warning(&trace(2), None), None);
        let w = pres.premise_warning(&trace(4), None).unwrap();
        assert!(w.contains("query heads sharing KV heads"), "{w}");
        assert!(w.contains("n_heads = 4, n_kv_heads = 4"), "{w}");
    }
}
