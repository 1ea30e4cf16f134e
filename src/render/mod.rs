//! Turning a trace into text for the terminal.
//!
//! [`render_stage`] is the one entry point every front end uses (the `run --all` printer, the
//! interactive stepper, lessons): it draws one stage of one step into a `String` according to a
//! [`View`]: a banner, the MiniMind line(s), the shape table, the numbers that teach something
//! for the selected batch row and head, and the stage's explanation (its descriptor's prose,
//! in full or shortened by [`View::prose`]). [`note`] draws a lesson note in the same style.
//!
//! - [`color`]: the `--color` decision and terminal width, made once per run.
//! - [`palette`]: semantic colours (and their absence), the dark and light [`Theme`]s.
//! - [`matrix`]: heatmaps, masks and vector tables with numpy-style elision that keeps heads
//!   and groups whole.
//! - [`demos`]: the small computations behind the RoPE and ÷√head_dim views.
//! - [`report`]: the `attnstep shapes` report and the presets table as plain text.
//! - [`diff`]: two runs compared stage by stage.
//! - [`shapes`]: shape tables with named, coloured dimensions.
//! - [`stages`]: which numbers each stage shows.

pub mod color;
pub mod demos;
pub mod diff;
pub mod matrix;
pub mod palette;
pub mod report;
pub mod shapes;
pub mod stages;
pub(crate) mod view;
pub(crate) mod wrap;

use std::io::{self, Write};

use crate::numeric::Tensor;
use crate::stage::Facts;
use crate::trace::{StepKind, Trace};
use palette::{Palette, Role};
pub use palette::{Theme, ThemeChoice};
pub use view::{Prose, Selection, View};
pub use wrap::wrap_words;

/// Draws stage `stage` (index into `trace.steps[step].stages`) of step `step`.
pub fn render_stage(trace: &Trace<Tensor>, step: usize, stage: usize, view: &View) -> String {
    let pal = view.palette();
    let mut out = String::new();
    out.push_str(&banner(trace, step, stage, view, &pal));
    out.push('\n');
    out.push_str(&shapes::table(trace, step, stage, view, &pal));
    for section in stages::numbers(trace, step, stage, view, &pal) {
        out.push('\n');
        out.push_str(&section);
    }
    let about = view.prose.apply(&about(trace, step, stage, view));
    if !about.is_empty() {
        out.push('\n');
        out.push_str(&wrap_words(&about, view.width.min(100), ""));
    }
    out
}

/// The generic explanation of a stage for this step and view, in full. It describes what
/// MiniMind's code does; with a slip planted it says so at every stage alike (so as not to
/// point at the one where the slip shows), since from there on the tables may disagree.
pub fn about(trace: &Trace<Tensor>, step: usize, stage: usize, view: &View) -> String {
    let facts = Facts::of(trace, step, view.head, view.batch);
    let text = (trace.steps[step].stages[stage].id.spec().about)(&facts);
    match trace.config.bug {
        Some(_) => format!(
            "What MiniMind's code does here (a slip is planted in this run, so from the stage \
             where it shows on the tables disagree with this): {text}"
        ),
        None => text,
    }
}

/// Draws a lesson note (or any narrative text) wrapped to the view's width, marked as a note.
pub fn note(text: &str, view: &View) -> String {
    let pal = view.palette();
    let mut out = String::new();
    for (i, para) in text.split("\n\n").enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let para = para.split_whitespace().collect::<Vec<_>>().join(" ");
        let wrapped = wrap_words(&para, view.width.min(100).saturating_sub(2), "");
        for (j, line) in wrapped.lines().enumerate() {
            let mark = if i == 0 && j == 0 { "✎ " } else { "  " };
            out.push_str(&pal.paint(&format!("{mark}{line}"), Role::Note));
            out.push('\n');
        }
    }
    out
}

/// Where the step's tokens sit: "positions 0…5", "position 6 (after 6 cached)".
fn positions(kind: StepKind, start: usize, seq_len: usize) -> String {
    let span = if seq_len == 1 {
        format!("position {start}")
    } else {
        format!("positions {start}…{}", start + seq_len - 1)
    };
    match kind {
        StepKind::Prefill => span,
        _ => format!("{span}, after {start} cached"),
    }
}

/// The stage banner: numbers, step, title and the MiniMind code, syntax-coloured.
fn banner(trace: &Trace<Tensor>, step: usize, stage: usize, view: &View, pal: &Palette) -> String {
    let st = &trace.steps[step];
    let sg = &st.stages[stage];
    // No-break spaces inside each part, so a narrow terminal wraps only between parts.
    let nb = |s: String| s.replace(' ', "\u{a0}");
    let head = [
        nb(format!("stage {}/{}", stage + 1, st.stages.len())),
        nb(format!(
            "step {}/{} {}",
            step + 1,
            trace.steps.len(),
            st.kind.as_str()
        )),
        nb(positions(st.kind, st.start_pos, st.seq_len)),
    ]
    .join(" · ");
    let head = format!(" {head}");
    // One bar across the width; on a narrow terminal the text wraps onto a second bar.
    let mut out = String::new();
    for (i, line) in wrap_words(&head, view.width.saturating_sub(3), " ")
        .lines()
        .enumerate()
    {
        let text = format!("{line} ").replace('\u{a0}', " ");
        let fill = view.width.saturating_sub(visible_width(&text) + 2);
        if pal.enabled {
            out.push_str(&pal.paint(&format!("{text}{}", " ".repeat(fill + 2)), Role::Banner));
        } else {
            let lead = if i == 0 { "━━" } else { "  " };
            out.push_str(&format!("{lead}{text}{}", "━".repeat(fill)));
        }
        out.push('\n');
    }
    for line in wrap_words(&format!("{} · {}", sg.id, sg.id.title()), view.width, "  ").lines() {
        out.push_str(&pal.paint(line, Role::Heading));
        out.push('\n');
    }
    for line in sg.id.code().lines() {
        let wrapped = wrap_words(line, view.width.saturating_sub(4), "    ");
        for piece in wrapped.lines() {
            out.push_str(&pal.paint("  │ ", Role::Muted));
            out.push_str(&highlight_python(piece, pal));
            out.push('\n');
        }
    }
    out
}

