//! The raw-mode stepper: one key at a time, each screen redrawn in place on the alternate
//! screen, fitted to the window and redrawn when it is resized.
//!
//! The terminal itself (raw mode, signals, suspend, giving it back on every way out) is
//! [`session`]'s business. Here: the loop, which handles every key already waiting before it
//! draws once (a paste of 3000 keys is one redraw, not 3000), and the drawing, which decides
//! with arithmetic how many matrix rows fit the window (`fit_rows`) and keeps the fitted screen
//! until something other than the scroll offset changes, so scrolling and paging through a
//! stage render nothing.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use anyhow::Result;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::style::{Attribute, Print, SetAttribute};
use crossterm::terminal::{self, Clear, ClearType};
use crossterm::{cursor, queue};

use super::keys::{self, Action, Keys};
use super::nav::{Command, Screen};
use super::session::{self, Input, Request, Session};
use super::walk::{self, Feedback, Walk};
use crate::render::{View, skip_escape, visible_width};
use crate::terminal::window_size;
use crate::text::{strip_ansi, wrap_paragraph};
use unicode_width::UnicodeWidthChar;

/// Set this variable to make `!` panic inside the loop and `~` keep it busy for five seconds:
/// lets the tests check that a panic, and a signal during long work, give the terminal back.
const TEST_KEYS_VAR: &str = "ATTNSTEP_TEST_KEYS";

/// How long the loop waits for a key before looking at signals again.
const SLICE: Duration = Duration::from_millis(100);
/// With input arriving without pause, a frame is still drawn this often.
const MAX_FRAME_GAP: Duration = Duration::from_millis(100);

/// The window's size now, clamped.
fn window_now() -> (usize, usize) {
    let (c, r) = terminal::size().unwrap_or((0, 0));
    window_size(usize::from(c), usize::from(r))
}

/// Runs the walk on the terminal until `q`, Esc, Ctrl-C, a signal, or the terminal going away.
/// After SIGINT, SIGTERM or SIGHUP the terminal is given back, the quiz score printed, and the
/// process dies of that signal (see [`session`]).
pub fn run(out: &mut dyn Write, walk: &mut Walk) -> Result<()> {
    let test_keys = std::env::var_os(TEST_KEYS_VAR).is_some();
    let session = Session::start()?;
    let mut keys = Keys::default();
    let mut answer = String::new();
    let mut message: Option<String> = None;
    let (mut cols, mut rows) = window_now();
    let mut frames = Frames::default();
    // Since when a redraw has been due (`None`: the screen is up to date).
    let mut due: Option<Instant> = Some(Instant::now());
    let signal = loop {
        match session.request() {
            Some(Request::Quit(sig)) => break Some(sig),
            Some(Request::Suspend) => {
                session.suspend()?;
                (cols, rows) = window_now();
                due = Some(Instant::now());
                continue;
            }
            Some(Request::Resume) => {
                session.resume()?;
                (cols, rows) = window_now();
                due = Some(Instant::now());
                continue;
            }
            None => {}
        }
        // With a frame due, only take input that is already waiting, so everything typed or
        // pasted meanwhile is handled before one redraw (but draw at least every
        // MAX_FRAME_GAP while input keeps coming).
        let input = match due {
            Some(since) if since.elapsed() >= MAX_FRAME_GAP => Input::Idle,
            Some(_) => session::next_input(Duration::ZERO),
            None => session::next_input(SLICE),
        };
        let event = match input {
            Input::Gone => break None,
            Input::Idle => {
                if due.take().is_some() {
                    frames.draw(out, walk, &keys, &answer, message.as_deref(), cols, rows)?;
                }
                continue;
            }
            Input::Event(e) => e,
        };
        due.get_or_insert_with(Instant::now);
        let key = match event {
            Event::Resize(c, r) => {
                (cols, rows) = window_size(usize::from(c), usize::from(r));
                continue;
            }
            Event::Key(k) if k.kind != KeyEventKind::Release => k,
            _ => continue,
        };
        if test_keys && key.code == KeyCode::Char('!') {
            panic!("panic requested by {TEST_KEYS_VAR}");
        }
        if test_keys && key.code == KeyCode::Char('~') {
            std::thread::sleep(Duration::from_secs(5));
        }
        if keys::is_suspend(&key) {
            session.suspend()?;
            (cols, rows) = window_now();
            continue;
        }
        if walk.asking() {
            match quiz_key(walk, key, &mut answer) {
                Some(Feedback::Quit) => break None,
                Some(fb) => message = Some(fb.message()).filter(|m| !m.is_empty()),
                None => {}
            }
            continue;
        }
        match keys.feed(key) {
            Action::Command(Command::Quit) => break None,
            Action::Command(cmd) => {
                if matches!(cmd, Command::PageDown | Command::PageUp)
                    && !frames.shows(walk, &answer, message.as_deref(), cols, rows)
                {
                    // Paging needs to know how tall this screen is: draw it first.
                    frames.draw(out, walk, &keys, &answer, message.as_deref(), cols, rows)?;
                }
                let scroll = *walk.nav.scroll_mut();
                message = match page(&cmd, scroll, frames.layout) {
                    Some(scroll) => {
                        *walk.nav.scroll_mut() = scroll;
                        None
                    }
                    None => walk.apply(&cmd).err(),
                };
            }
            Action::Refused(why) => message = Some(why),
            Action::Redraw => {
                let mut buf = Vec::new();
                queue!(buf, Clear(ClearType::All))?;
                out.write_all(&buf)?;
                out.flush()?;
            }
            Action::Editing | Action::Ignored => {}
        }
    };
    drop(session);
    if let Some(score) = walk.score().filter(|s| s.asked > 0) {
        for l in walk::score_lines(score, usize::MAX) {
            writeln!(out, "{l}")?;
        }
    }
    out.flush()?;
    if let Some(sig) = signal {
        session::die_of(sig);
    }
    Ok(())
}

