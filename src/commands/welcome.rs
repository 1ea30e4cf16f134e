//! `attnstep` with no arguments: the welcome and the course; at a terminal, Enter starts the
//! first lesson not yet done, or the learner types a lesson's number or name. The choice is
//! taken by the lesson command's [`take`] with a plan built here, not by re-parsing a command
//! line.
//!
//! [`take`]: super::lesson::take

use std::io::Write;

use anyhow::Result;

use super::common;
use crate::error;
use crate::lesson::progress::Store;
use crate::lesson::{self, BUNDLED};
use crate::plan::{self, Environment, Request};

const WELCOME: &str = "\
attnstep: learn how attention works by watching it run.

Every lesson runs the attention layer of MiniMind, a small open language model, on a few
tokens, and stops at each line of its forward pass to show you the tensors: their shapes,
with every dimension named, and the numbers that matter. Lesson 1 assumes only that you
know what a matrix product is. After the course, two lessons run a small MiniMind trained
on simple sentences, to show what its heads have learnt to look for.";

/// The lesson (1-based) a returning learner most likely wants: the first one not done
/// (finished in the stepper or read whole); lesson 1 again once all are.
fn next_lesson(store: &Store) -> usize {
    BUNDLED
        .iter()
        .position(|b| !store.get(b.name).is_some_and(|e| e.done()))
        .map_or(1, |i| i + 1)
}

pub fn run(env: &Environment) -> Result<()> {
    let interactive = env.stdin_terminal && env.stdout_terminal;
    let store = super::lessons::saved_progress();
    let next = next_lesson(&store);
    let choice = {
        let mut out = error::stdout();
        writeln!(out, "{WELCOME}\n")?;
        super::lessons::list(&mut out, &store, false)?;
        if !interactive {
            writeln!(
                out,
                "\nStart the course with `attnstep lesson {next}`.\n\
                 `attnstep lessons` says more about each lesson; `attnstep --help` lists the rest."
            )?;
            out.flush()?;
            return Ok(());
        }
        write!(
            out,
            "\nPress Enter to start lesson {next} ({}), type a lesson number or name, \
             or q to quit: ",
            BUNDLED[next - 1].name
        )?;
        out.flush()?;
        common::read_answer()?.trim().to_owned()
    };
    if matches!(choice.as_str(), "q" | "quit" | "exit") {
        return Ok(());
    }
    let name = if choice.is_empty() {
        next.to_string()
    } else {
        choice
    };
    let lesson = lesson::load(&name)?;
    let plan = plan::build(&Request::default(), Some(&lesson), env)?;
    super::lesson::take(&plan, &lesson, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::progress::Entry;

    #[test]
    fn welcome_offers_the_first_lesson_not_done() {
        let mut store = Store::default();
        assert_eq!(next_lesson(&store), 1);
        let done = Entry {
            finished: true,
            ..Entry::default()
        };
        store.set("tour", done.clone());
        store.set("scores", done.clone());
        assert_eq!(next_lesson(&store), 2);
        store.set("heads", Entry::default());
        assert_eq!(next_lesson(&store), 2, "started but unfinished");
        store.mark_read("heads");
        assert_eq!(next_lesson(&store), 4, "read with --all counts");
        for b in BUNDLED {
            store.set(b.name, done.clone());
        }
        assert_eq!(next_lesson(&store), 1, "all done: start again");
    }
}
