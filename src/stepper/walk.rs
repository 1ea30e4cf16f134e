//! One walk through a trace, shared by the raw-mode and line-mode front ends: the navigation
//! state, the quiz, and the text of each screen (welcome, stage, question, end, help) and of the
//! status line. Front ends only decide how to read input and where to draw.

use std::cell::RefCell;
use std::io::Write;

use super::hunt::{self, Hunt};
use super::keys;
use super::nav::{Command, Nav, Position, Screen};
use super::quiz::{self, Quiz, QuizScore, Reply};
use super::{Options, Outcome};
use crate::numeric::Tensor;
use crate::presentation::Presentation;
use crate::render::matrix::StatsCache;
use crate::render::{self, View};
use crate::trace::Trace;

/// What a line typed at a quiz question did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Feedback {
    Reply(Reply),
    Hint(String),
    /// What the bug hunt says to an answer.
    Hunt(String),
    /// Left the question (back), to be asked on the next visit.
    Moved(Result<(), String>),
    Quit,
}

impl Feedback {
    /// The text to show for it.
    pub fn message(&self) -> String {
        match self {
            Feedback::Reply(Reply::Right { tensor, shape }) => {
                format!("✓ right: {tensor} is {shape}")
            }
            Feedback::Reply(Reply::Retry { why }) => {
                let mut m = String::from("✗ not quite:");
                for w in why {
                    m.push_str("\n  ");
                    m.push_str(w);
                }
                m.push_str("\n  one more try (h for a hint)");
                m
            }
            Feedback::Reply(Reply::Reveal { tensor, shape, why }) => {
                let mut m = format!("✗ {tensor} is {shape}");
                for w in why {
                    m.push_str("\n  ");
                    m.push_str(w);
                }
                m
            }
            Feedback::Reply(Reply::Unreadable(why)) => format!("? {why}"),
            Feedback::Hint(h) => format!("hint: {h}"),
            Feedback::Hunt(m) => m.clone(),
            Feedback::Moved(Ok(())) => String::new(),
            Feedback::Moved(Err(why)) => why.clone(),
            Feedback::Quit => String::new(),
        }
    }
}

/// A walk in progress.
pub struct Walk<'a> {
    trace: &'a Trace<Tensor>,
    pres: &'a Presentation,
    base: View,
    pub nav: Nav,
    quiz: Option<Quiz>,
    /// Commands are typed lines, not keys (changes what the status line suggests).
    pub line_mode: bool,
    /// The stats of the trace's slices drawn so far: screens are drawn again and again.
    stats: RefCell<StatsCache<'a>>,
    /// The planted slip, if any: its comparison and hunt ([`hunt`]).
    hunt: Option<Hunt<'a>>,
}