/// A key while a quiz question is asked: typing edits the answer, Enter submits it.
fn quiz_key(walk: &mut Walk, key: KeyEvent, answer: &mut String) -> Option<Feedback> {
    if keys::is_interrupt(&key) || key.code == KeyCode::Esc {
        return Some(Feedback::Quit);
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return None;
    }
    let empty = answer.is_empty();
    match key.code {
        KeyCode::Enter if !empty => Some(walk.answer(&std::mem::take(answer))),
        KeyCode::Backspace => {
            answer.pop();
            None
        }
        KeyCode::Left | KeyCode::Up | KeyCode::PageUp if empty => Some(walk.answer("back")),
        KeyCode::Right | KeyCode::Down | KeyCode::PageDown if empty => Some(walk.answer("skip")),
        KeyCode::Char(c @ ('h' | '?' | 'q')) if empty => Some(walk.answer(&c.to_string())),
        // Space is how the learner got here: extra presses are not the start of an answer.
        KeyCode::Char(' ') if empty => None,
        KeyCode::Char(c) if answer.chars().count() < 80 => {
            answer.push(c);
            None
        }
        _ => None,
    }
}

/// How the last frame fitted: how far the current screen can scroll, and a page's height.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Layout {
    /// Largest useful scroll offset (0 when the screen fits).
    max_scroll: usize,
    /// Rows of the screen shown at once.
    page: usize,
}

/// The scroll offset a paging command moves to, or `None` when it should change the stage:
/// PageDown pages down until the end of the screen is shown, PageUp pages back to the top.
fn page(cmd: &Command, scroll: usize, layout: Layout) -> Option<usize> {
    let step = layout.page.saturating_sub(1).max(1);
    match cmd {
        Command::PageDown if scroll < layout.max_scroll => {
            Some((scroll + step).min(layout.max_scroll))
        }
        Command::PageUp if scroll > 0 => Some(scroll.saturating_sub(step)),
        _ => None,
    }
}

/// What a fitted screen body depends on, the scroll offset aside: while it stays the same, the
/// body is reused and only the window onto it moves.
#[derive(Clone, Debug, PartialEq, Eq)]
struct BodyKey {
    screen: Screen,
    help: bool,
    head: usize,
    batch: usize,
    width: usize,
    avail: usize,
    /// What a planted slip's comparison and hunt show.
    hunt: u8,
}

