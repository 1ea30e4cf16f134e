//! The raw-mode stepper: one key at a time, each screen redrawn in place on the alternate
//! screen, fitted to the window and redrawn when it is resized.
//!
//! The terminal is always given back as it was (cooked mode, cursor shown, main screen): by a
//! guard dropped on every way out of [`run`], by a panic hook that restores before the panic
//! message is printed, and on SIGTERM/SIGHUP/SIGINT, which end the loop like `q`. Ctrl-C itself
//! arrives as a key in raw mode and quits like `q`; a read error on the terminal (it went away)
//! ends the loop too.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::style::{Attribute, Print, SetAttribute};
use crossterm::terminal::{self, Clear, ClearType};
use crossterm::{cursor, execute, queue};

use super::keys::{self, Action, Keys};
use super::nav::Command;
use super::walk::{self, Feedback, Walk};
use crate::render::{View, skip_escape, visible_width};
use unicode_width::UnicodeWidthChar;

/// True while this process has the terminal in raw mode (read by the panic hook).
static RAW: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// Puts the terminal back: main screen, cursor shown, cooked mode. Safe to call twice.
fn restore() {
    if RAW.swap(false, Ordering::SeqCst) {
        let mut out = io::stdout();
        let _ = execute!(
            out,
            SetAttribute(Attribute::Reset),
            cursor::Show,
            terminal::LeaveAlternateScreen
        );
        let _ = terminal::disable_raw_mode();
    }
}

/// Raw mode for as long as it lives.
struct Guard {
    signals: Vec<signal_hook::SigId>,
    stop: Arc<AtomicBool>,
}

impl Guard {
    fn enter() -> Result<Guard> {
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                restore();
                previous(info);
            }));
        });
        let stop = Arc::new(AtomicBool::new(false));
        let mut signals = Vec::new();
        for sig in [
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGHUP,
            signal_hook::consts::SIGINT,
        ] {
            signals.push(signal_hook::flag::register(sig, Arc::clone(&stop))?);
        }
        let guard = Guard { signals, stop };
        terminal::enable_raw_mode()?;
        RAW.store(true, Ordering::SeqCst);
        execute!(io::stdout(), terminal::EnterAlternateScreen, cursor::Hide)?;
        Ok(guard)
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
        // The process is about to finish; signal-hook leaves these signals ignored rather than
        // back at their defaults, which only matters for the few moments before exit.
        for id in self.signals.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Terminal {
    /// Input is waiting (or a signal interrupted the wait).
    Ready,
    /// Nothing arrived within the timeout.
    Quiet,
    /// The terminal hung up: nobody is there any more.
    Gone,
}

/// Waits up to `timeout_ms` for standard input (the terminal crossterm reads from in raw mode)
/// to have input or to hang up.
fn wait_for_terminal(timeout_ms: i32) -> Terminal {
    let mut fds = [libc::pollfd {
        fd: libc::STDIN_FILENO,
        events: libc::POLLIN,
        revents: 0,
    }];
    // SAFETY: `fds` is a valid array of one pollfd for the duration of the call.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, timeout_ms) };
    if n > 0 && fds[0].revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
        Terminal::Gone
    } else if n == 0 {
        Terminal::Quiet
    } else {
        Terminal::Ready
    }
}

/// Set this variable to make `!` panic inside the loop: lets the tests check that a panic
/// gives the terminal back.
const PANIC_KEY_VAR: &str = "ATTNSTEP_TEST_PANIC_KEY";

