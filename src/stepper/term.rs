//! The raw-mode stepper: one key at a time, each screen redrawn in place on the alternate
//! screen, fitted to the window and redrawn when it is resized.
//!
//! The terminal itself (raw mode, signals, suspend, giving it back on every way out) is
//! [`session`]'s business, and fitting a screen to the window [`super::fit`]'s. Here: the
//! loop, which handles every key already waiting before it draws once (a paste of 3000 keys is
//! one redraw, not 3000), and the drawing, which keeps the fitted screen until something other
//! than the scroll offset changes, so scrolling and paging through a stage render nothing.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use anyhow::Result;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::style::{Attribute, Print, SetAttribute};
use crossterm::terminal::{self, Clear, ClearType};
use crossterm::{cursor, queue};

use super::fit::{Layout, fit, fitted_body, page, scroll_note};
use super::keys::{self, Action, Keys};
use super::nav::{Command, Screen};
use super::screen::{self, Feedback};
use super::session::{self, Input, Request, Session};
use super::walk::Walk;
use crate::render::visible_width;
use crate::terminal::window_size;

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
    let (cols, rows) = window_now();
    let mut ui = Ui {
        keys: Keys::default(),
        answer: String::new(),
        message: None,
        cols,
        rows,
        frames: Frames::default(),
    };
    // Since when a redraw has been due (`None`: the screen is up to date).
    let mut due: Option<Instant> = Some(Instant::now());
    let signal = loop {
        match session.request() {
            Some(Request::Quit(sig)) => break Some(sig),
            Some(Request::Suspend) => {
                session.suspend()?;
                (ui.cols, ui.rows) = window_now();
                due = Some(Instant::now());
                continue;
            }
            Some(Request::Resume) => {
                session.resume()?;
                (ui.cols, ui.rows) = window_now();
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
                    ui.draw(out, walk)?;
                }
                continue;
            }
            Input::Event(e) => e,
        };
        due.get_or_insert_with(Instant::now);
        let key = match event {
            Event::Resize(c, r) => {
                (ui.cols, ui.rows) = window_size(usize::from(c), usize::from(r));
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
            (ui.cols, ui.rows) = window_now();
            continue;
        }
        if ui.key(out, walk, key)? {
            break None;
        }
    };
    drop(session);
    if let Some(score) = walk.score().filter(|s| s.asked > 0) {
        for l in screen::score_lines(score, usize::MAX) {
            writeln!(out, "{l}")?;
        }
    }
    out.flush()?;
    if let Some(sig) = signal {
        session::die_of(sig);
    }
    Ok(())
}

/// What the loop keeps between keys: the key reader, the answer being typed, the message to
/// show, the window's size and the frames drawn.
struct Ui {
    keys: Keys,
    answer: String,
    message: Option<String>,
    cols: usize,
    rows: usize,
    frames: Frames,
}

impl Ui {
    fn draw(&mut self, out: &mut dyn Write, walk: &mut Walk) -> io::Result<()> {
        let message = self.message.as_deref();
        self.frames.draw(
            out,
            walk,
            &self.keys,
            &self.answer,
            message,
            self.cols,
            self.rows,
        )
    }

    /// Handles one key; true when it ends the walk.
    fn key(&mut self, out: &mut dyn Write, walk: &mut Walk, key: KeyEvent) -> io::Result<bool> {
        if walk.asking() {
            match quiz_key(walk, key, &mut self.answer) {
                Some(Feedback::Quit) => return Ok(true),
                Some(fb) => self.message = Some(fb.message()).filter(|m| !m.is_empty()),
                None => {}
            }
            return Ok(false);
        }
        match self.keys.feed(key) {
            Action::Command(Command::Quit) => return Ok(true),
            Action::Command(cmd) => {
                let message = self.message.as_deref();
                if matches!(cmd, Command::PageDown | Command::PageUp)
                    && !self
                        .frames
                        .shows(walk, &self.answer, message, self.cols, self.rows)
                {
                    // Paging needs to know how tall this screen is: draw it first.
                    self.draw(out, walk)?;
                }
                let scroll = *walk.nav.scroll_mut();
                self.message = match page(&cmd, scroll, self.frames.layout) {
                    Some(scroll) => {
                        *walk.nav.scroll_mut() = scroll;
                        None
                    }
                    None => walk.apply(&cmd).err(),
                };
            }
            Action::Refused(why) => self.message = Some(why),
            Action::Redraw => {
                let mut buf = Vec::new();
                queue!(buf, Clear(ClearType::All))?;
                out.write_all(&buf)?;
                out.flush()?;
            }
            Action::Editing | Action::Ignored => {}
        }
        Ok(false)
    }
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

/// What a fitted screen body depends on, the scroll offset aside: while it stays the same, the
/// body is reused and only the window onto it moves.
#[derive(Clone, Debug, PartialEq, Eq)]
struct BodyKey {
    screen: Screen,
    variant: usize,
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
            variant: walk.variant(),
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
            top.extend(screen::wrap(line, width));
        }
        top.push(String::new());
    }
    let mut ask = Vec::new();
    if walk.asking() {
        ask.push(String::new());
        ask.extend(screen::wrap(&walk.prompt_line(false), width));
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