impl BodyKey {
    /// The key of what `walk` shows now in `avail` rows of `width` columns; `None` while a quiz
    /// question is asked (its lines change with every try, and cost nothing to make).
    fn of(walk: &Walk, width: usize, avail: usize) -> Option<BodyKey> {
        (!walk.asking()).then(|| BodyKey {
            screen: walk.nav.screen(),
            help: walk.nav.help,
            head: walk.nav.head,
            batch: walk.nav.batch,
            width,
            avail,
            hunt: walk.hunt_state(),
        })
    }
}

/// The frames drawn so far: the last fitted body and how the last frame laid it out.
#[derive(Default)]
struct Frames {
    /// The body last fitted, with what it was fitted for.
    body: (Option<BodyKey>, Vec<String>),
    /// How the last frame fitted.
    layout: Layout,
    /// What the last frame showed.
    drawn: Option<BodyKey>,
}

/// The lines above the body (the title, a message) and below it (a quiz question and the
/// answer being typed), for a window `width` wide.
fn chrome(
    walk: &Walk,
    answer: &str,
    message: Option<&str>,
    width: usize,
) -> (Vec<String>, Vec<String>) {
    let mut top: Vec<String> = Vec::new();
    if let Some(t) = walk.title() {
        top.push(t.to_string());
    }
    if let Some(m) = message {
        for line in m.lines() {
            top.extend(walk::wrap(line, width));
        }
        top.push(String::new());
    }
    let mut ask = Vec::new();
    if walk.asking() {
        ask.push(String::new());
        ask.extend(walk::wrap(&walk.prompt_line(false), width));
        ask.push(if answer.is_empty() {
            format!("> ▏   {}", walk.answer_placeholder())
        } else {
            format!("> {answer}▏")
        });
    }
    (top, ask)
}

/// Rows left for the body in a window `height` rows tall: the status line, the question's lines
/// and the top lines take theirs.
fn body_rows(height: usize, top: &[String], ask: &[String]) -> usize {
    height.saturating_sub(1 + ask.len() + top.len()).max(1)
}

impl Frames {
    /// True when the last frame drawn is what `walk` would show now, so its layout holds.
    fn shows(
        &self,
        walk: &Walk,
        answer: &str,
        message: Option<&str>,
        width: usize,
        height: usize,
    ) -> bool {
        let (top, ask) = chrome(walk, answer, message, width);
        let now = BodyKey::of(walk, width, body_rows(height, &top, &ask));
        now.is_some() && now == self.drawn
    }

    /// Draws the whole screen: title, message, the current screen fitted to the window, and
    /// the status (or prompt) line at the bottom. `width` and `height` are already clamped.
    #[allow(clippy::too_many_arguments)]
    fn draw(
        &mut self,
        out: &mut dyn Write,
        walk: &mut Walk,
        keys: &Keys,
        answer: &str,
        message: Option<&str>,
        width: usize,
        height: usize,
    ) -> io::Result<()> {
        let (top, ask) = chrome(walk, answer, message, width);
        let avail = body_rows(height, &top, &ask);
        let key = BodyKey::of(walk, width, avail);
        if key.is_none() || key != self.body.0 {
            self.body = (key.clone(), fitted_body(walk, width, avail));
        }
        let body = &self.body.1;
        let mut lines: Vec<&str> = top.iter().map(String::as_str).collect();
        let note;
        let scroll = walk.nav.scroll_mut();
        if body.len() <= avail {
            *scroll = 0;
            self.layout = Layout {
                max_scroll: 0,
                page: avail,
            };
            lines.extend(body.iter().map(String::as_str));
        } else {
            // Too tall even with smaller matrices: show a window of it, and say so on its last
            // row rather than in the status line, which keeps saying where we are.
            let shown = avail.saturating_sub(1).max(1);
            let overflow = body.len() - shown;
            self.layout = Layout {
                max_scroll: overflow,
                page: shown,
            };
            *scroll = (*scroll).min(overflow);
            let start = *scroll;
            lines.extend(body[start..start + shown].iter().map(String::as_str));
            note = scroll_note(start, overflow - start);
            lines.push(&note);
        }
        lines.extend(ask.iter().map(String::as_str));
        let status = match keys.prompt() {
            Some(p) => p,
            None if walk.asking() => walk.quiz_status(),
            None => walk.status(width),
        };

        // One write per frame: the terminal never shows half a screen.
        let mut buf: Vec<u8> = Vec::new();
        queue!(buf, terminal::BeginSynchronizedUpdate)?;
        let content_rows = height - 1;
        for row in 0..content_rows {
            queue!(buf, cursor::MoveTo(0, to_u16(row)))?;
            if let Some(line) = lines.get(row) {
                queue!(buf, Print(fit(line, width)), SetAttribute(Attribute::Reset))?;
            }
            queue!(buf, Clear(ClearType::UntilNewLine))?;
        }
        let status = fit(&status, width);
        let pad = width.saturating_sub(visible_width(&status));
        queue!(
            buf,
            cursor::MoveTo(0, to_u16(content_rows)),
            SetAttribute(Attribute::Reverse),
            Print(status),
            Print(" ".repeat(pad)),
            SetAttribute(Attribute::Reset),
            terminal::EndSynchronizedUpdate
        )?;
        out.write_all(&buf)?;
        out.flush()?;
        self.drawn = key;
        Ok(())
    }
}

