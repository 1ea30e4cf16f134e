//! One walk through a trace, shared by the raw-mode and line-mode front ends: the navigation
//! state, the variant shown, the quiz, and the text of each screen (welcome, stage, question,
//! end, help) and of the status line. Front ends only decide how to read input and where to
//! draw.
//!
//! Lesson text is filled each time a screen is drawn, from the step, head, batch row and
//! variant it is drawn with ([`crate::presentation`]), so notes follow `]`, `B`, `step 2` and
//! `v` as the tables do.

use std::cell::RefCell;
use std::io::Write;
use std::sync::Arc;

use super::hunt::{self, Hunt};
use super::nav::{Command, Nav, Position, Screen};
use super::quiz::{self, Quiz, QuizScore, Reply};
use super::run::{Options, Outcome, Run};
use super::screen::{self, Feedback, wrap};
use crate::numeric::Tensor;
use crate::presentation::{Context, Presentation, QuizKind};
use crate::render::View;
use crate::render::matrix::StatsCache;
use crate::trace::Trace;

/// A walk in progress.
pub struct Walk<'a> {
    runs: &'a [Run],
    /// Which of `runs` is shown.
    variant: usize,
    pres: &'a Presentation,
    base: View,
    /// Each run's labels per batch row, when the lesson's fit it.
    rows: Vec<Option<Arc<Vec<Vec<String>>>>>,
    pub nav: Nav,
    quiz: Option<Quiz>,
    kinds: Vec<QuizKind>,
    /// Commands are typed lines, not keys (changes what the status line suggests).
    pub line_mode: bool,
    /// The stats of the traces' slices drawn so far: screens are drawn again and again.
    stats: RefCell<StatsCache<'a>>,
    /// The planted slip, if any: its comparison and hunt ([`hunt`]).
    hunt: Option<Hunt<'a>>,
}

