//! The `attnstep` binary: parse, dispatch, and turn errors into messages and exit statuses.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use attnstep::cli::Cli;
use attnstep::commands::dry::clap_message;
use attnstep::error::exit_status;
use attnstep::text::printable;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e),
    };
    match attnstep::commands::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let status = exit_status(&err);
            if status != 0 {
                // Messages quote file names and lesson text: nothing in them may reach the
                // terminal as an escape sequence.
                eprintln!("attnstep: error: {}", printable(&format!("{err:#}")));
            }
            ExitCode::from(status)
        }
    }
}

/// Prints clap's help, version or usage error. clap's own `exit` ignores a failed write, so
/// `attnstep --help >/dev/full` would succeed printing nothing: here it is an error.
fn clap_exit(e: &clap::Error) -> ExitCode {
    let control = std::env::args_os().any(|a| a.to_string_lossy().chars().any(char::is_control));
    let printed = if e.use_stderr() && control {
        // clap echoes arguments raw when it colours its message: one holding a control
        // character is shown plain, with the character made visible.
        writeln!(io::stderr(), "{}", clap_message(e))
    } else {
        e.print()
    }
    .and_then(|()| io::stdout().flush());
    match printed {
        Ok(()) => ExitCode::from(e.exit_code().clamp(0, 255) as u8),
        Err(io) => {
            let stream = if e.use_stderr() { "stderr" } else { "stdout" };
            eprintln!("attnstep: error: writing to {stream}: {io}");
            ExitCode::FAILURE
        }
    }
}
