//! Keys to commands, for the raw-mode stepper. Pure: takes crossterm key events, returns what
//! they mean, so the whole key map is tested without a terminal.
//!
//! Presentation clickers send PageDown/PageUp or the arrow keys. PageDown, Space and ↓ (and
//! PageUp, ↑) page through a stage taller than the window before moving to the next (previous)
//! one, so a clicker alone reaches every line; Enter, →, n (and ←, b, p, Backspace) move at
//! once. Digits start a stage number (finished by Enter), `:` opens a short command line that
//! takes anything line mode takes (`:softmax`, `:step 2`, `:head 3`, `:variant gqa`); `v`
//! switches to the next variant of a lesson that has several.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::nav::Command;
use super::typed;

/// What the key reader is collecting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Every key is a command by itself.
    #[default]
    Normal,
    /// Digits of a stage number, waiting for Enter.
    Number(String),
    /// A command after `:`, waiting for Enter.
    Line(String),
}

/// What a key did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Command(Command),
    /// The partly typed number or command line changed: redraw its prompt.
    Editing,
    /// Redraw everything (Ctrl-L).
    Redraw,
    /// A typed command could not be read; the text says why.
    Refused(String),
    /// The key means nothing here.
    Ignored,
}

/// Turns key presses into [`Action`]s, remembering a number or command being typed.
#[derive(Clone, Debug, Default)]
pub struct Keys {
    pub mode: Mode,
}

/// Ctrl-C, which raw mode delivers as a key rather than a signal.
pub fn is_interrupt(key: &KeyEvent) -> bool {
    key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c')
}

/// Ctrl-Z, which raw mode delivers as a key rather than SIGTSTP: the stepper suspends itself.
pub fn is_suspend(key: &KeyEvent) -> bool {
    key.kind != KeyEventKind::Release
        && key.modifiers.contains(KeyModifiers::CONTROL)
        && key.code == KeyCode::Char('z')
}

impl Keys {
    /// The prompt to show for what is being typed, if anything.
    pub fn prompt(&self) -> Option<String> {
        match &self.mode {
            Mode::Normal => None,
            Mode::Number(n) => Some(format!("go to stage {n}▏ (Enter to go, Esc to cancel)")),
            Mode::Line(t) => Some(format!(":{t}▏")),
        }
    }

    pub fn feed(&mut self, key: KeyEvent) -> Action {
        if key.kind == KeyEventKind::Release {
            return Action::Ignored;
        }
        if is_interrupt(&key) {
            self.mode = Mode::Normal;
            return Action::Command(Command::Quit);
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) {
            return match key.code {
                KeyCode::Char('l') => Action::Redraw,
                _ => Action::Ignored,
            };
        }
        match std::mem::take(&mut self.mode) {
            Mode::Normal => self.normal(key),
            Mode::Number(mut digits) => match key.code {
                KeyCode::Char(c) if c.is_ascii_digit() => {
                    if digits.len() < 6 {
                        digits.push(c);
                    }
                    self.mode = Mode::Number(digits);
                    Action::Editing
                }
                KeyCode::Backspace => {
                    digits.pop();
                    if !digits.is_empty() {
                        self.mode = Mode::Number(digits);
                    }
                    Action::Editing
                }
                KeyCode::Enter => match digits.parse() {
                    Ok(n) => Action::Command(Command::Stage(n)),
                    Err(_) => Action::Editing,
                },
                KeyCode::Esc => Action::Editing,
                // Anything else abandons the number and acts as usual, so a stray digit
                // never leaves the clicker dead.
                _ => self.normal(key),
            },
            Mode::Line(mut text) => match key.code {
                KeyCode::Char(c) => {
                    text.push(c);
                    self.mode = Mode::Line(text);
                    Action::Editing
                }
                KeyCode::Backspace => {
                    if text.pop().is_some() {
                        self.mode = Mode::Line(text);
                    }
                    Action::Editing
                }
                KeyCode::Enter => match typed::parse_jump(&text) {
                    Ok(Some(cmd)) => Action::Command(cmd),
                    Ok(None) => Action::Editing,
                    Err(why) => Action::Refused(why),
                },
                KeyCode::Esc => Action::Editing,
                _ => {
                    self.mode = Mode::Line(text);
                    Action::Ignored
                }
            },
        }
    }

