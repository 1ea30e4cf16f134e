//! The `--color` decision and the layout width, made once per run.
//!
//! [`decide`] works on values passed in (is stdout a terminal, an environment lookup), so the
//! rules are tested without a terminal; [`decide_from_env`] and [`width_from_env`] ask
//! [`crate::terminal`], which probes the process once and clamps every width it reads.

/// The user's `--color` choice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal, NO_COLOR is unset or empty and TERM is not `dumb`
    /// (CLICOLOR_FORCE or FORCE_COLOR force it on).
    #[default]
    Auto,
    /// Always emit ANSI colour.
    Always,
    /// Never emit ANSI colour.
    Never,
}

/// Whether an environment variable is set to something that means "yes" (non-empty, not `0`).
fn is_on(env: &dyn Fn(&str) -> Option<String>, key: &str) -> bool {
    env(key).is_some_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// Decides whether to colour: the one place the rules live.
///
/// `auto` colours when stdout is a terminal, `NO_COLOR` is unset or empty and `TERM` is not
/// `dumb`; `CLICOLOR_FORCE` or `FORCE_COLOR` (set, not `0`) force colour on regardless.
pub fn decide(choice: ColorChoice, stdout_tty: bool, env: &dyn Fn(&str) -> Option<String>) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            if is_on(env, "CLICOLOR_FORCE") || is_on(env, "FORCE_COLOR") {
                return true;
            }
            if env("NO_COLOR").is_some_and(|v| !v.is_empty()) {
                return false;
            }
            if env("TERM").is_some_and(|t| t == "dumb") {
                return false;
            }
            stdout_tty
        }
    }
}

/// [`decide`] for this process: its stdout and its environment.
pub fn decide_from_env(choice: ColorChoice) -> bool {
    decide(choice, crate::terminal::current().stdout_tty, &|k| {
        std::env::var(k).ok()
    })
}

/// The width printed views are laid out for in this process (see
/// [`crate::terminal::Terminal::layout_width`]): never below 40 columns nor above
/// [`crate::text::MAX_WIDTH`], whatever `COLUMNS` says.
pub fn width_from_env() -> usize {
    crate::terminal::current().layout_width()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn always_and_never_ignore_the_environment() {
        let e = env(&[("NO_COLOR", "1"), ("TERM", "dumb")]);
        assert!(decide(ColorChoice::Always, false, &e));
        let f = env(&[("CLICOLOR_FORCE", "1")]);
        assert!(!decide(ColorChoice::Never, true, &f));
    }

    #[test]
    fn auto_follows_the_terminal_and_no_color() {
        assert!(decide(ColorChoice::Auto, true, &env(&[])));
        assert!(!decide(ColorChoice::Auto, false, &env(&[])));
        assert!(!decide(ColorChoice::Auto, true, &env(&[("NO_COLOR", "1")])));
        // An empty NO_COLOR does not count (no-color.org).
        assert!(decide(ColorChoice::Auto, true, &env(&[("NO_COLOR", "")])));
        assert!(!decide(ColorChoice::Auto, true, &env(&[("TERM", "dumb")])));
        assert!(decide(ColorChoice::Auto, true, &env(&[("TERM", "xterm")])));
    }

    #[test]
    fn force_variables_win_in_auto() {
        assert!(decide(
            ColorChoice::Auto,
            false,
            &env(&[("CLICOLOR_FORCE", "1")])
        ));
        assert!(decide(
            ColorChoice::Auto,
            false,
            &env(&[("FORCE_COLOR", "3")])
        ));
        assert!(!decide(
            ColorChoice::Auto,
            false,
            &env(&[("FORCE_COLOR", "0")])
        ));
        assert!(decide(
            ColorChoice::Auto,
            false,
            &env(&[("FORCE_COLOR", "1"), ("NO_COLOR", "1")])
        ));
    }
}