/// A screen row as the terminal numbers it (heights are clamped far below `u16::MAX`).
fn to_u16(row: usize) -> u16 {
    u16::try_from(row).unwrap_or(u16::MAX)
}

/// The row under a screen that does not fit: `↓ 12 more lines (j) · ↑ 3 above (k)`.
fn scroll_note(above: usize, below: usize) -> String {
    let mut parts = Vec::new();
    if below > 0 {
        parts.push(format!("↓ {below} more lines (j)"));
    }
    if above > 0 {
        parts.push(format!("↑ {above} above (k)"));
    }
    format!("  ⋯ {}", parts.join(" · "))
}

/// Fewest matrix rows drawn to make a screen fit; below that the screen scrolls instead, since
/// a matrix cut to its first and last row says little.
const MIN_MATRIX_ROWS: usize = 6;

/// The current screen's lines for `avail` rows of `width` columns, with as many matrix rows as
/// fit (see [`fit_rows`]).
fn fitted_body(walk: &Walk, width: usize, avail: usize) -> Vec<String> {
    let base = walk.view();
    let render = |max_rows: usize| -> Vec<String> {
        let view = View {
            width,
            max_rows,
            ..base.clone()
        };
        walk.body(&view)
            .iter()
            .flat_map(|l| wrap_line(l, width))
            .collect()
    };
    fit_rows(render, base.max_rows, avail)
}

/// Draws a screen (`render(max_rows)` gives its lines) with as many matrix rows as fit in
/// `avail` lines, up to the `asked` ones, deciding the number with arithmetic rather than by
/// trying one row count after another.
///
/// A screen grows with the rows asked for only through its elided matrices, the ones with a
/// `⋮` row: each shows one more row for each row asked for, until it is shown whole (and then
/// loses its `⋮` row and stats line, so it grows less than that). So the screen is drawn with
/// [`MIN_MATRIX_ROWS`] first; its height and its number of `⋮` rows say how many more rows fit,
/// and it is drawn once more with those. A matrix never gets more rows than the window has,
/// however large `asked` is. A line broken at the window's width can make the second drawing a
/// little taller than the arithmetic says: then the count is lowered by the excess once more,
/// and if that is still too tall the first drawing is used. At most three drawings, usually one
/// or two, each with at most `avail` rows per matrix. Past [`MIN_MATRIX_ROWS`] a screen that
/// still does not fit scrolls.
fn fit_rows(
    mut render: impl FnMut(usize) -> Vec<String>,
    asked: usize,
    avail: usize,
) -> Vec<String> {
    let cap = asked.max(2).min(avail.max(MIN_MATRIX_ROWS));
    let lo = cap.min(MIN_MATRIX_ROWS);
    let small = render(lo);
    let growing = elided_rows(&small);
    if lo == cap || growing == 0 || small.len() >= avail {
        return small;
    }
    let rows = cap.min(lo + (avail - small.len()) / growing);
    if rows == lo {
        return small;
    }
    let body = render(rows);
    if body.len() <= avail {
        return body;
    }
    let fewer = rows.saturating_sub((body.len() - avail).div_ceil(growing));
    if fewer > lo {
        let body = render(fewer);
        if body.len() <= avail {
            return body;
        }
    }
    small
}

