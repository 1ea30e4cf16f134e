//! The command layer: one module per command, the only code that knows both the command line
//! ([`crate::cli`]) and lessons ([`crate::lesson`]). Each command builds its [`Plan`] (the one
//! place choices are resolved and refused) and carries it out; [`common`] holds what several
//! commands share.

mod bugs;
mod common;
mod diff;
pub mod dry;
mod export;
mod lesson;
mod lessons;
mod presets;
mod run;
mod shapes;
mod welcome;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::error::UsageError;
use crate::plan::Environment;

/// Runs the parsed command line in this process's environment.
pub fn dispatch(cli: Cli) -> Result<()> {
    let env = Environment::probe();
    if let Some(n) = cli.threads {
        crate::numeric::set_threads(n)
            .map_err(|e| UsageError(format!("--threads {n}: the thread pool cannot start: {e}")))?;
    }
    match cli.command {
        Some(Command::Run(args)) => run::run(&args, &env),
        Some(Command::Export(args)) => export::run(&args, &env),
        Some(Command::Shapes(args)) => shapes::run(&args, &env),
        Some(Command::Presets(args)) => presets::run(&args),
        Some(Command::Lesson(args)) => lesson::run(&args, &env),
        Some(Command::Lessons(args)) => lessons::run(&args),
        Some(Command::Bugs(args)) => bugs::run(&args),
        Some(Command::Diff(args)) => diff::run(&args, &env),
        None => welcome::run(&env),
    }
}
