//! What the program runs on: whether standard input and output are terminals, the window's
//! size, `COLUMNS`, and whether `TERM` can draw a full screen.
//!
//! [`current`] probes the process once and keeps the answer; everything that decides something
//! from it (the colour rule, the layout width, how the stepper walks) takes a [`Terminal`], so
//! tests build one with chosen values instead of needing a real terminal. Every width and height
//! read here is clamped ([`crate::text::clamp_width`], [`clamp_height`]): a `COLUMNS` of
//! 18446744073709551615 must not make the renderer allocate lines that long.

use std::io::IsTerminal;
use std::sync::OnceLock;

use crate::text::clamp_width;

/// Narrowest width the renderer lays out for when printing; anything smaller is treated as this.
pub const MIN_LAYOUT_WIDTH: usize = 40;
/// Width used when standard output is not a terminal and `COLUMNS` does not say otherwise.
pub const FALLBACK_WIDTH: usize = 100;
/// Height assumed when the terminal does not report one.
pub const FALLBACK_HEIGHT: usize = 24;
/// Fewest rows a full-screen frame is drawn for (a line of content and the status line).
pub const MIN_HEIGHT: usize = 3;
/// Most rows a full-screen frame is drawn for: taller than any real window.
pub const MAX_HEIGHT: usize = 1000;

/// Clamps a window height (from the terminal or the environment) to what a frame is drawn for.
pub fn clamp_height(rows: usize) -> usize {
    rows.clamp(MIN_HEIGHT, MAX_HEIGHT)
}

/// The facts about the terminal that decide how attnstep draws.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Terminal {
    /// Standard input is a terminal (someone can press keys).
    pub stdin_tty: bool,
    /// Standard output is a terminal (someone sees what is drawn).
    pub stdout_tty: bool,
    /// The window's (columns, rows) as the terminal reports them, unclamped.
    pub size: Option<(u16, u16)>,
    /// `COLUMNS` as set in the environment.
    pub columns_env: Option<String>,
    /// `TERM` as set in the environment; `None` when unset.
    pub term: Option<String>,
}

impl Terminal {
    /// Reads this process's standard streams, window size and environment.
    pub fn probe() -> Terminal {
        let stdout_tty = std::io::stdout().is_terminal();
        Terminal {
            stdin_tty: std::io::stdin().is_terminal(),
            stdout_tty,
            size: if stdout_tty {
                crossterm::terminal::size().ok()
            } else {
                None
            },
            columns_env: std::env::var("COLUMNS").ok(),
            term: std::env::var("TERM").ok(),
        }
    }

    /// Both standard input and output are terminals: a person is there to press keys and
    /// watch. (Lessons ask this before offering to resume.)
    pub fn interactive(&self) -> bool {
        self.stdin_tty && self.stdout_tty
    }

    /// `TERM` is unset, empty or `dumb`: the terminal cannot move the cursor or switch to the
    /// alternate screen, so nothing is drawn in place.
    pub fn is_dumb(&self) -> bool {
        self.term
            .as_deref()
            .is_none_or(|t| t.is_empty() || t == "dumb")
    }

    /// A full-screen stepper can run: interactive, on a terminal that can draw in place.
    pub fn full_screen(&self) -> bool {
        self.interactive() && !self.is_dumb()
    }

    /// The width printed views are laid out for: `COLUMNS` if it holds a positive number, else
    /// the window's width when standard output is a terminal, else [`FALLBACK_WIDTH`]; clamped
    /// to [`MIN_LAYOUT_WIDTH`]..=[`crate::text::MAX_WIDTH`].
    pub fn layout_width(&self) -> usize {
        let from_env = self
            .columns_env
            .as_deref()
            .and_then(|c| c.trim().parse::<u128>().ok())
            .map(|w| usize::try_from(w).unwrap_or(usize::MAX));
        let w = from_env
            .or_else(|| {
                self.size
                    .filter(|_| self.stdout_tty)
                    .map(|(c, _)| usize::from(c))
            })
            .filter(|&w| w > 0)
            .unwrap_or(FALLBACK_WIDTH);
        clamp_width(w).max(MIN_LAYOUT_WIDTH)
    }
}

/// A window of `cols`×`rows` as a frame is drawn for it: a zero from a terminal that does not
/// know its size counts as unknown, and both are clamped.
pub fn window_size(cols: usize, rows: usize) -> (usize, usize) {
    let cols = if cols == 0 { FALLBACK_WIDTH } else { cols };
    let rows = if rows == 0 { FALLBACK_HEIGHT } else { rows };
    (clamp_width(cols), clamp_height(rows))
}

static PROBED: OnceLock<Terminal> = OnceLock::new();

/// This process's terminal, probed on the first call. The window size in it is the one at
/// that moment; the stepper follows resizes itself.
pub fn current() -> &'static Terminal {
    PROBED.get_or_init(Terminal::probe)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::MAX_WIDTH;

    fn tty(size: Option<(u16, u16)>) -> Terminal {
        Terminal {
            stdin_tty: true,
            stdout_tty: true,
            size,
            columns_env: None,
            term: Some("xterm-256color".into()),
        }
    }

    #[test]
    fn width_prefers_columns_then_the_window_then_the_fallback() {
        let cols = |c: &str, t: Terminal| Terminal {
            columns_env: Some(c.into()),
            ..t
        };
        assert_eq!(cols("72", tty(Some((200, 50)))).layout_width(), 72);
        assert_eq!(tty(Some((132, 50))).layout_width(), 132);
        let piped = Terminal {
            stdout_tty: false,
            ..tty(Some((132, 50)))
        };
        assert_eq!(piped.layout_width(), FALLBACK_WIDTH);
        assert_eq!(cols("junk", Terminal::default()).layout_width(), 100);
        assert_eq!(cols("0", tty(None)).layout_width(), FALLBACK_WIDTH);
        assert_eq!(cols("10", Terminal::default()).layout_width(), 40);
        assert_eq!(tty(None).layout_width(), FALLBACK_WIDTH);
    }

    #[test]
    fn absurd_widths_and_heights_are_clamped() {
        let huge = |c: &str| Terminal {
            columns_env: Some(c.into()),
            ..Terminal::default()
        };
        // u64::MAX, and a number past u128 is not a number at all.
        assert_eq!(huge("18446744073709551615").layout_width(), MAX_WIDTH);
        assert_eq!(huge("100000000000").layout_width(), MAX_WIDTH);
        assert_eq!(
            huge("999999999999999999999999999999999999999999").layout_width(),
            FALLBACK_WIDTH
        );
        assert_eq!(window_size(65535, 65535), (MAX_WIDTH, MAX_HEIGHT));
        assert_eq!(window_size(0, 0), (FALLBACK_WIDTH, FALLBACK_HEIGHT));
        assert_eq!(window_size(5, 1), (20, MIN_HEIGHT));
    }

    #[test]
    fn a_dumb_or_missing_term_is_not_full_screen() {
        assert!(tty(None).full_screen());
        for term in [None, Some(""), Some("dumb")] {
            let t = Terminal {
                term: term.map(String::from),
                ..tty(None)
            };
            assert!(t.is_dumb(), "{term:?}");
            assert!(t.interactive() && !t.full_screen(), "{term:?}");
        }
        let piped_in = Terminal {
            stdin_tty: false,
            ..tty(None)
        };
        assert!(!piped_in.interactive() && !piped_in.full_screen());
    }
}
