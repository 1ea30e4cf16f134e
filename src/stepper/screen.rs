//! The text of the walk's screens, apart from the state that decides which one shows: a stage
//! with its lesson notes, the welcome (with the premise warning and the variants), a quiz
//! question, the help, the score, and what a typed answer led to. The stepper, line mode and
//! the printer all draw with these, so a screen reads the same in each.

use super::keys;
use super::quiz::{self, Body, QuizScore, Reply};
use super::run::Run;
use crate::numeric::Tensor;
use crate::presentation::{Context, Presentation};
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
        let lines = |mut m: String, why: &[String]| {
            for w in why {
                m.push_str("\n  ");
                m.push_str(w);
            }
            m
        };
        match self {
            Feedback::Reply(Reply::Right { answer, why }) => {
                lines(format!("✓ right: {answer}"), why)
            }
            Feedback::Reply(Reply::Retry { why }) => {
                let mut m = lines("✗ not quite:".to_string(), why);
                m.push_str("\n  one more try (h for a hint)");
                m
            }
            Feedback::Reply(Reply::Reveal { answer, why }) => lines(format!("✗ {answer}"), why),
            Feedback::Reply(Reply::Unreadable(why)) => format!("? {why}"),
            Feedback::Hint(h) => format!("hint: {h}"),
            Feedback::Hunt(m) => m.clone(),
            Feedback::Moved(Ok(())) => String::new(),
            Feedback::Moved(Err(why)) => why.clone(),
            Feedback::Quit => String::new(),
        }
    }
}

/// `head 3 of 0…7`: a 0-based index with the range it is in, so it reads the same as the
/// tables' `h=3` and cannot be taken for a count.
pub fn index_of(what: &str, i: usize, n: usize) -> String {
    if n <= 1 {
        format!("{what} 0 (the only one)")
    } else {
        format!("{what} {i} of 0…{}", n - 1)
    }
}

/// A stage drawn with the prose level its shown notes ask for, then those notes, filled for
/// this step, head, batch row and variant; notes wrapped to `width`.
pub fn stage_text(
    pres: &Presentation,
    ctx: &Context<Tensor>,
    stage: usize,
    view: &View,
    width: usize,
) -> String {
    let id = ctx.trace.steps[ctx.step].stages[stage].id;
    let drawn = View {
        prose: pres.prose_at(id, ctx),
        ..view.clone()
    };
    let mut out = render::render_stage(ctx.trace, ctx.step, stage, &drawn);
    let narrow = View {
        width,
        ..view.clone()
    };
    for note in pres.notes_at(id, ctx) {
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&render::note(&note, &narrow));
    }
    out
}

/// The welcome: the premise warning if this run contradicts the lesson, the lesson's welcome
/// filled for the first step, and the variants there are (with how to switch when `keys`).
pub fn welcome_text(
    runs: &[Run],
    variant: usize,
    pres: &Presentation,
    ctx: &Context<Tensor>,
    keys: bool,
) -> String {
    let run = &runs[variant];
    let mut parts = Vec::new();
    if let Some(w) = pres.premise_warning(&run.trace, run.name.as_deref()) {
        parts.push(w);
    }
    if let Some(w) = pres.welcome_at(ctx) {
        parts.push(w);
    }
    if let Some(name) = &run.name {
        let list: Vec<String> = pres
            .variants
            .iter()
            .map(|v| match &v.about {
                Some(a) => format!(
                    "  {} {}: {a}",
                    if &v.name == name { "▸" } else { " " },
                    v.name
                ),
                None => format!("  {} {}", if &v.name == name { "▸" } else { " " }, v.name),
            })
            .collect();
        let how = if keys {
            "press v to switch, or type :variant NAME"
        } else {
            "type v for the next, or variant NAME"
        };
        parts.push(format!(
            "This lesson has {} variants; you are in {name} ({how}):\n{}",
            runs.len(),
            list.join("\n")
        ));
    }
    parts.join("\n\n")
}

