//! `attnstep export`: the whole trace as `attnstep-trace/1` JSON, npz or safetensors, to stdout
//! or to a file that is replaced atomically (a full disk leaves the old file, never a truncated
//! one).

use std::io::Write;

use anyhow::{Context, Result};

use super::common;
use crate::cli::ExportArgs;
use crate::error;
use crate::export::Format;
use crate::files::{check_writable_target, replace_atomically};
use crate::plan::{self, Environment, Request};
use crate::text::printable_line;

/// What `export`'s flags ask of the plan (also what the dry run checks).
pub(super) fn request(args: &ExportArgs) -> Request {
    Request {
        all: true,
        bug: args.bug.bug.clone(),
        ..common::request(&args.config, None, None, Some(args.guard.max_memory))
    }
}

pub fn run(args: &ExportArgs, env: &Environment) -> Result<()> {
    let plan = plan::build(&request(args), None, env)?;
    let to_stdout = args.output.as_os_str() == "-";
    if !to_stdout {
        // A bad path is the user's mistake: say so before computing anything.
        check_writable_target(&args.output, "-o")?;
    }
    let trace = common::numeric_trace(&plan)?;
    let format: Format = args.format.into();
    // JSON ends with a newline, like any text; the binary formats end where their data does.
    let newline = format == Format::Json;
    if to_stdout {
        let mut out = error::stdout();
        crate::export::write(&trace, format, &mut out)?;
        if newline {
            writeln!(out)?;
        }
        out.flush()?;
        return Ok(());
    }
    let path = &args.output;
    replace_atomically(path, |w| {
        crate::export::write(&trace, format, &mut *w).map_err(std::io::Error::other)?;
        if newline {
            writeln!(w)?;
        }
        Ok(())
    })
    .with_context(|| format!("writing {}", printable_line(&path.to_string_lossy())))
}