/// How many lines are the `⋮` row of an elided matrix (its first visible character, after
/// colour codes and spaces).
fn elided_rows(lines: &[String]) -> usize {
    lines
        .iter()
        .filter(|l| strip_ansi(l).trim_start().starts_with('⋮'))
        .count()
}

/// Breaks a plain line wider than the window at spaces, continuing under its indent plus
/// four columns, so nothing (like the shape after an arrow) is lost; runs of spaces that align
/// columns stay on the first line. Coloured lines come from the renderer's tables, which are
/// drawn to the window width; they are cut by [`fit`], not broken.
pub fn wrap_line(line: &str, width: usize) -> Vec<String> {
    if visible_width(line) <= width || line.contains('\x1b') {
        return vec![line.to_string()];
    }
    let indent = line.len() - line.trim_start_matches(' ').len();
    let cont = " ".repeat((indent + 4).min(width / 2));
    wrap_paragraph(line, width, &cont)
}

/// Cuts a line (which may hold ANSI colour codes) to `width` columns, ending in `…` when cut,
/// so no line ever wraps and breaks the in-place redraw.
pub fn fit(s: &str, width: usize) -> String {
    if visible_width(s) <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut w = 0;
    let mut chars = s.chars();
    let mut coloured = false;
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            let rest = chars.as_str();
            skip_escape(&mut chars);
            out.push(c);
            out.push_str(&rest[..rest.len() - chars.as_str().len()]);
            coloured = true;
            continue;
        }
        let cw = c.width().unwrap_or(0);
        if w + cw + 1 > width {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    if coloured {
        out.push_str("\x1b[0m");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_counts_columns_not_bytes_and_skips_colour_codes() {
        assert_eq!(fit("stage · step", 20), "stage · step");
        assert_eq!(fit("abcdefghij", 5), "abcd…");
        assert_eq!(visible_width("\x1b[31mred\x1b[0m →"), 5);
        let cut = fit("\x1b[31mabcdef\x1b[0m", 4);
        assert_eq!(cut, "\x1b[31mabc…\x1b[0m");
        assert_eq!(visible_width(&cut), 4);
        assert_eq!(visible_width(&fit("── step 1/3 ──────────", 8)), 8);
    }

    #[test]
    fn paging_scrolls_a_tall_screen_before_changing_stage() {
        // 30 rows of content, 10 shown: offsets 0..=20.
        let tall = Layout {
            max_scroll: 20,
            page: 10,
        };
        // A page keeps one row of the last view for context.
        assert_eq!(page(&Command::PageDown, 0, tall), Some(9));
        assert_eq!(page(&Command::PageDown, 18, tall), Some(20));
        assert_eq!(
            page(&Command::PageDown, 20, tall),
            None,
            "at the end: next stage"
        );
        assert_eq!(page(&Command::PageUp, 20, tall), Some(11));
        assert_eq!(page(&Command::PageUp, 5, tall), Some(0));
        assert_eq!(
            page(&Command::PageUp, 0, tall),
            None,
            "at the top: previous stage"
        );
        // Strict moves never scroll; a screen that fits never scrolls.
        assert_eq!(page(&Command::Next, 0, tall), None);
        assert_eq!(page(&Command::Back, 5, tall), None);
        let fits = Layout {
            max_scroll: 0,
            page: 23,
        };
        assert_eq!(page(&Command::PageDown, 0, fits), None);
    }

    /// A screen like the renderer draws: `fixed` lines, then per matrix a header, its rows
    /// (numpy-style: `max_rows` of them and a `⋮` row when it has more) and, when elided, a
    /// stats line.
    fn screen(fixed: usize, matrices: &[usize], max_rows: usize) -> Vec<String> {
        let mut lines: Vec<String> = (0..fixed).map(|i| format!("text {i}")).collect();
        for &n in matrices {
            lines.push(" pos │ 0 │ 1".into());
            let plan = crate::render::matrix::plan(n, max_rows);
            for r in &plan {
                lines.push(match r {
                    Some(i) => format!(" {i}   │ 0.1 │ 0.2"),
                    None => " ⋮   │ ⋮ │ ⋮".into(),
                });
            }
            if plan.contains(&None) {
                lines.push(format!("  elided; all {n}×2 values"));
            }
        }
        lines
    }

    /// The most matrix rows (from 6 up to `asked`) with which the screen fits, by trying
    /// every count: what [`fit_rows`] must find without trying them.
    fn best_by_search(fixed: usize, matrices: &[usize], asked: usize, avail: usize) -> usize {
        (MIN_MATRIX_ROWS.min(asked)..=asked.min(200))
            .rev()
            .find(|&m| screen(fixed, matrices, m).len() <= avail)
            .unwrap_or(MIN_MATRIX_ROWS.min(asked))
    }

    #[test]
    fn matrix_rows_are_fitted_by_arithmetic_in_at_most_three_drawings() {
        for matrices in [vec![40], vec![40, 40], vec![4096, 4096], vec![5, 40]] {
            for asked in [2, 8, 30, 1000, usize::MAX] {
                for avail in [5, 12, 20, 23, 40, 57, 100] {
                    let mut drawn = Vec::new();
                    let body = fit_rows(
                        |m| {
                            drawn.push(m);
                            screen(10, &matrices, m)
                        },
                        asked,
                        avail,
                    );
                    let case = format!("{matrices:?} asked {asked} in {avail}: drew {drawn:?}");
                    assert!(drawn.len() <= 3, "{case}");
                    assert!(drawn.iter().all(|&m| m <= avail.max(6)), "{case}");
                    let best = best_by_search(10, &matrices, asked, avail);
                    let want = screen(10, &matrices, best);
                    if matrices.iter().all(|&n| n == matrices[0]) {
                        // Matrices that grow alike: the arithmetic finds the best count.
                        assert_eq!(body, want, "{case}");
                    } else {
                        // One stops growing early: never too tall, perhaps a little short.
                        assert!(body.len() <= avail.max(want.len()), "{case}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_screen_without_elided_matrices_is_drawn_once() {
        let mut drawn = 0;
        let body = fit_rows(
            |m| {
                drawn += 1;
                screen(3, &[5], m)
            },
            usize::MAX,
            50,
        );
        assert_eq!(drawn, 1);
        assert_eq!(body, screen(3, &[5], 5));
    }

    #[test]
    fn a_real_stage_is_fitted_like_the_search_finds() {
        use crate::presentation::Presentation;
        use crate::stepper::Options;
        let cfg = crate::config::ConfigSpec {
            hidden_size: Some(16),
            num_attention_heads: Some(2),
            num_key_value_heads: Some(1),
            steps: Some(vec![40]),
            ..crate::config::ConfigSpec::default()
        }
        .resolve()
        .unwrap();
        let trace = crate::forward::trace(&cfg, &mut crate::numeric::Numeric::new(1));
        let pres = Presentation::default();
        let view = View {
            max_rows: usize::MAX,
            ..View::default()
        };
        let mut walk = Walk::new(&trace, &pres, &view, &Options::default());
        walk.apply(&Command::StageId(crate::trace::StageId::Softmax))
            .unwrap();
        let width = 100;
        let render = |m: usize| {
            let v = View {
                width,
                max_rows: m,
                ..walk.view()
            };
            walk.body(&v)
                .iter()
                .flat_map(|l| wrap_line(l, width))
                .collect::<Vec<_>>()
        };
        for avail in [30, 45, 60, 90] {
            let best = (MIN_MATRIX_ROWS..=avail)
                .rev()
                .find(|&m| render(m).len() <= avail)
                .unwrap_or(MIN_MATRIX_ROWS);
            assert_eq!(
                fitted_body(&walk, width, avail),
                render(best),
                "in {avail} rows"
            );
        }
    }

    #[test]
    fn long_plain_lines_break_at_spaces_under_their_indent() {
        assert_eq!(
            wrap_line("  xq_t [a, b] → [c, d]", 14),
            vec!["  xq_t [a, b]", "      → [c, d]"]
        );
        assert_eq!(wrap_line("  xq_t [a, b] → [c, d]", 13).len(), 3);
        assert_eq!(wrap_line("short", 14), vec!["short"]);
        assert_eq!(
            wrap_line("  x     [a] → [b, c]", 14),
            vec!["  x     [a] →", "      [b, c]"]
        );
        // Colour means a table: cut by `fit`, never broken.
        assert_eq!(wrap_line("\x1b[1mx\x1b[0m yyyyyyyyyyyyyyyy", 5).len(), 1);
    }
}