    fn normal(&mut self, key: KeyEvent) -> Action {
        use Command::*;
        let cmd = match key.code {
            // The keys a clicker or a reader's thumb uses page through a tall stage first.
            KeyCode::Char(' ') | KeyCode::Down | KeyCode::PageDown => PageDown,
            KeyCode::Up | KeyCode::PageUp => PageUp,
            KeyCode::Enter | KeyCode::Right | KeyCode::Char('n') => Next,
            KeyCode::Left | KeyCode::Backspace | KeyCode::Char('b') | KeyCode::Char('p') => Back,
            KeyCode::Home | KeyCode::Char('g') => First,
            KeyCode::End | KeyCode::Char('G') => Last,
            KeyCode::Char('[') | KeyCode::Char('h') => PrevHead,
            KeyCode::Char(']') | KeyCode::Char('l') => NextHead,
            KeyCode::Char('B') => NextBatch,
            KeyCode::Char('v') => NextVariant,
            KeyCode::Char('j') => ScrollDown,
            KeyCode::Char('k') => ScrollUp,
            KeyCode::Char('?') => ToggleHelp,
            KeyCode::Char('d') => ToggleDiff,
            KeyCode::Char('q') | KeyCode::Esc => Quit,
            KeyCode::Char(c) if c.is_ascii_digit() => {
                self.mode = Mode::Number(c.to_string());
                return Action::Editing;
            }
            KeyCode::Char(':') => {
                self.mode = Mode::Line(String::new());
                return Action::Editing;
            }
            _ => return Action::Ignored,
        };
        Action::Command(cmd)
    }
}