impl<'a> Walk<'a> {
    pub fn new(
        trace: &'a Trace<Tensor>,
        pres: &'a Presentation,
        view: &View,
        opts: &Options,
    ) -> Walk<'a> {
        let hunt = Hunt::new(trace, pres);
        let asks = hunt.as_ref().is_some_and(Hunt::has_questions);
        let end = pres.closing.is_some() || opts.quiz || asks;
        let mut nav = Nav::for_trace(trace, pres, end);
        // The caller settles the first head and batch row (flags over a lesson's) in the view.
        nav.set_view(view.head, view.batch);
        if let Some(p) = opts.start {
            nav.start_at(p);
        }
        let mut walk = Walk {
            trace,
            pres,
            base: view.clone(),
            nav,
            quiz: opts.quiz.then(Quiz::default),
            line_mode: false,
            stats: RefCell::new(StatsCache::new(
                trace
                    .weights
                    .iter()
                    .map(|w| &w.value)
                    .chain(
                        trace
                            .steps
                            .iter()
                            .flat_map(|st| st.tensors().map(|t| &t.value)),
                    )
                    .filter_map(|t| t.data.as_slice_memory_order()),
            )),
            hunt,
        };
        walk.arrive();
        walk
    }

    pub fn title(&self) -> Option<&str> {
        self.pres.title.as_deref()
    }

    /// The view for the current head and batch row.
    pub fn view(&self) -> View {
        View {
            head: self.nav.head,
            batch: self.nav.batch,
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

    /// Carries out a navigation command (leaving any unanswered question for later).
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
        let before = self.nav.screen();
        let result = self.nav.apply(cmd);
        if self.nav.screen() != before {
            if let Some(q) = &mut self.quiz {
                q.abandon();
            }
            self.arrive();
        }
        result
    }

    /// Queues the quiz questions of the stage just reached (the bug hunt's on the end screen).
    fn arrive(&mut self) {
        if let (Some(h), Screen::End) = (&mut self.hunt, self.nav.screen()) {
            h.enter();
        }
        let (Some(quiz), Screen::Stage(p)) = (&mut self.quiz, self.nav.screen()) else {
            return;
        };
        quiz.enter(quiz::questions(self.trace, p.step, p.stage));
    }

    /// Takes a line typed at a quiz question: a shape, `h` for a hint, `skip`, `b` to go
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
                return Feedback::Hint(q.hint(self.pres.hint_for(q.id)));
            }
            _ => {}
        }
        let quiz = self.quiz.as_mut().expect("asking");
        let reply = if matches!(text, "s" | "skip") {
            quiz.skip()
        } else {
            quiz.answer(text)
        };
        Feedback::Reply(reply.expect("asking"))
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
        let mut ask = format!(
            "{} {}",
            if again {
                "Try again: what shape is"
            } else {
                "What shape is"
            },
            q.text()
        );
        if !q.same.is_empty() {
            ask.push_str(&format!(
                " ({} changes the same way)",
                q.same
                    .iter()
                    .map(|t| t.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if with_keys {
            ask.push_str("  [sizes like 2 8 5 64 · h hint · skip]");
        }
        ask
    }

    /// The lines of the current screen for a window `view.width` wide.
    pub fn body(&self, view: &View) -> Vec<String> {
        let width = view.width.max(20);
        if self.nav.help {
            return help_lines();
        }
        if let Some(q) = self.question() {
            return self.question_lines(q, width);
        }
        if let Some(h) = self.hunt.as_ref().filter(|_| self.hunting()) {
            return h.question_lines(view);
        }
        match self.nav.screen() {
            Screen::Welcome => wrap(self.pres.welcome.as_deref().unwrap_or_default(), width),
            Screen::Stage(p) => self.stage_lines(p, view, width),
            Screen::End => self.end_lines(width),
        }
    }

    fn stage_lines(&self, p: Position, view: &View, width: usize) -> Vec<String> {
        let text = self
            .stats
            .borrow_mut()
            .scope(|| render::render_stage(self.trace, p.step, p.stage, view));
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let id = self.trace.steps[p.step].stages[p.stage].id;
        let narrow = View {
            width,
            ..view.clone()
        };
        for note in self.pres.notes_for(p.step, id) {
            lines.push(String::new());
            lines.extend(render::note(note, &narrow).lines().map(str::to_string));
        }
        if let Some(cmp) = self.hunt.as_ref().and_then(|h| h.comparison(p, view)) {
            lines.push(String::new());
            lines.extend(cmp.lines().map(str::to_string));
        }
        lines
    }

    fn question_lines(&self, q: &quiz::Question, width: usize) -> Vec<String> {
        let st = &self.trace.steps[q.step];
        let cfg = &self.trace.config;
        let mut lines = vec![format!(
            "Quiz · step {}/{} {} · {}: {}",
            q.step + 1,
            self.trace.steps.len(),
            st.kind.as_str(),
            q.id,
            q.id.title()
        )];
        for l in q.id.code().lines() {
            lines.push(format!("    {l}"));
        }
        lines.push(String::new());
        lines.push(format!("  {:<10} {}", q.from, q.before));
        lines.extend(wrap(
            &format!(
                "  config: hidden={} n_heads={} n_kv_heads={} head_dim={} n_rep={} · this step: \
                 past_len={} seq_len={}",
                cfg.hidden_size,
                cfg.num_attention_heads,
                cfg.num_key_value_heads,
                cfg.head_dim,
                cfg.n_rep(),
                st.start_pos,
                st.seq_len
            ),
            width,
        ));
        lines
    }

    fn end_lines(&self, width: usize) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(c) = &self.pres.closing {
            lines.extend(wrap(c, width));
        }
        if let Some(score) = self.score() {
            if !lines.is_empty() {
                lines.push(String::new());
            }
            lines.extend(score_lines(score, width));
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
        format!("{score}type the sizes, Enter · h hint · → skip · ← back · Esc quits")
    }

    /// The status line, at most `width` columns:
    /// `stage 9/15 scores · step 2/3 decode (pos 6) · head 3/8 · ? help`.
    pub fn status(&self, width: usize) -> String {
        let help = if self.asking() {
            "h hint".to_string()
        } else if self.nav.help {
            "? close help".to_string()
        } else {
            "? help".to_string()
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
                let st = &self.trace.steps[p.step];
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
                    self.trace.steps.len(),
                    st.kind.as_str()
                ));
                optional.push(format!("head {}/{}", self.nav.head + 1, self.nav.n_heads));
                if self.nav.bsz > 1 {
                    optional.push(format!("batch {}/{}", self.nav.batch + 1, self.nav.bsz));
                }
                if let Some(h) = &self.hunt {
                    optional.push(h.status_hint().to_string());
                }
            }
        }
        if let Some(s) = self.score().filter(|s| s.asked > 0) {
            optional.push(format!("quiz {}/{}", s.first_try, s.asked));
        }
        loop {
            let all: Vec<&str> = main
                .iter()
                .chain(optional.iter())
                .chain(std::iter::once(&help))
                .map(String::as_str)
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
            for l in score_lines(s, usize::MAX) {
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

/// `Quiz: 11/14 first try` and the stages missed.
pub fn score_lines(score: &QuizScore, width: usize) -> Vec<String> {
    let mut lines = vec![format!("Quiz: {score}")];
    if score.asked == 0 {
        lines.push("(no shape questions were reached)".into());
    } else if !score.missed.is_empty() {
        lines.extend(wrap(&format!("missed: {}", score.missed_text()), width));
    }
    lines
}

fn help_lines() -> Vec<String> {
    let mut lines = vec!["Keys".to_string(), String::new()];
    for (k, what) in keys::HELP {
        lines.push(format!("  {k:<26} {what}"));
    }
    lines.push(String::new());
    lines.push("At a quiz question: type the sizes and Enter; h hint; → skip; ← back.".into());
    lines
}

/// Wraps plain text to `width` columns, keeping blank lines and each line's indent; spaces
/// between words count as one, and a word longer than a line is broken rather than cut off at
/// the window's edge.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let indent = &line[..line.len() - line.trim_start().len()];
        let words: Vec<&str> = line.split_whitespace().collect();
        let line = format!("{indent}{}", words.join(" "));
        out.extend(crate::text::wrap_paragraph(&line, width, indent));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_blank_lines_and_indent() {
        assert_eq!(
            wrap("one two three four\n\n  five six seven", 12),
            vec!["one two", "three four", "", "  five six", "  seven"]
        );
        assert_eq!(wrap("a  b   c", 20), vec!["a b c"]);
        // A word longer than the width is broken, so nothing is lost past the window's edge.
        assert_eq!(
            wrap("a verylongwordindeed b", 10),
            vec!["a", "verylongwo", "rdindeed b"]
        );
    }
}