/// Runs the walk on the terminal until `q`, Esc, Ctrl-C, a signal, or the terminal going away.
pub fn run(out: &mut dyn Write, walk: &mut Walk) -> Result<()> {
    let panic_key = std::env::var_os(PANIC_KEY_VAR).is_some();
    let guard = Guard::enter()?;
    let mut keys = Keys::default();
    let mut answer = String::new();
    let mut message: Option<String> = None;
    let (mut cols, mut rows) = terminal::size().unwrap_or((80, 24));
    let mut dirty = true;
    let mut layout = Layout::default();
    while !guard.stopped() {
        if dirty {
            layout = draw(out, walk, &keys, &answer, message.as_deref(), cols, rows)?;
            dirty = false;
        }
        // A hung-up terminal (tmux or ssh gone) makes crossterm's poll spin on an endless EOF,
        // so we watch the terminal ourselves: stop when it hangs up, and wait for input in
        // short slices so a signal ends the loop.
        if wait_for_terminal(0) == Terminal::Gone {
            break;
        }
        match event::poll(Duration::ZERO) {
            Ok(true) => {}
            Ok(false) => {
                if wait_for_terminal(200) == Terminal::Gone {
                    break;
                }
                continue;
            }
            Err(_) => break,
        }
        let key = match event::read() {
            Err(_) => break,
            Ok(Event::Resize(c, r)) => {
                (cols, rows) = (c, r);
                dirty = true;
                continue;
            }
            Ok(Event::Key(k)) if k.kind != KeyEventKind::Release => k,
            Ok(_) => continue,
        };
        dirty = true;
        if panic_key && key.code == KeyCode::Char('!') {
            panic!("panic requested by {PANIC_KEY_VAR}");
        }
        if walk.asking() {
            match quiz_key(walk, key, &mut answer) {
                Some(Feedback::Quit) => break,
                Some(fb) => message = Some(fb.message()).filter(|m| !m.is_empty()),
                None => {}
            }
            continue;
        }
        match keys.feed(key) {
            Action::Command(Command::Quit) => break,
            Action::Command(cmd) => {
                message = match page(&cmd, walk.nav.scroll, layout) {
                    Some(scroll) => {
                        walk.nav.scroll = scroll;
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
            }
            Action::Editing | Action::Ignored => {}
        }
    }
    drop(guard);
    if let Some(score) = walk.score().filter(|s| s.asked > 0) {
        for l in walk::score_lines(score, usize::MAX) {
            writeln!(out, "{l}")?;
        }
    }
    out.flush()?;
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

/// Draws the whole screen: title, message, the current screen fitted to the window, and the
/// status (or prompt) line at the bottom.
fn draw(
    out: &mut dyn Write,
    walk: &mut Walk,
    keys: &Keys,
    answer: &str,
    message: Option<&str>,
    cols: u16,
    rows: u16,
) -> io::Result<Layout> {
    let width = usize::from(cols.max(20));
    let height = usize::from(rows.max(3));
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
    let asking = walk.asking();
    // The last row is the status line; a question also needs its own lines and the input row.
    let ask: Vec<String> = if asking {
        let mut a = vec![String::new()];
        a.extend(walk::wrap(&walk.prompt_line(false), width));
        a.push(if answer.is_empty() {
            "> ▏   (type the sizes, like 2 8 5 64)".to_string()
        } else {
            format!("> {answer}▏")
        });
        a
    } else {
        Vec::new()
    };
    let reserved = 1 + ask.len();
    let avail = height.saturating_sub(reserved + top.len()).max(1);
    let body = fitted_body(walk, width, avail);
    let mut lines: Vec<String> = top;
    let mut layout = Layout {
        max_scroll: 0,
        page: avail,
    };
    if body.len() <= avail {
        walk.nav.scroll = 0;
        lines.extend(body);
    } else {
        // Too tall even with smaller matrices: show a window of it, and say so on its last
        // row rather than in the status line, which keeps saying where we are.
        let shown = avail.saturating_sub(1).max(1);
        let overflow = body.len() - shown;
        layout = Layout {
            max_scroll: overflow,
            page: shown,
        };
        walk.nav.scroll = walk.nav.scroll.min(overflow);
        let start = walk.nav.scroll;
        let below = overflow - start;
        lines.extend(body.into_iter().skip(start).take(shown));
        lines.push(scroll_note(start, below));
    }
    lines.extend(ask);
    let status = match keys.prompt() {
        Some(p) => p,
        None if asking => walk.quiz_status(),
        None => walk.status(width),
    };

    // One write per frame: the terminal never shows half a screen.
    let mut buf: Vec<u8> = Vec::new();
    queue!(buf, terminal::BeginSynchronizedUpdate)?;
    let content_rows = height - 1;
    for row in 0..content_rows {
        queue!(buf, cursor::MoveTo(0, row as u16))?;
        if let Some(line) = lines.get(row) {
            queue!(buf, Print(fit(line, width)), SetAttribute(Attribute::Reset))?;
        }
        queue!(buf, Clear(ClearType::UntilNewLine))?;
    }
    let status = fit(&status, width);
    let pad = width.saturating_sub(visible_width(&status));
    queue!(
        buf,
        cursor::MoveTo(0, content_rows as u16),
        SetAttribute(Attribute::Reverse),
        Print(status),
        Print(" ".repeat(pad)),
        SetAttribute(Attribute::Reset),
        terminal::EndSynchronizedUpdate
    )?;
    out.write_all(&buf)?;
    out.flush()?;
    Ok(layout)
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

/// The current screen's lines, drawing matrices with fewer rows until it fits `avail` rows
/// (down to [`MIN_MATRIX_ROWS`]; past that the screen scrolls).
fn fitted_body(walk: &Walk, width: usize, avail: usize) -> Vec<String> {
    let base = walk.view();
    let mut max_rows = base.max_rows;
    loop {
        let view = View {
            width,
            max_rows,
            ..base.clone()
        };
        let body: Vec<String> = walk
            .body(&view)
            .iter()
            .flat_map(|l| wrap_line(l, width))
            .collect();
        if body.len() <= avail || max_rows <= MIN_MATRIX_ROWS {
            return body;
        }
        max_rows -= 1;
    }
}

/// Breaks a plain line wider than the window at spaces, continuing under its indent plus
/// four columns, so nothing (like the shape after an arrow) is lost. Coloured lines come from
/// the renderer's tables, which are drawn to the window width; they are cut, not broken.
pub fn wrap_line(line: &str, width: usize) -> Vec<String> {
    if visible_width(line) <= width || line.contains('\x1b') {
        return vec![line.to_string()];
    }
    let indent = line.chars().take_while(|c| *c == ' ').count();
    let cont = " ".repeat((indent + 4).min(width / 2));
    let mut out = Vec::new();
    let mut cur = " ".repeat(indent);
    // Pieces are words with the spaces after them, so runs of spaces (column alignment)
    // survive on the first line.
    for piece in line[indent..].split_inclusive(' ') {
        let word = piece.trim_end_matches(' ');
        let fresh = cur.trim().is_empty();
        if !fresh && visible_width(&cur) + visible_width(word) > width {
            out.push(cur.trim_end().to_string());
            cur = cont.clone();
        }
        if word.is_empty() && cur.trim().is_empty() {
            continue;
        }
        cur.push_str(piece);
    }
    out.push(cur.trim_end().to_string());
    out
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
