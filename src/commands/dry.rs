//! A command line resolved without being carried out: parsed, planned and checked against the
//! memory guard, but no trace computed, nothing drawn and nothing written. The fuzz targets and
//! the bad-input tests drive every argument path through [`resolve_args`] in-process, so a
//! panic anywhere between argv and the guard shows up as a crash, not as a slow subprocess.
//!
//! The only file read is a lesson file named on the command line (`lesson FILE`,
//! `lessons check FILE…`), through the same bounded reader the commands use; `export -o` is
//! not checked, as that looks at the file system. `shapes` renders its table into
//! [`std::io::sink`], since its whole work is arithmetic on sizes.

use std::cell::RefCell;
use std::ffi::OsString;
use std::io;

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches};

use super::{common, lessons, shapes};
use crate::cli::{Cli, Command, LessonsCommand};
use crate::error::UsageError;
use crate::lesson::{self, find_bundled, unknown_lesson};
use crate::plan::{self, Environment};
use crate::text::printable;

/// Parses `argv` (the program name first, as `std::env::args_os` gives it) and resolves it as
/// far as the memory guard, in a fixed environment: no terminal, no colour variables.
///
/// `Ok` for a command line the binary would go on to carry out (and for `--help` and
/// `--version`); otherwise the error the binary would report, its message already safe to
/// print.
pub fn resolve_args(argv: &[OsString]) -> Result<()> {
    resolve_args_in(argv, &Environment::default())
}

/// [`resolve_args`] in a given environment (terminals, `COLUMNS`, colour variables).
pub fn resolve_args_in(argv: &[OsString], env: &Environment) -> Result<()> {
    // Building clap's command costs more than parsing with it: build it once per thread.
    thread_local! {
        static COMMAND: RefCell<clap::Command> = RefCell::new(Cli::command());
    }
    let parsed = COMMAND
        .with_borrow_mut(|cmd| cmd.try_get_matches_from_mut(argv))
        .and_then(|matches| Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        // Help and version are printed, not refused.
        Err(e) if !e.use_stderr() => return Ok(()),
        Err(e) => return Err(UsageError(clap_message(&e)).into()),
    };
    // Each arm builds the request the command's own module builds, then stops where the
    // command would start computing or printing.
    match cli.command {
        Some(Command::Run(args)) => {
            common::memory_guard(&plan::build(&super::run::request(&args), None, env)?)
        }
        Some(Command::Export(args)) => {
            common::memory_guard(&plan::build(&super::export::request(&args), None, env)?)
        }
        Some(Command::Shapes(args)) => shapes::write(&args, env, &mut io::sink()),
        Some(Command::Lesson(args)) => {
            let lesson = lesson::load(&args.name)?;
            let request = super::lesson::request(&args);
            common::memory_guard(&plan::build(&request, Some(&lesson), env)?)
        }
        Some(Command::Lessons(args)) => match &args.command {
            Some(LessonsCommand::Check { files }) => lessons::check(&mut io::sink(), files),
            Some(LessonsCommand::Show { name }) => find_bundled(name)
                .map(|_| ())
                .ok_or_else(|| unknown_lesson(name, false).into()),
            None => Ok(()),
        },
        // The presets table, the slip list and the welcome take no values to check; diff parses
        // its second run's flags itself, when it runs.
        Some(Command::Presets(_) | Command::Bugs(_) | Command::Diff(_)) | None => Ok(()),
    }
}

/// clap's message for a refused command line, without styling, with any control character
/// from an echoed argument made visible: what the binary prints for it.
pub fn clap_message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    printable(text.trim_end()).into_owned()
}
