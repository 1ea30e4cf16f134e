//! Line mode: the stepper driven by one typed command per line, for when standard input is not
//! a terminal (a script, a test, a screen reader setup) or the terminal cannot draw in place
//! (`TERM=dumb` or unset). Each answer is printed below the last.
//!
//! The commands mirror the keys: `n` (or an empty line) next, `b` back, `g`/`G` first/last,
//! `g 5` or `5` stage 5 of this step (numbered as the banner numbers it), `:softmax` (or
//! `softmax`) a stage by id, `step 2`, `head 3` (0-based, as in the tables), `]`/`[`
//! next/previous head, `batch 1` (0-based), `B`, `v` next variant, `variant gqa`, `?` help,
//! `q` quit. With `--quiz`, the lines that follow a question are its answers (`h` for a hint,
//! `skip` to see the answer).
//!
//! When standard input ends before the first command (`< /dev/null`, a closed stdin in CI),
//! nobody is there to step, so the rest of the walk is printed as if `n` had been sent to the
//! end (without the quiz, which needs answers); an end of input later stops quietly where it is.

use std::io::{BufRead, Write};

use anyhow::Result;

use super::nav::Command;
use super::screen::Feedback;
use super::typed::{HELP, parse_command};
use super::walk::Walk;

/// Runs the walk on typed lines until `q` or the end of input.
pub fn run(input: &mut dyn BufRead, out: &mut dyn Write, walk: &mut Walk) -> Result<()> {
    walk.line_mode = true;
    if let Some(title) = walk.title() {
        writeln!(out, "{title}\n")?;
    }
    show(out, walk)?;
    let mut commands = 0usize;
    let mut buf = String::new();
    loop {
        // Whoever reads the answers may be waiting for them before typing the next line.
        out.flush()?;
        buf.clear();
        if input.read_line(&mut buf)? == 0 {
            if commands == 0 && walk.score().is_none() {
                // Nobody is there to step: print the rest of the walk. (Nobody is there to
                // answer a quiz either: that stops here.)
                while walk.apply(&Command::Next).is_ok() {
                    writeln!(out)?;
                    show(out, walk)?;
                }
            }
            break;
        }
        commands += 1;
        let text = buf.trim_end_matches(['\n', '\r']);
        if walk.asking() {
            // A bug hunt's answer can change the whole screen (the reveal, the next question).
            let hunt = walk.hunt_state();
            let fb = walk.answer(text);
            if fb == Feedback::Quit {
                break;
            }
            let msg = fb.message();
            if !msg.is_empty() {
                writeln!(out, "{msg}")?;
            }
            if walk.asking() && walk.hunt_state() == hunt {
                writeln!(out, "{}", walk.prompt_line(true))?;
            } else {
                writeln!(out)?;
                show(out, walk)?;
            }
            continue;
        }
        match parse_command(text) {
            Ok(Command::Quit) => break,
            Ok(Command::ToggleHelp) => {
                for (keys, what) in HELP {
                    writeln!(out, "  {keys:<24} {what}")?;
                }
            }
            Ok(cmd) => match walk.apply(&cmd) {
                Ok(()) => {
                    writeln!(out)?;
                    show(out, walk)?;
                }
                Err(why) => writeln!(out, "{why}")?,
            },
            Err(why) => writeln!(out, "{why}")?,
        }
    }
    walk.finish_line_mode(out)?;
    out.flush()?;
    Ok(())
}

/// Prints the current screen (or question) and its status line.
fn show(out: &mut dyn Write, walk: &Walk) -> Result<()> {
    let view = walk.view();
    for line in walk.body(&view) {
        writeln!(out, "{line}")?;
    }
    if walk.asking() {
        writeln!(out, "{}", walk.prompt_line(true))?;
    } else {
        writeln!(out, "[{}]", walk.status(usize::MAX))?;
    }
    out.flush()?;
    Ok(())
}