const PY_KEYWORDS: &[&str] = &[
    "if", "is", "not", "None", "else", "and", "or", "in", "for", "return", "True", "False",
];

/// Colours a line of Python: keywords, function names, numbers, strings.
pub fn highlight_python(line: &str, pal: &Palette) -> String {
    if !pal.enabled {
        return line.to_string();
    }
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let role = if PY_KEYWORDS.contains(&word.as_str()) {
                Some(Role::Keyword)
            } else if word == "self" {
                Some(Role::Muted)
            } else if chars.get(i) == Some(&'(') {
                Some(Role::Function)
            } else {
                None
            };
            match role {
                Some(r) => out.push_str(&pal.paint(&word, r)),
                None => out.push_str(&word),
            }
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            let num: String = chars[start..i].iter().collect();
            out.push_str(&pal.paint(&num, Role::Number));
        } else if c == '"' || c == '\'' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += 1;
            }
            i = (i + 1).min(chars.len());
            let s: String = chars[start..i].iter().collect();
            out.push_str(&pal.paint(&s, Role::Str));
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

pub use crate::text::{skip_escape, visible_width};

/// Prints the selected stages, one after another, separated by blank lines.
pub fn print_trace(
    out: &mut dyn Write,
    trace: &Trace<Tensor>,
    sel: &Selection,
    view: &View,
) -> io::Result<()> {
    for (i, step) in trace.steps.iter().enumerate() {
        if sel.step.is_some_and(|s| s != i) {
            continue;
        }
        for (j, stage) in step.stages.iter().enumerate() {
            if sel.stage.is_some_and(|s| s != stage.id) {
                continue;
            }
            writeln!(out, "{}", render_stage(trace, i, j, view))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_respects_width_and_ignores_escapes() {
        let text = "one two three four five six seven eight nine ten eleven twelve";
        let w = wrap_words(text, 20, "  ");
        assert!(w.lines().all(|l| l.chars().count() <= 20), "{w}");
        assert_eq!(w.lines().next(), Some("one two three four"));
        assert!(w.lines().nth(1).unwrap().starts_with("  five"));
        assert_eq!(visible_width("\u{1b}[1;4mab\u{1b}[0m"), 2);
    }

    #[test]
    fn wrapping_keeps_bracketed_spans_whole() {
        let text = "in xk_cache [bsz=1, kv_len=3, n_kv_heads=2, head_dim=64] and more words here";
        for width in [30, 40, 50, 60, 80] {
            let w = wrap_words(text, width, "  ");
            for line in w.lines() {
                assert!(visible_width(line) <= width, "{w}");
                // The 45-column span fits on a line from 47 columns on.
                if width >= 47 {
                    assert_eq!(line.matches('[').count(), line.matches(']').count(), "{w}");
                }
            }
        }
        // Wider than a line: broken between the dimensions rather than overflowing.
        let w = wrap_words(text, 20, "");
        assert!(w.lines().all(|l| visible_width(l) <= 20), "{w}");
        // Escapes inside the span do not count as brackets.
        let c = "x \u{1b}[1m[a, b]\u{1b}[0m y".to_string();
        assert_eq!(wrap_words(&c, 40, ""), format!("{c}\n"));
    }

    #[test]
    fn short_prose_is_the_first_sentence() {
        let t = "Here: .view only regroups, √8 = 2.828 stays. The end. More.";
        assert_eq!(
            Prose::Short.apply(t),
            "Here: .view only regroups, √8 = 2.828 stays."
        );
        assert_eq!(Prose::Full.apply(t), t);
        assert_eq!(Prose::Hidden.apply(t), "");
        assert_eq!(Prose::Short.apply("One sentence."), "One sentence.");
    }

    #[test]
    fn python_is_plain_without_colour() {
        let p = Palette::new(false);
        assert_eq!(highlight_python("if x: f(1)", &p), "if x: f(1)");
        let c = highlight_python("if x: f(1)", &Palette::new(true));
        assert!(c.contains('\u{1b}'));
        assert_eq!(visible_width(&c), "if x: f(1)".len());
    }

    #[test]
    fn notes_wrap_and_are_marked() {
        let v = View {
            width: 40,
            ..View::default()
        };
        let n = note("GQA saves memory. ".repeat(6).trim(), &v);
        assert!(n.starts_with("✎ GQA saves memory."));
        assert!(n.lines().count() > 1);
        assert!(n.lines().all(|l| l.chars().count() <= 40));
    }
}
