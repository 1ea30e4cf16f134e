//! Turning a trace into text for the terminal.
//!
//! [`render_stage`] is the one entry point every front end uses (the `run --all` printer, the
//! interactive stepper, lessons): it draws one stage of one step into a `String` according to a
//! [`View`]: a banner, the MiniMind line(s), the shape table, the numbers that teach something
//! for the selected batch row and head, and the stage's explanation (its descriptor's prose). [`note`] draws a lesson note
//! in the same style.
//!
//! - [`color`]: the `--color` decision and terminal width, made once per run.
//! - [`palette`]: semantic colours (and their absence).
//! - [`matrix`]: heatmaps, masks and vector tables with numpy-style elision.
//! - [`report`]: the `attnstep shapes` report and the presets table as plain text.
//! - [`shapes`]: shape tables with named, coloured dimensions.
//! - [`stages`]: which numbers each stage shows.

pub mod color;
pub mod diff;
pub mod matrix;
pub mod palette;
pub mod report;
pub mod shapes;
pub mod stages;

use std::io::{self, Write};

use crate::numeric::Tensor;
use crate::stage::Facts;
use crate::trace::{StageId, StepKind, Trace};
use palette::{Palette, Role};

/// How to draw a stage: which head and batch row the matrices show, colour, and size limits.
#[derive(Clone, Debug, PartialEq)]
pub struct View {
    /// Query head shown in per-head matrices (0-based).
    pub head: usize,
    /// Batch row shown (0-based).
    pub batch: usize,
    /// Emit ANSI colour: the run's one colour decision (see [`color::decide`]).
    pub color: bool,
    /// Terminal width in columns.
    pub width: usize,
    /// Rows of a matrix shown before the middle is elided.
    pub max_rows: usize,
    /// Columns of a matrix shown before the middle is elided (fewer if the width needs it).
    pub max_cols: usize,
    /// Decimals shown.
    pub precision: usize,
}

impl Default for View {
    fn default() -> Self {
        View {
            head: 0,
            batch: 0,
            color: false,
            width: 100,
            max_rows: 8,
            max_cols: 8,
            precision: 3,
        }
    }
}

impl View {
    /// The palette for this view's colour decision.
    pub fn palette(&self) -> Palette {
        Palette::new(self.color)
    }
}

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
    out.push('\n');
    let facts = Facts::of(trace, step, view.head, view.batch);
    let about = (trace.steps[step].stages[stage].id.spec().about)(&facts);
    out.push_str(&wrap_words(&about, view.width.min(100), ""));
    out
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

/// Wraps each line of `text` at spaces to `width` columns (ANSI escapes take no room);
/// continuation lines start with `indent`. Every line ends with a newline.
pub fn wrap_words(text: &str, width: usize, indent: &str) -> String {
    let width = width.max(20);
    let mut out = String::new();
    for line in text.lines() {
        let lead: String = line.chars().take_while(|c| *c == ' ').collect();
        let mut cur = lead.clone();
        let mut cur_w = lead.len();
        let mut empty = true;
        let room = width.saturating_sub(indent.len()).max(8);
        let words = line.split(' ').filter(|w| !w.is_empty()).flat_map(|w| {
            // A plain word longer than a whole line is cut into line-sized pieces.
            let chars: Vec<char> = w.chars().collect();
            if chars.len() > room && !w.contains('\u{1b}') {
                chars.chunks(room).map(|c| c.iter().collect()).collect()
            } else {
                vec![w.to_string()]
            }
        });
        for word in words {
            let word = word.as_str();
            let ww = visible_width(word);
            if !empty && cur_w + 1 + ww > width {
                out.push_str(&cur);
                out.push('\n');
                cur = indent.to_string();
                cur_w = indent.len();
                empty = true;
            }
            if !empty {
                cur.push(' ');
                cur_w += 1;
            }
            cur.push_str(word);
            cur_w += ww;
            empty = false;
        }
        out.push_str(&cur);
        out.push('\n');
    }
    out
}

/// Which stages of which steps to print.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// 0-based step index; `None` for every step.
    pub step: Option<usize>,
    /// Stage id; `None` for every stage.
    pub stage: Option<StageId>,
}

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