impl<'a> Walk<'a> {
    pub fn new(runs: &'a [Run], pres: &'a Presentation, view: &View, opts: &Options) -> Walk<'a> {
        let variant = opts.variant.min(runs.len().saturating_sub(1));
        let stats = StatsCache::new(runs.iter().flat_map(|r| {
            let t = &r.trace;
            t.weights
                .iter()
                .map(|w| &w.value)
                .chain(t.steps.iter().flat_map(|st| st.tensors().map(|t| &t.value)))
        }));
        let rows = runs
            .iter()
            .map(|r| {
                pres.rows_for(&r.trace.config)
                    .map(|rows| Arc::new(rows.to_vec()))
            })
            .collect();
        // A bug-hunt lesson has one run: the slip is planted in its configuration.
        let hunt = runs.first().and_then(|r| Hunt::new(&r.trace, pres));
        let mut walk = Walk {
            runs,
            variant,
            pres,
            base: view.clone(),
            rows,
            nav: Nav::new(Vec::new(), false, false, 1, 1),
            quiz: opts.quiz.then(Quiz::default),
            kinds: pres.quiz_kinds(),
            line_mode: false,
            stats: RefCell::new(stats),
            hunt,
        };
        let asks = walk.hunt.as_ref().is_some_and(Hunt::has_questions);
        walk.nav = walk.nav_for(variant, opts.quiz || asks);
        // The caller settles the first head and batch row (flags over a lesson's) in the view.
        walk.nav.set_view(view.head, view.batch);
        if let Some(p) = opts.start {
            walk.nav.start_at(p);
        }
        walk.arrive();
        walk
    }

    /// The navigation over run `variant`: a welcome screen when there is a welcome or a
    /// warning to give, an end screen with a closing or a quiz.
    fn nav_for(&self, variant: usize, quiz: bool) -> Nav {
        let trace = &self.runs[variant].trace;
        let welcome = self.pres.welcome.is_some() || self.warning_for(variant).is_some();
        Nav::for_trace(
            trace,
            self.pres,
            welcome,
            self.pres.closing.is_some() || quiz,
        )
    }

    fn warning_for(&self, variant: usize) -> Option<String> {
        let run = &self.runs[variant];
        self.pres.premise_warning(&run.trace, run.name.as_deref())
    }

    /// The trace shown.
    pub fn trace(&self) -> &'a Trace<Tensor> {
        &self.runs[self.variant].trace
    }

    /// Which run is shown (an index: the variant).
    pub fn variant(&self) -> usize {
        self.variant
    }

    /// The variant shown, by name (`None` for a walk without variants).
    pub fn variant_name(&self) -> Option<&'a str> {
        self.runs[self.variant].name.as_deref()
    }

    pub fn title(&self) -> Option<&str> {
        self.pres.title.as_deref()
    }

    /// Where lesson text is shown: step `step` of the variant, with the current view.
    fn context(&self, step: usize) -> Context<'a, Tensor> {
        Context {
            trace: self.trace(),
            step,
            head: self.nav.head,
            batch: self.nav.batch,
            variant: self.variant_name(),
        }
    }

    /// The view for the current head and batch row.
    pub fn view(&self) -> View {
        View {
            head: self.nav.head,
            batch: self.nav.batch,
            row_tokens: self.rows[self.variant].clone(),
            ..self.base.clone()
        }
    }

    /// True while a quiz question waits for its answer.
    pub fn asking(&self) -> bool {
        self.quiz.as_ref().is_some_and(|q| q.current().is_some()) || self.hunting()
    }

    /// The bug hunt's question waits (on the end screen).
    fn hunting(&self) -> bool {
        self.nav.screen() == Screen::End && self.hunt.as_ref().is_some_and(Hunt::asking)
    }

    /// What the slip's comparison and hunt show, as a number that changes with it.
    pub fn hunt_state(&self) -> u8 {
        self.hunt.as_ref().map_or(0, Hunt::state)
    }

    /// What an empty answer field suggests typing.
    pub fn answer_placeholder(&self) -> &'static str {
        match &self.hunt {
            Some(h) if self.hunting() => h.placeholder(),
            _ => "(type the sizes, like 2 8 5 64)",
        }
    }

    /// Carries out a command (leaving any unanswered question for later).
    pub fn apply(&mut self, cmd: &Command) -> Result<(), String> {
        if *cmd == Command::ToggleDiff {
            return match &mut self.hunt {
                Some(h) => h.toggle(),
                None => Err(
                    "d sets a planted slip's run beside MiniMind's: plant one with \
                     --bug NAME (`attnstep bugs` lists them)"
                        .into(),
                ),
            };
        }
        let before = (self.nav.screen(), self.variant);
        let result = match cmd {
            Command::NextVariant => self.switch((self.variant + 1) % self.runs.len().max(1)),
            Command::Variant(name) => self.variant_named(name).and_then(|i| self.switch(i)),
            _ => self.nav.apply(cmd),
        };
        if (self.nav.screen(), self.variant) != before {
            if let Some(q) = &mut self.quiz {
                q.abandon();
            }
            self.arrive();
        }
        result
    }

    fn names(&self) -> Vec<&'a str> {
        self.runs.iter().filter_map(|r| r.name.as_deref()).collect()
    }

    fn variant_named(&self, name: &str) -> Result<usize, String> {
        let names = self.names();
        names.iter().position(|n| *n == name.trim()).ok_or_else(|| {
            if names.is_empty() {
                "this walk has no variants to switch between".to_string()
            } else {
                format!(
                    "no variant '{}': the variants are {}",
                    crate::text::printable_line(name),
                    names.join(", ")
                )
            }
        })
    }

    /// Shows run `to` instead, at the same step and stage (or the next one it shows), with the
    /// same head and batch row where they exist.
    fn switch(&mut self, to: usize) -> Result<(), String> {
        if self.runs.len() < 2 {
            return Err("this walk has no variants to switch between".into());
        }
        let (screen, head, batch) = (self.nav.screen(), self.nav.head, self.nav.batch);
        let old = self.trace();
        let mut nav = self.nav_for(to, self.quiz.is_some());
        nav.set_view(head, batch);
        let new = &self.runs[to].trace;
        match screen {
            Screen::Welcome => {}
            Screen::End => {
                let _ = nav.apply(&Command::Last);
            }
            Screen::Stage(p) => {
                let id = old.steps[p.step].stages[p.stage].id;
                let step = p.step.min(new.steps.len() - 1);
                let stage = new.steps[step]
                    .stages
                    .iter()
                    .position(|s| s.id >= id)
                    .unwrap_or(new.steps[step].stages.len());
                nav.start_at(Position { step, stage });
            }
        }
        nav.reached_end |= self.nav.reached_end;
        self.nav = nav;
        self.variant = to;
        Ok(())
    }

    /// Queues the quiz questions of the stage just reached (the bug hunt's on the end screen).
    fn arrive(&mut self) {
        if let (Some(h), Screen::End) = (&mut self.hunt, self.nav.screen()) {
            h.enter();
        }
        let (Some(quiz), Screen::Stage(p)) = (&mut self.quiz, self.nav.screen()) else {
            return;
        };
        let trace = &self.runs[self.variant].trace;
        let asked = quiz::questions(
            trace,
            p.step,
            p.stage,
            &self.kinds,
            self.nav.head,
            self.nav.batch,
        );
        quiz.enter(self.variant, asked);
    }

    /// Takes a line typed at a quiz question: an answer, `h` for a hint, `skip`, `b` to go
    /// back, or `q` to quit.
    pub fn answer(&mut self, text: &str) -> Feedback {
        let text = text.trim();
        if self.hunting() {
            let lettered = self.hunt.as_ref().is_some_and(Hunt::choosing_line);
            if text == "back" || (text == "b" && !lettered) {
                return Feedback::Moved(self.apply(&Command::Back));
            }
            let h = self.hunt.as_mut().expect("hunting");
            return match text {
                "q" | "quit" | "exit" => Feedback::Quit,
                "h" | "hint" | "?" => Feedback::Hunt(h.hint()),
                _ => Feedback::Hunt(h.answer(text)),
            };
        }
        match text {
            "q" | "quit" | "exit" => return Feedback::Quit,
            "b" | "back" => return Feedback::Moved(self.apply(&Command::Back)),
            "h" | "hint" | "?" => {
                let q = self.question().expect("asking");
                let custom = self.pres.hint_at(q.id, q.kind(), &self.context(q.step));
                return Feedback::Hint(q.hint(custom));
            }
            _ => {}
        }
        let quiz = self.quiz.as_mut().expect("asking");
        let reply = if matches!(text, "s" | "skip") {
            quiz.skip()
        } else {
            quiz.answer(text)
        };
        Feedback::Reply(reply.unwrap_or(Reply::Unreadable(String::new())))
    }

    pub fn question(&self) -> Option<&quiz::Question> {
        self.quiz.as_ref().and_then(|q| q.current())
    }

    pub fn score(&self) -> Option<&QuizScore> {
        self.quiz.as_ref().map(|q| &q.score)
    }

    /// The line asking the current question; `with_keys` adds what can be typed (line mode
    /// has no status line to say it).
    pub fn prompt_line(&self, with_keys: bool) -> String {
        if let Some(h) = self.hunt.as_ref().filter(|_| self.hunting()) {
            return h.prompt(with_keys);
        }
        let Some(q) = self.question() else {
            return String::new();
        };
        let again = self.quiz.as_ref().is_some_and(|z| z.tries() > 0);
        let mut ask = q.prompt(again);
        if with_keys {
            ask.push_str(&format!("  [{} · h hint · skip]", q.input_help()));
        }
        ask
    }

    /// The lines of the current screen for a window `view.width` wide.
    pub fn body(&self, view: &View) -> Vec<String> {
        let width = view.width.max(20);
        if self.nav.help {
            return screen::help_lines();
        }
        if let Some(q) = self.question() {
            return screen::question_lines(self.trace(), q, width);
        }
        if let Some(h) = self.hunt.as_ref().filter(|_| self.hunting()) {
            return h.question_lines(view);
        }
        match self.nav.screen() {
            Screen::Welcome => self.welcome_lines(width),
            Screen::Stage(p) => self.stage_lines(p, view, width),
            Screen::End => self.end_lines(width),
        }
    }

    fn welcome_lines(&self, width: usize) -> Vec<String> {
        let text = screen::welcome_text(
            self.runs,
            self.variant,
            self.pres,
            &self.context(0),
            !self.line_mode,
        );
        wrap(&text, width)
    }

    fn stage_lines(&self, p: Position, view: &View, width: usize) -> Vec<String> {
        let ctx = self.context(p.step);
        let text = self
            .stats
            .borrow_mut()
            .scope(|| screen::stage_text(self.pres, &ctx, p.stage, view, width));
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        if let Some(cmp) = self.hunt.as_ref().and_then(|h| h.comparison(p, view)) {
            lines.push(String::new());
            lines.extend(cmp.lines().map(str::to_string));
        }
        lines
    }

    fn end_lines(&self, width: usize) -> Vec<String> {
        let mut lines = Vec::new();
        let last = self.trace().steps.len() - 1;
        if let Some(c) = self.pres.closing_at(&self.context(last)) {
            lines.extend(wrap(&c, width));
        }
        if let Some(score) = self.score() {
            if !lines.is_empty() {
                lines.push(String::new());
            }
            lines.extend(screen::score_lines(score, width));
        }
        let hunt = self.hunt.as_ref().map(|h| h.end_lines(width));
        if let Some(h) = hunt.filter(|h| !h.is_empty()) {
            lines.push(String::new());
            lines.extend(h);
        }
        lines
    }

    /// The status line under a quiz question.
    pub fn quiz_status(&self) -> String {
        if let Some(h) = self.hunt.as_ref().filter(|_| self.hunting()) {
            return h.status();
        }
        let score = self
            .score()
            .filter(|s| s.asked > 0)
            .map(|s| format!("quiz {}/{} · ", s.first_try, s.asked))
            .unwrap_or_default();
        let what = self.question().map_or("the answer", |q| q.input_help());
        format!("{score}type {what}, Enter · h hint · → skip · ← back · Esc quits")
    }

    /// The status line, at most `width` columns:
    /// `stage 9/14 scores · step 2/3 decode (pos 6) · head 3 of 0…7 · ? help`.
    pub fn status(&self, width: usize) -> String {
        let help = if self.asking() {
            "h hint"
        } else if self.nav.help {
            "? close help"
        } else {
            "? help"
        };
        // Most important first; the optional ones in the middle go when space is short.
        let mut main = Vec::new();
        let mut optional = Vec::new();
        match self.nav.screen() {
            Screen::Welcome => {
                main.push("welcome".to_string());
                main.push(
                    if self.line_mode {
                        "n to start"
                    } else {
                        "Space or → to start"
                    }
                    .to_string(),
                );
            }
            Screen::End => {
                main.push("end".to_string());
                main.push("q quits · g to the start".to_string());
            }
            Screen::Stage(p) => {
                let st = &self.trace().steps[p.step];
                let (k, n) = self.nav.stage_number().unwrap_or((0, 0));
                main.push(format!("stage {k}/{n} {}", st.stages[p.stage].id));
                let pos = if st.seq_len == 1 {
                    format!("pos {}", st.start_pos)
                } else {
                    format!("pos {}..{}", st.start_pos, st.kv_len() - 1)
                };
                main.push(format!(
                    "step {}/{} {} ({pos})",
                    p.step + 1,
                    self.trace().steps.len(),
                    st.kind.as_str()
                ));
                optional.push(screen::index_of("head", self.nav.head, self.nav.n_heads));
                if self.nav.bsz > 1 {
                    optional.push(screen::index_of("batch", self.nav.batch, self.nav.bsz));
                }
                if let Some(h) = &self.hunt {
                    optional.push(h.status_hint().to_string());
                }
            }
        }
        if let Some(v) = self.variant_name() {
            main.push(format!("variant {v}"));
        }
        if let Some(s) = self.score().filter(|s| s.asked > 0) {
            optional.push(format!("quiz {}/{}", s.first_try, s.asked));
        }
        loop {
            let all: Vec<&str> = main
                .iter()
                .chain(optional.iter())
                .map(String::as_str)
                .chain(std::iter::once(help))
                .collect();
            let line = all.join(" · ");
            if line.chars().count() <= width || optional.is_empty() {
                return line;
            }
            optional.pop();
        }
    }

    /// What the walk came to.
    pub fn outcome(&self) -> Outcome {
        Outcome {
            position: self
                .nav
                .position()
                .unwrap_or(Position { step: 0, stage: 0 }),
            finished: self.nav.reached_end,
            quiz: hunt::merged_score(self.score(), self.hunt.as_ref()),
        }
    }

    /// After line mode stops: the score, unless the end screen just showed it.
    pub fn finish_line_mode(&self, out: &mut dyn Write) -> std::io::Result<()> {
        if let Some(s) = self.score()
            && s.asked > 0
            && self.nav.screen() != Screen::End
        {
            writeln!(out)?;
            for l in screen::score_lines(s, usize::MAX) {
                writeln!(out, "{l}")?;
            }
        }
        if self.nav.screen() != Screen::End
            && let Some(h) = &self.hunt
        {
            for l in h.score_lines() {
                writeln!(out, "{l}")?;
            }
        }
        Ok(())
    }
}
