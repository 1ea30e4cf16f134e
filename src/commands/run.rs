//! `attnstep run`: the forward pass, stepped through or printed.

use std::io::{self, Write};

use anyhow::Result;

use crate::cli::RunArgs;
use crate::error;
use crate::files::LineLimit;
use crate::plan::{self, Environment, Mode, Request};
use crate::presentation::Presentation;
use crate::render;
use crate::stepper::{self, Options};

/// The longest line read from standard input in line mode.
pub const MAX_INPUT_LINE: usize = 4096;

pub fn run(args: &RunArgs, env: &Environment) -> Result<()> {
    let request = Request {
        config: &args.config,
        view: Some(&args.view),
        select: Some(&args.select),
        max_memory: Some(args.guard.max_memory),
        all: args.all,
        quiz: args.quiz,
    };
    let plan = plan::build(&request, None, env)?;
    let trace = super::numeric_trace(&plan)?;
    let mut out = error::stdout();
    let pres = Presentation::default();
    match plan.mode {
        Mode::Print => render::print_trace(&mut out, &trace, &plan.selection, &plan.view)?,
        Mode::Step { quiz } => {
            let opts = Options { quiz, start: None };
            stepper::present(&mut out, &trace, &pres, &plan.view, &opts)?;
        }
        Mode::Lines { quiz } => {
            let opts = Options { quiz, start: None };
            stepper::present_lines(
                &mut stdin_lines(),
                &mut out,
                &trace,
                &pres,
                &plan.view,
                &opts,
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Standard input for line mode: lines of bounded length, errors that name the stream.
pub fn stdin_lines() -> LineLimit<io::StdinLock<'static>> {
    LineLimit::new(io::stdin().lock(), MAX_INPUT_LINE, "standard input")
}