/// A quiz question's screen: where it is asked, the MiniMind line, what it starts from, and
/// the sizes of this run and step.
pub fn question_lines(trace: &Trace<Tensor>, q: &quiz::Question, width: usize) -> Vec<String> {
    let st = &trace.steps[q.step];
    let cfg = &trace.config;
    let mut lines = vec![format!(
        "Quiz · step {}/{} {} · {}: {}",
        q.step + 1,
        trace.steps.len(),
        st.kind.as_str(),
        q.id,
        q.id.title()
    )];
    for l in q.id.code().lines() {
        lines.push(format!("    {l}"));
    }
    lines.push(String::new());
    if let Body::Shape(s) = &q.body {
        lines.push(format!("  {:<10} {}", s.from, s.before));
    }
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

/// `Quiz: 11/14 first try` and the questions missed.
pub fn score_lines(score: &QuizScore, width: usize) -> Vec<String> {
    let mut lines = vec![format!("Quiz: {score}")];
    if score.asked == 0 {
        lines.push("(no quiz questions were reached)".into());
    } else if !score.missed.is_empty() {
        lines.extend(wrap(&format!("missed: {}", score.missed_text()), width));
    }
    lines
}

pub fn help_lines() -> Vec<String> {
    let mut lines = vec!["Keys".to_string(), String::new()];
    for (k, what) in keys::HELP {
        lines.push(format!("  {k:<26} {what}"));
    }
    lines.push(String::new());
    lines.push("At a quiz question: type the answer and Enter; h hint; → skip; ← back.".into());
    lines.push(
        "Stages are numbered as the banner numbers them; heads and batch rows from 0, as in \
         the tables."
            .into(),
    );
    lines
}

/// Wraps lesson text to `width` columns. Lines are re-flowed into paragraphs, since
/// placeholders change their lengths: a line joins the one before it when it continues it (at
/// the left margin, or indented deeper than the line that opened the paragraph) and does not
/// start a list item (`- `). A blank line separates paragraphs, and a paragraph keeps its indent
/// (a list item's continuation lines hang under its text). Spaces between words count as one, and
/// a word longer than a line is broken rather than cut off at the window's edge.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    // The paragraph being gathered: its text, the indent it opened with, its hanging indent.
    let mut para: Option<(String, usize, String)> = None;
    let flush = |out: &mut Vec<String>, para: &mut Option<(String, usize, String)>| {
        if let Some((text, _, hang)) = para.take() {
            out.extend(crate::text::wrap_paragraph(&text, width, &hang));
        }
    };
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let body = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if body.is_empty() {
            flush(&mut out, &mut para);
            out.push(String::new());
            continue;
        }
        let item = body.starts_with("- ");
        match &mut para {
            Some((text, first, _)) if !item && (indent > *first || indent + *first == 0) => {
                text.push(' ');
                text.push_str(&body);
            }
            _ => {
                flush(&mut out, &mut para);
                let hang = " ".repeat(indent + if item { 2 } else { 0 });
                para = Some((format!("{}{body}", " ".repeat(indent)), indent, hang));
            }
        }
    }
    flush(&mut out, &mut para);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_reflows_paragraphs_and_list_items() {
        assert_eq!(
            wrap(
                "a list:\n  - first item\n    goes on\n  - second\n  ▸ kept\n  ▸ apart",
                40
            ),
            vec![
                "a list:",
                "  - first item goes on",
                "  - second",
                "  ▸ kept",
                "  ▸ apart"
            ]
        );
        assert_eq!(wrap("one\ntwo\n\nthree", 40), vec!["one two", "", "three"]);
        assert_eq!(
            wrap("  - a long item that wraps", 16),
            vec!["  - a long item", "    that wraps"]
        );
    }

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

    #[test]
    fn indices_read_as_indices() {
        assert_eq!(index_of("head", 1, 2), "head 1 of 0…1");
        assert_eq!(index_of("batch", 0, 1), "batch 0 (the only one)");
    }
}
