//! The checks on a lesson that need the whole file: that every note, hint, question and
//! placeholder will really be shown somewhere, never silently left out. A note on a stage the
//! `stages` list leaves out, a hint on a stage that asks no question, a step past the last, a
//! placeholder that names nothing, a quiz kind that can never be asked: each is a located
//! error with the fix.
//!
//! A lesson runs one configuration, or one per variant; a check holds for every configuration a
//! text can be shown with (the variants it is scoped to, else all).

use std::ops::Range;

use toml::Spanned;

use crate::config::Config;
use crate::dims::Shape;
use crate::error::UsageError;
use crate::lesson::file::{Flex, HintFile, LessonFile, NoteFile, Rows, StepsFile, items};
use crate::lesson::source::{Source, nearest, quoted};
use crate::presentation::{Hint, Note, QuizKind, Scope, Steps};
use crate::render::Prose;
use crate::stage::concepts;
use crate::stage::template::{self, Condition, Ref};
use crate::text::printable;
use crate::trace::{StageId, Trace};

/// What the checks know of the lesson: its configurations, the stages that happen and are
/// shown, and the quiz kinds it asks.
pub(super) struct Checker<'a> {
    src: &'a Source,
    runs: &'a [(Option<String>, Config)],
    traces: Vec<Trace<Shape>>,
    /// Stages that happen in at least one configuration.
    present: Vec<StageId>,
    /// The lesson runs a checkpoint (`[model]`): its runs have the checkpoint's own stages.
    checkpoint: bool,
    /// The `stages` list, checked (`None`: every stage is shown).
    pub stages: Option<Vec<StageId>>,
    stages_at: Option<String>,
    pub quiz: Vec<QuizKind>,
}