/// Every key, for the help overlay: (keys, what they do).
pub const HELP: &[(&str, &str)] = &[
    ("Space ↓ PgDn", "page down a tall stage, then next stage"),
    ("↑ PgUp", "page up a scrolled stage, then previous stage"),
    ("Enter → n", "next stage"),
    ("← b p Backspace", "previous stage"),
    ("Home g / End G", "first / last screen"),
    ("5 Enter", "go to stage 5 of this step"),
    (
        ":softmax Enter",
        "go to a stage by id (also :step 2, :head 3, :batch 1, :variant gqa)",
    ),
    (
        "[ ] or h l",
        "previous / next head in the matrices (heads count from 0)",
    ),
    ("B", "next batch row"),
    ("v", "next variant (lessons with variants)"),
    ("j k", "scroll a tall stage by one line"),
    ("d", "planted slip: this stage beside MiniMind's run"),
    ("Ctrl-L", "redraw"),
    ("Ctrl-Z", "suspend (fg comes back)"),
    ("?", "show / hide this help"),
    ("q Esc Ctrl-C", "quit"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventState;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ch(c: char) -> KeyEvent {
        key(KeyCode::Char(c))
    }

    fn cmd(keys: &mut Keys, k: KeyEvent) -> Command {
        match keys.feed(k) {
            Action::Command(c) => c,
            other => panic!("{k:?} gave {other:?}"),
        }
    }

    #[test]
    fn clicker_and_keyboard_keys_step_forward_and_back() {
        let mut keys = Keys::default();
        for k in [key(KeyCode::Enter), key(KeyCode::Right), ch('n')] {
            assert_eq!(cmd(&mut keys, k), Command::Next, "{k:?}");
        }
        for k in [ch(' '), key(KeyCode::Down), key(KeyCode::PageDown)] {
            assert_eq!(cmd(&mut keys, k), Command::PageDown, "{k:?}");
        }
        for k in [
            key(KeyCode::Left),
            key(KeyCode::Backspace),
            ch('b'),
            ch('p'),
        ] {
            assert_eq!(cmd(&mut keys, k), Command::Back, "{k:?}");
        }
        for k in [key(KeyCode::Up), key(KeyCode::PageUp)] {
            assert_eq!(cmd(&mut keys, k), Command::PageUp, "{k:?}");
        }
    }

    #[test]
    fn first_last_heads_batch_help_quit() {
        let mut keys = Keys::default();
        assert_eq!(cmd(&mut keys, key(KeyCode::Home)), Command::First);
        assert_eq!(cmd(&mut keys, ch('g')), Command::First);
        assert_eq!(cmd(&mut keys, key(KeyCode::End)), Command::Last);
        // Shift+g arrives as an upper-case char with SHIFT set.
        let shift_g = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(cmd(&mut keys, shift_g), Command::Last);
        assert_eq!(cmd(&mut keys, ch('[')), Command::PrevHead);
        assert_eq!(cmd(&mut keys, ch('h')), Command::PrevHead);
        assert_eq!(cmd(&mut keys, ch(']')), Command::NextHead);
        assert_eq!(cmd(&mut keys, ch('l')), Command::NextHead);
        let shift_b = KeyEvent::new(KeyCode::Char('B'), KeyModifiers::SHIFT);
        assert_eq!(cmd(&mut keys, shift_b), Command::NextBatch);
        assert_eq!(cmd(&mut keys, ch('v')), Command::NextVariant);
        assert_eq!(cmd(&mut keys, ch('?')), Command::ToggleHelp);
        assert_eq!(cmd(&mut keys, ch('q')), Command::Quit);
        assert_eq!(cmd(&mut keys, key(KeyCode::Esc)), Command::Quit);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(cmd(&mut keys, ctrl_c), Command::Quit);
    }

    #[test]
    fn a_number_then_enter_jumps_to_that_stage() {
        let mut keys = Keys::default();
        assert_eq!(keys.feed(ch('1')), Action::Editing);
        assert_eq!(keys.feed(ch('2')), Action::Editing);
        assert!(keys.prompt().unwrap().contains("go to stage 12"));
        assert_eq!(keys.feed(key(KeyCode::Backspace)), Action::Editing);
        assert_eq!(
            cmd(&mut keys, key(KeyCode::Enter)),
            Command::Stage(1),
            "backspace removed the 2"
        );
        assert_eq!(keys.mode, Mode::Normal);
        // Enter on its own is Next again.
        assert_eq!(cmd(&mut keys, key(KeyCode::Enter)), Command::Next);
    }

    #[test]
    fn esc_cancels_a_number_without_quitting_and_other_keys_act_normally() {
        let mut keys = Keys::default();
        keys.feed(ch('3'));
        assert_eq!(keys.feed(key(KeyCode::Esc)), Action::Editing);
        assert_eq!(keys.mode, Mode::Normal);
        keys.feed(ch('3'));
        assert_eq!(cmd(&mut keys, key(KeyCode::PageDown)), Command::PageDown);
        assert_eq!(keys.mode, Mode::Normal);
        // Backspace over the only digit leaves number entry.
        keys.feed(ch('4'));
        keys.feed(key(KeyCode::Backspace));
        assert_eq!(keys.mode, Mode::Normal);
    }

    #[test]
    fn colon_reads_a_stage_id_or_a_line_command() {
        let mut keys = Keys::default();
        assert_eq!(keys.feed(ch(':')), Action::Editing);
        for c in "softmax".chars() {
            keys.feed(ch(c));
        }
        assert_eq!(keys.prompt().unwrap(), ":softmax▏");
        assert_eq!(
            cmd(&mut keys, key(KeyCode::Enter)),
            Command::StageId(crate::trace::StageId::Softmax)
        );
        keys.feed(ch(':'));
        for c in "step 2".chars() {
            keys.feed(ch(c));
        }
        assert_eq!(cmd(&mut keys, key(KeyCode::Enter)), Command::Step(2));
        keys.feed(ch(':'));
        for c in "sofmax".chars() {
            keys.feed(ch(c));
        }
        match keys.feed(key(KeyCode::Enter)) {
            Action::Refused(why) => assert!(why.contains("sofmax"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(keys.mode, Mode::Normal);
        // q inside the command line is text, not quit.
        keys.feed(ch(':'));
        assert_eq!(keys.feed(ch('q')), Action::Editing);
        assert_eq!(keys.feed(key(KeyCode::Esc)), Action::Editing);
        assert_eq!(keys.mode, Mode::Normal);
    }

    #[test]
    fn releases_and_unknown_keys_are_ignored() {
        let mut keys = Keys::default();
        let release = KeyEvent {
            code: KeyCode::Char(' '),
            modifiers: KeyModifiers::NONE,
            kind: KeyEventKind::Release,
            state: KeyEventState::NONE,
        };
        assert_eq!(keys.feed(release), Action::Ignored);
        assert_eq!(keys.feed(ch('z')), Action::Ignored);
        assert_eq!(keys.feed(key(KeyCode::F(5))), Action::Ignored);
        let ctrl_l = KeyEvent::new(KeyCode::Char('l'), KeyModifiers::CONTROL);
        assert_eq!(keys.feed(ctrl_l), Action::Redraw);
    }

    #[test]
    fn ctrl_z_is_a_suspend_and_z_is_not() {
        assert!(is_suspend(&KeyEvent::new(
            KeyCode::Char('z'),
            KeyModifiers::CONTROL
        )));
        assert!(!is_suspend(&ch('z')));
        assert!(!is_suspend(&KeyEvent::new(
            KeyCode::Char('c'),
            KeyModifiers::CONTROL
        )));
    }

    #[test]
    fn ctrl_c_quits_even_while_typing() {
        let mut keys = Keys::default();
        keys.feed(ch(':'));
        keys.feed(ch('x'));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(cmd(&mut keys, ctrl_c), Command::Quit);
        assert_eq!(keys.mode, Mode::Normal);
    }
}
