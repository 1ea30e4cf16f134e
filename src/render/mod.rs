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

use std::io::{self, Write};

use crate::numeric::Tensor;
use crate::stage::Facts;
use crate::trace::{StageId, StepKind, Trace};
use palette::{Palette, Role};
pub use palette::{Theme, ThemeChoice};

/// How much of a stage's generic explanation to print.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Prose {
    /// The whole paragraph.
    #[default]
    Full,
    /// Its first sentence only: for a stage whose lesson note explains the rest.
    Short,
    /// None: the lesson note replaces it.
    Hidden,
}

impl Prose {
    /// `text` cut to this level: the first sentence ends at the first ". " that is followed by a
    /// capital letter, so decimals (`√8 = 2.828`) and `.view` do not end it.
    pub fn apply(self, text: &str) -> String {
        match self {
            Prose::Full => text.to_string(),
            Prose::Hidden => String::new(),
            Prose::Short => {
                let end = text
                    .match_indices(". ")
                    .find(|(i, _)| text[i + 2..].chars().next().is_some_and(char::is_uppercase))
                    .map_or(text.len(), |(i, _)| i + 1);
                text[..end].to_string()
            }
        }
    }
}

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
    /// The colours' theme (dark or light terminal background).
    pub theme: Theme,
    /// How much of the stage's generic explanation to print.
    pub prose: Prose,
    /// Labels for each batch row's positions (a lesson's `tokens` per row); the
    /// configuration's labels when `None`.
    pub row_tokens: Option<std::sync::Arc<Vec<Vec<String>>>>,
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
            theme: Theme::Dark,
            prose: Prose::Full,
            row_tokens: None,
        }
    }
}

impl View {
    /// The palette for this view's colour decision and theme.
    pub fn palette(&self) -> Palette {
        Palette::themed(self.color, self.theme)
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
    let about = view.prose.apply(&about(trace, step, stage, view));
    if !about.is_empty() {
        out.push('\n');
        out.push_str(&wrap_words(&about, view.width.min(100), ""));
    }
    out
}

/// The generic explanation of a stage for this step and view, in full.
pub fn about(trace: &Trace<Tensor>, step: usize, stage: usize, view: &View) -> String {
    let facts = Facts::of(trace, step, view.head, view.batch);
    (trace.steps[step].stages[stage].id.spec().about)(&facts)
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
///
/// A bracketed span (`[bsz=1, kv_len=3, n_kv_heads=2, head_dim=64]`, `x[b=0, :, h=1, :]`) is
/// kept on one line when it fits on a line at all, so a shape is never cut inside its brackets.
pub fn wrap_words(text: &str, width: usize, indent: &str) -> String {
    let width = width.max(20);
    let mut out = String::new();
    for line in text.lines() {
        let lead: String = line.chars().take_while(|c| *c == ' ').collect();
        let mut cur = lead.clone();
        let mut cur_w = lead.len();
        let mut empty = true;
        let room = width.saturating_sub(indent.len()).max(8);
        let words = unbroken_spans(line, room).into_iter().flat_map(|w| {
            // A plain word longer than a whole line is cut into line-sized pieces.
            let chars: Vec<char> = w.chars().collect();
            if chars.len() > room && !w.contains('\u{1b}') {
                chars.chunks(room).map(|c| c.iter().collect()).collect()
            } else {
                vec![w]
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

/// The space-separated words of `line`, with the words of a bracketed span joined into one
/// when the span fits in `room` columns (a longer span stays breakable between its words).
fn unbroken_spans(line: &str, room: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut open: Option<Vec<&str>> = None;
    let mut depth = 0i32;
    for word in line.split(' ').filter(|w| !w.is_empty()) {
        let plain = crate::text::strip_ansi(word);
        let before = depth;
        depth += plain.matches('[').count() as i32 - plain.matches(']').count() as i32;
        depth = depth.max(0);
        match open.as_mut() {
            Some(span) => span.push(word),
            None if depth > 0 && before == 0 => open = Some(vec![word]),
            None => out.push(word.to_string()),
        }
        if depth == 0
            && let Some(span) = open.take()
        {
            let joined = span.join(" ");
            if visible_width(&joined) <= room {
                out.push(joined);
            } else {
                out.extend(span.into_iter().map(str::to_string));
            }
        }
    }
    // An unclosed bracket: its words stay separate.
    if let Some(span) = open {
        out.extend(span.into_iter().map(str::to_string));
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