impl<'a> Checker<'a> {
    pub fn new(
        src: &'a Source,
        runs: &'a [(Option<String>, Config)],
        file: &LessonFile,
    ) -> Result<Checker<'a>, UsageError> {
        let checkpoint = file.model.is_some();
        let mut present: Vec<StageId> = runs
            .iter()
            .flat_map(|(_, c)| StageId::present(c, checkpoint))
            .collect();
        present.sort_unstable();
        present.dedup();
        let traces = runs
            .iter()
            .map(|(_, c)| crate::forward::trace(c, &mut crate::backend::Shapes))
            .collect();
        let mut checker = Checker {
            src,
            runs,
            traces,
            present,
            checkpoint,
            stages: None,
            stages_at: None,
            quiz: Vec::new(),
        };
        if let Some(list) = &file.stages {
            if list.get_ref().is_empty() {
                return Err(src.err(
                    Some(list.span()),
                    "stages is empty: list the stages to show, or leave the key out to show \
                     them all",
                ));
            }
            let ids = list
                .get_ref()
                .iter()
                .map(|n| checker.stage(n))
                .collect::<Result<Vec<_>, _>>()?;
            checker.stages = Some(ids);
            checker.stages_at = Some(src.at(list.span().start));
        }
        if let Some(list) = &file.quiz {
            checker.quiz = list
                .get_ref()
                .iter()
                .map(|k| checker.quiz_kind(k))
                .collect::<Result<_, _>>()?;
        }
        Ok(checker)
    }

    fn shows(&self, id: StageId) -> bool {
        self.stages.as_ref().is_none_or(|s| s.contains(&id))
    }

    /// A stage named in the lesson: known, and happening in one of its configurations.
    fn stage(&self, name: &Spanned<String>) -> Result<StageId, UsageError> {
        let span = Some(name.span());
        let text = name.get_ref();
        let names: Vec<&str> = StageId::ALL.iter().map(|s| s.as_str()).collect();
        let id = StageId::parse(text).ok_or_else(|| {
            let near = nearest(text, &names)
                .map_or_else(|| ".".to_owned(), |n| format!(", did you mean \"{n}\"?"));
            self.src.err(
                span.clone(),
                format!(
                    "unknown stage {}{near} The stages are: {}",
                    quoted(text),
                    names.join(", ")
                ),
            )
        })?;
        if !self.present.contains(&id) {
            return Err(self.src.err(
                span,
                format!(
                    "stage {} never happens in this lesson: it needs {}",
                    quoted(text),
                    needs(id)
                ),
            ));
        }
        Ok(id)
    }

    /// A stage a note or hint is on: it must also be one the lesson shows.
    fn shown_stage(&self, name: &Spanned<String>, what: &str) -> Result<StageId, UsageError> {
        let id = self.stage(name)?;
        if !self.shows(id) {
            let shown: Vec<&str> = self.stages.iter().flatten().map(|s| s.as_str()).collect();
            return Err(self.src.err(
                Some(name.span()),
                format!(
                    "this {what} is on stage {}, which the lesson's stages (at {}) leave out, so \
                     it would never be shown; add {} to stages, or put the {what} on a stage \
                     shown: {}",
                    quoted(id.as_str()),
                    self.stages_at.as_deref().unwrap_or("the top"),
                    quoted(id.as_str()),
                    shown.join(", ")
                ),
            ));
        }
        Ok(id)
    }

    /// A quiz kind: known, asked at a stage the lesson shows, possible in some configuration.
    fn quiz_kind(&self, name: &Spanned<String>) -> Result<QuizKind, UsageError> {
        let err = |msg: String| self.src.err(Some(name.span()), msg);
        let kind = QuizKind::parse(name.get_ref()).ok_or_else(|| {
            let names = QuizKind::names();
            let near = nearest(name.get_ref(), &names)
                .map_or_else(String::new, |n| format!(", did you mean \"{n}\"?"));
            err(format!(
                "unknown quiz kind {}{near}; the kinds are: {}",
                quoted(name.get_ref()),
                names.join(", ")
            ))
        })?;
        match kind {
            QuizKind::Shape
                if !StageId::ALL
                    .iter()
                    .any(|s| s.changes_shape() && self.shows(*s)) =>
            {
                Err(err(
                    "quiz asks \"shape\", but no stage this lesson shows changes a shape; \
                         show one (project, scores, …) or drop \"shape\""
                        .into(),
                ))
            }
            QuizKind::Concept(k) if !self.shows(k.stage()) => Err(err(format!(
                "quiz kind {} is asked at stage {}, which the lesson's stages leave out; add {} \
                 to stages or drop the kind",
                quoted(k.name()),
                quoted(k.stage().as_str()),
                quoted(k.stage().as_str())
            ))),
            QuizKind::Concept(k) if !self.can_ask(k) => Err(err(format!(
                "quiz kind {} can never be asked in this lesson: {}",
                quoted(k.name()),
                match k {
                    concepts::Kind::KvHead => "every query head has its own KV head (n_rep = 1)",
                    _ => "no score is masked (no causal mask over several tokens, no padding)",
                }
            ))),
            _ => Ok(kind),
        }
    }

    /// Whether some configuration has a question of kind `k`.
    fn can_ask(&self, k: concepts::Kind) -> bool {
        let anywhere = |c: Condition| self.traces.iter().any(|t| c.holds_in(t, 0));
        match k {
            concepts::Kind::KvHead => anywhere(Condition::Shared),
            concepts::Kind::MaskedWeight => {
                anywhere(Condition::Padding)
                    || self
                        .traces
                        .iter()
                        .any(|t| t.config.causal && t.steps.iter().any(|s| s.seq_len > 1))
            }
            _ => true,
        }
    }

    /// The variants a note or hint is scoped to (indices into the runs; empty: all).
    fn variants(
        &self,
        flex: Option<&Spanned<Flex>>,
    ) -> Result<(Vec<String>, Vec<usize>), UsageError> {
        let Some(flex) = flex else {
            return Ok((Vec::new(), Vec::new()));
        };
        let names: Vec<&str> = self.runs.iter().filter_map(|(n, _)| n.as_deref()).collect();
        let mut out = (Vec::new(), Vec::new());
        for (span, name) in items(flex) {
            let Some(i) = self
                .runs
                .iter()
                .position(|(n, _)| n.as_deref() == Some(name.trim()))
            else {
                let msg = if names.is_empty() {
                    format!(
                        "variant {} does not exist: this lesson has no [[variants]]",
                        quoted(&name)
                    )
                } else {
                    let near = nearest(&name, &names)
                        .map_or_else(String::new, |n| format!(", did you mean \"{n}\"?"));
                    format!(
                        "unknown variant {}{near}; this lesson's variants are: {}",
                        quoted(&name),
                        names.join(", ")
                    )
                };
                return Err(self.src.err(Some(span), msg));
            };
            out.0.push(name.trim().to_owned());
            out.1.push(i);
        }
        Ok(out)
    }

    fn conditions(&self, flex: Option<&Spanned<Flex>>) -> Result<Vec<Condition>, UsageError> {
        flex.map_or_else(Vec::new, items)
            .into_iter()
            .map(|(span, c)| Condition::parse(&c).map_err(|m| self.src.err(Some(span), m)))
            .collect()
    }

    /// The configurations a text scoped to `runs` can be shown with.
    fn in_scope<'s>(&'s self, runs: &'s [usize]) -> impl Iterator<Item = &'s Config> + 's {
        self.runs
            .iter()
            .enumerate()
            .filter(move |(i, _)| runs.is_empty() || runs.contains(i))
            .map(|(_, (_, c))| c)
    }

    /// `step = N` or `steps = […]` / `"N-M"` / `"N-"`, each step existing in a configuration in
    /// scope; made 0-based.
    fn steps(
        &self,
        step: Option<&Spanned<usize>>,
        steps: Option<&Spanned<StepsFile>>,
        runs: &[usize],
    ) -> Result<Steps, UsageError> {
        let most = self
            .in_scope(runs)
            .map(|c| c.steps.len())
            .max()
            .unwrap_or(1);
        let check = |n: usize, span: Range<usize>| {
            if n == 0 || n > most {
                Err(self.src.err(
                    Some(span),
                    format!(
                        "step {n} is out of range: this lesson has {most} step(s), numbered from \
                         1 (1 is the prefill); leave step out to show it on every step"
                    ),
                ))
            } else {
                Ok(n - 1)
            }
        };
        match (step, steps) {
            (Some(s), Some(_)) => Err(self.src.err(
                Some(s.span()),
                "give step or steps, not both: steps = [2, 3] lists several",
            )),
            (Some(s), None) => Ok(Steps::Only(vec![check(*s.get_ref(), s.span())?])),
            (None, None) => Ok(Steps::All),
            (None, Some(s)) => match s.get_ref() {
                StepsFile::List(list) => Ok(Steps::Only(
                    list.iter()
                        .map(|n| check(*n.get_ref(), n.span()))
                        .collect::<Result<_, _>>()?,
                )),
                StepsFile::Range(text) => self.range(text, s.span(), &check),
            },
        }
    }

    fn range(
        &self,
        text: &str,
        span: Range<usize>,
        check: &dyn Fn(usize, Range<usize>) -> Result<usize, UsageError>,
    ) -> Result<Steps, UsageError> {
        let bad = || {
            self.src.err(
                Some(span.clone()),
                format!(
                    "steps {} is not a range: write \"2-4\" (steps 2 to 4) or \"2-\" (step 2 to \
                     the end), or a list like [2, 3]",
                    quoted(text)
                ),
            )
        };
        let (a, b) = ["-", "..", "…"]
            .iter()
            .find_map(|sep| text.split_once(sep))
            .ok_or_else(bad)?;
        let a: usize = a.trim().parse().map_err(|_| bad())?;
        let first = check(a, span.clone())?;
        if b.trim().is_empty() {
            return Ok(Steps::From(first));
        }
        let b: usize = b.trim().parse().map_err(|_| bad())?;
        let last = check(b, span.clone())?;
        if last < first {
            return Err(bad());
        }
        Ok(Steps::Only((first..=last).collect()))
    }

    /// A lesson text: its placeholders exist, and every position and tensor they name exists
    /// in each configuration the text can be shown with. Returned printable and trimmed.
    pub fn text(&self, s: &Spanned<String>, runs: &[usize]) -> Result<String, UsageError> {
        let raw = s.get_ref();
        // Point at the placeholder itself: find it in the file's text of the value.
        let locate = |written: &str| {
            let span = s.span();
            let file = self.src.text().get(span.clone()).unwrap_or_default();
            match file.find(written).filter(|_| !written.is_empty()) {
                Some(i) => span.start + i..span.start + i + written.len(),
                None => span,
            }
        };
        let refs = template::references(raw)
            .map_err(|e| self.src.err(Some(locate(&e.written)), e.message))?;
        for (_, written, r) in refs {
            for cfg in self.in_scope(runs) {
                let why = match r {
                    Ref::Token(n) if n >= cfg.total_len() => format!(
                        "{written} names position {n}, but this lesson has {} token(s), \
                         positions 0 to {}; use a position that exists, or {{token:first}} / \
                         {{token:last}} for this call's",
                        cfg.total_len(),
                        cfg.total_len() - 1
                    ),
                    Ref::Induction
                        if !cfg.tokens.as_deref().is_some_and(template::has_induction) =>
                    {
                        format!(
                            "{written} quotes the induction target (the token after an earlier \
                             occurrence of the query's token), but no token of this lesson's \
                             text appears again after another token; repeat a phrase in the \
                             text"
                        )
                    }
                    Ref::Tensor(id)
                        if !StageId::present(cfg, self.checkpoint).contains(&id.stage()) =>
                    {
                        format!(
                            "{written} names {id}, which this lesson never computes (stage {} \
                         needs {}); name a tensor of the run",
                            id.stage(),
                            needs(id.stage())
                        )
                    }
                    _ => continue,
                };
                return Err(self.src.err(Some(locate(&written)), why));
            }
        }
        Ok(printable(raw.trim()).into_owned())
    }

    pub fn notes(&self, notes: &[NoteFile]) -> Result<Vec<Note>, UsageError> {
        notes
            .iter()
            .map(|n| {
                let stage = self.shown_stage(&n.stage, "note")?;
                let (variants, runs) = self.variants(n.variant.as_ref())?;
                let prose = match &n.prose {
                    None => None,
                    Some(p) => Some(match p.get_ref().trim() {
                        "full" => Prose::Full,
                        "short" => Prose::Short,
                        "hidden" => Prose::Hidden,
                        other => {
                            return Err(self.src.err(
                                Some(p.span()),
                                format!(
                                    "prose {} is not one of \"full\", \"short\", \"hidden\" (how \
                                     much of the stage's own explanation to keep beside this \
                                     note)",
                                    quoted(other)
                                ),
                            ));
                        }
                    }),
                };
                Ok(Note {
                    stage,
                    scope: Scope {
                        steps: self.steps(n.step.as_ref(), n.steps.as_ref(), &runs)?,
                        when: self.conditions(n.when.as_ref())?,
                        variants,
                    },
                    text: self.text(&n.text, &runs)?,
                    prose,
                })
            })
            .collect()
    }

    pub fn hints(&self, hints: &[HintFile]) -> Result<Vec<Hint>, UsageError> {
        hints
            .iter()
            .map(|h| {
                let stage = self.shown_stage(&h.stage, "hint")?;
                let kind = match &h.kind {
                    None => None,
                    Some(k) => Some(self.quiz_kind(k)?),
                };
                let asked: Vec<QuizKind> = self
                    .quiz_kinds()
                    .into_iter()
                    .filter(|q| q.asks_at(stage) && kind.is_none_or(|k| k == *q))
                    .collect();
                if asked.is_empty() {
                    let at: Vec<&str> = StageId::ALL
                        .iter()
                        .filter(|s| {
                            self.shows(**s) && self.quiz_kinds().iter().any(|q| q.asks_at(**s))
                        })
                        .map(|s| s.as_str())
                        .collect();
                    let what = kind.map_or_else(
                        || "no question".to_owned(),
                        |k| format!("no {} question", k.name()),
                    );
                    return Err(self.src.err(
                        Some(h.stage.span()),
                        format!(
                            "stage {} asks {what} in this lesson, so this hint would never be \
                             shown; put it on a stage that asks one ({}), or add a quiz kind \
                             asked there",
                            quoted(stage.as_str()),
                            at.join(", ")
                        ),
                    ));
                }
                let (variants, runs) = self.variants(h.variant.as_ref())?;
                Ok(Hint {
                    stage,
                    scope: Scope {
                        steps: self.steps(h.step.as_ref(), h.steps.as_ref(), &runs)?,
                        when: self.conditions(h.when.as_ref())?,
                        variants,
                    },
                    kind,
                    text: self.text(&h.text, &runs)?,
                })
            })
            .collect()
    }

    /// The quiz kinds asked (shapes when the lesson names none).
    fn quiz_kinds(&self) -> Vec<QuizKind> {
        if self.quiz.is_empty() {
            vec![QuizKind::Shape]
        } else {
            self.quiz.clone()
        }
    }

    /// A premise (the lesson's, or variant `variant`'s): conditions its own configuration
    /// meets, so a warning is only ever about what flags changed.
    pub fn premise(
        &self,
        flex: Option<&Spanned<Flex>>,
        variant: Option<usize>,
    ) -> Result<Vec<Condition>, UsageError> {
        let conditions = self.conditions(flex)?;
        for (i, t) in self.traces.iter().enumerate() {
            if variant.is_some_and(|v| v != i) {
                continue;
            }
            if let Some(c) = conditions.iter().find(|c| !c.holds_in(t, 0)) {
                let whose = match &self.runs[i].0 {
                    Some(name) => format!("variant {}", quoted(name)),
                    None => "the lesson's own configuration".to_owned(),
                };
                return Err(self.src.err(
                    flex.map(|f| f.span()),
                    format!(
                        "premise {} ({}) does not hold in {whose}; fix [config] or drop it from \
                         the premise",
                        quoted(c.name()),
                        c.describe()
                    ),
                ));
            }
        }
        Ok(conditions)
    }

    /// Labels per batch row: one row per batch row, one label per position, in every
    /// configuration.
    pub fn rows(&self, r: &Rows) -> Result<Vec<Vec<String>>, UsageError> {
        for (name, cfg) in self.runs {
            let whose = name
                .as_deref()
                .map_or_else(String::new, |n| format!(" in variant {}", quoted(n)));
            if r.rows.len() != cfg.batch {
                return Err(self.src.err(
                    Some(r.span.clone()),
                    format!(
                        "tokens has {} rows but batch is {}{whose}; give one text per batch row",
                        r.rows.len(),
                        cfg.batch
                    ),
                ));
            }
            if let Some((i, row)) = r
                .rows
                .iter()
                .enumerate()
                .find(|(_, row)| row.len() != cfg.total_len())
            {
                return Err(self.src.err(
                    Some(r.span.clone()),
                    format!(
                        "tokens row {i} has {} words but the steps cover {} tokens{whose}; give \
                         one word per position",
                        row.len(),
                        cfg.total_len()
                    ),
                ));
            }
        }
        Ok(r.rows.clone())
    }
}

/// What a lesson needs for stage `id` to happen (it happens in every run otherwise).
fn needs(id: StageId) -> &'static str {
    match id {
        StageId::QkNorm => "qk_norm = true in [config]",
        StageId::Source | StageId::Predict => "a checkpoint to run: a [model] table",
        _ => "an attention_mask in [config]",
    }
}
